#!/usr/bin/env bash
# Records one block of real benchmark traffic in network namespaces (kernel TCP/IP, swaks, aiosmtpd, nsd,
# tcpdump), the way captures/record.sh records the test captures. compare.sh multiplies the block.
#
#   sudo bash benchmarks/record-traffic.sh bulk-mail OUT.pcap [--sessions N]
#   sudo bash benchmarks/record-traffic.sh dns OUT.pcap [--queries N]
#
# bulk-mail: N SMTP sessions (default 60), four clients at a time, each one mail with one attachment of
#   2-400 kB (size = 2 kB + 398 kB * u^2 for a seeded u, so small ones are more frequent; content seeded random
#   bytes), swaks into aiosmtpd (Sink). The kernels' TCP is real; MTU 1500, offloads off (wire-sized frames).
# dns: N queries (default 3000) from dig -f to nsd, through a router whose client-side link has MTU 1280:
#   large TXT and SPF answers (1.5-4 kB) over UDP with a 4096-byte EDNS buffer leave nsd in 1500-byte
#   fragments and the router fragments them again; some queries over TCP (+tcp), some over IPv6 with a
#   1232-byte EDNS buffer (truncated, then retried over TCP by dig), and small A/MX/PTR queries between.
#
# Topology: client --veth-- router --veth-- server, documentation addresses only; captured at the client.
# Every client run is bounded by timeout; namespaces carry this script's PID and are deleted on exit, and
# every process started here is stopped by PID. Deterministic in what is sent (seeded sizes, fixed query
# list); timing, ports and interleaving come from the kernels.
set -euo pipefail

kind=${1:-}; out=${2:-}
[ -n "$kind" ] && [ -n "$out" ] || { sed -n '2,19p' "$0"; exit 2; }
shift 2
sessions=60; queries=3000
while [ $# -gt 0 ]; do
  case "$1" in
    --sessions) sessions=$2; shift 2 ;;
    --queries) queries=$2; shift 2 ;;
    *) echo "record-traffic.sh: unknown option $1" >&2; exit 2 ;;
  esac
done
[ "$(id -u)" = 0 ] || { echo "record-traffic.sh: needs root (network namespaces, tcpdump)" >&2; exit 2; }

PY=/usr/bin/python3
ns_cli=pb-$$-cli; ns_rtr=pb-$$-rtr; ns_srv=pb-$$-srv
if_cli=pbc$$; if_rc=pbrc$$; if_rs=pbrs$$; if_srv=pbs$$
CLI4=198.51.100.10 RTR4_C=198.51.100.1 RTR4_S=203.0.113.1 SRV4=203.0.113.25 DNS4=203.0.113.53
CLI6=2001:db8:1::10 RTR6_C=2001:db8:1::1 RTR6_S=2001:db8:2::1 SRV6=2001:db8:2::25 DNS6=2001:db8:2::53
work=$(mktemp -d /tmp/pathprobe-record.XXXXXX)
pids=()

log() { printf '[record-traffic %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
nsx() { local ns=$1; shift; ip netns exec "$ns" "$@"; }
stop_pid() { # PID [SIGNAL]
  kill -0 "$1" 2>/dev/null || return 0
  kill -s "${2:-TERM}" "$1" 2>/dev/null || true
  for _ in $(seq 1 50); do kill -0 "$1" 2>/dev/null || break; sleep 0.1; done
  kill -s KILL "$1" 2>/dev/null || true
  wait "$1" 2>/dev/null || true
}
cleanup() {
  local pid ns
  for pid in "${pids[@]}"; do stop_pid "$pid"; done
  for ns in "$ns_cli" "$ns_rtr" "$ns_srv"; do
    for pid in $(ip netns pids "$ns" 2>/dev/null); do kill -KILL "$pid" 2>/dev/null || true; done
    ip netns del "$ns" 2>/dev/null || true
  done
  rm -rf "$work"
}
trap cleanup EXIT

# client MTU, router client-side MTU, router server-side MTU, server MTU
topology() {
  local p ns ifc
  for ns in "$ns_cli" "$ns_rtr" "$ns_srv"; do
    ip netns add "$ns"
    nsx "$ns" ip link set lo up
    nsx "$ns" sysctl -qw net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0 \
        net.ipv6.conf.all.router_solicitations=0 net.ipv6.conf.default.router_solicitations=0
  done
  ip -n "$ns_cli" link add "$if_cli" type veth peer name "$if_rc" netns "$ns_rtr"
  ip -n "$ns_rtr" link add "$if_rs" type veth peer name "$if_srv" netns "$ns_srv"
  ip -n "$ns_cli" link set "$if_cli" mtu "$1"; ip -n "$ns_rtr" link set "$if_rc" mtu "$2"
  ip -n "$ns_rtr" link set "$if_rs" mtu "$3"; ip -n "$ns_srv" link set "$if_srv" mtu "$4"
  for p in "$ns_cli:$if_cli" "$ns_rtr:$if_rc" "$ns_rtr:$if_rs" "$ns_srv:$if_srv"; do
    ns=${p%%:*}; ifc=${p#*:}
    nsx "$ns" ethtool -K "$ifc" tso off gso off gro off tx off >/dev/null 2>&1 || true
    ip -n "$ns" link set "$ifc" up
  done
  ip -n "$ns_cli" addr add $CLI4/24 dev "$if_cli"; ip -n "$ns_cli" addr add $CLI6/64 dev "$if_cli" nodad
  ip -n "$ns_rtr" addr add $RTR4_C/24 dev "$if_rc"; ip -n "$ns_rtr" addr add $RTR6_C/64 dev "$if_rc" nodad
  ip -n "$ns_rtr" addr add $RTR4_S/24 dev "$if_rs"; ip -n "$ns_rtr" addr add $RTR6_S/64 dev "$if_rs" nodad
  ip -n "$ns_srv" addr add $SRV4/24 dev "$if_srv"; ip -n "$ns_srv" addr add $SRV6/64 dev "$if_srv" nodad
  ip -n "$ns_srv" addr add $DNS4/24 dev "$if_srv"; ip -n "$ns_srv" addr add $DNS6/64 dev "$if_srv" nodad
  nsx "$ns_rtr" sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1
  ip -n "$ns_cli" route add default via $RTR4_C; ip -n "$ns_cli" -6 route add default via $RTR6_C
  ip -n "$ns_srv" route add default via $RTR4_S; ip -n "$ns_srv" -6 route add default via $RTR6_S
  # neighbour caches warm before the capture: a connect to a closed port answers with RST
  nsx "$ns_cli" timeout 10 $PY -c '
import socket, sys, time
for a in sys.argv[1:]:
    for _ in range(20):
        s = socket.socket(socket.AF_INET6 if ":" in a else socket.AF_INET); s.settimeout(1)
        try: s.connect((a, 9))
        except ConnectionRefusedError: break
        except OSError: time.sleep(0.2)
' $SRV4 $SRV6
}

start_capture() { # FILE
  nsx "$ns_cli" tcpdump -i "$if_cli" -s 0 -U --immediate-mode -n -Z root -w "$1" 2>"$work/tcpdump.log" &
  pids+=($!); cap_pid=$!
  for _ in $(seq 1 100); do grep -q "listening on" "$work/tcpdump.log" && break; sleep 0.1; done
  grep -q "listening on" "$work/tcpdump.log" || { log "tcpdump did not start: $(cat "$work/tcpdump.log")"; exit 1; }
  sleep 0.2
}
stop_capture() { sleep 1; stop_pid "$cap_pid" INT; }

record_bulk_mail() {
  topology 1500 1500 1500 1500
  $PY - "$work" "$sessions" <<'EOF'
import random, sys
work, n = sys.argv[1], int(sys.argv[2])
rng = random.Random(16)
with open(f"{work}/sizes", "w") as sizes:
    for i in range(n):
        size = 2000 + int(398000 * rng.random() ** 2)
        open(f"{work}/att-{i}.bin", "wb").write(random.Random(1000 + i).randbytes(size))
        sizes.write(f"{i} {size}\n")
EOF
  nsx "$ns_srv" timeout 900 $PY -m aiosmtpd -n -c aiosmtpd.handlers.Sink -l "$SRV4:25" >"$work/aiosmtpd.log" 2>&1 &
  pids+=($!)
  for _ in $(seq 1 100); do nsx "$ns_srv" ss -Hltn "sport = :25" | grep -q . && break; sleep 0.1; done
  nsx "$ns_srv" ss -Hltn "sport = :25" | grep -q . || { log "aiosmtpd did not start: $(cat "$work/aiosmtpd.log")"; exit 1; }
  start_capture "$work/out.pcap"
  local lane failed=0
  for lane in 0 1 2 3; do
    (
      i=$lane
      while [ "$i" -lt "$sessions" ]; do
        nsx "$ns_cli" timeout -k 5 60 swaks --server $SRV4 --port 25 --helo client$lane.example.net \
          --from "sender$i@example.net" --to "rcpt$i@example.test" --header "Subject: bulk $i" \
          --attach-type application/octet-stream --attach-name "part$i.bin" --attach @"$work/att-$i.bin" \
          --timeout 30s --hide-all >/dev/null 2>&1 || echo "$i" >> "$work/failed"
        i=$((i + 4))
      done
    ) &
    pids+=($!)
  done
  for lane in "${pids[@]: -4}"; do wait "$lane" || true; done
  stop_capture
  [ -f "$work/failed" ] && failed=$(wc -l < "$work/failed")
  log "bulk-mail: $sessions sessions, $failed failed (swaks exit status)"
  [ "$failed" -le $((sessions / 20)) ] || { log "too many failed sessions"; exit 1; }
}

write_nsd() { # DIR
  local d=$1 i
  mkdir -p "$d"
  cat >"$d/nsd.conf" <<EOF
server:
    ip-address: $DNS4
    ip-address: $DNS6
    port: 53
    server-count: 1
    username: ""
    chroot: ""
    zonesdir: "$d"
    zonelistfile: "$d/zone.list"
    database: ""
    xfrdfile: "$d/xfrd.state"
    xfrdir: "$d"
    pidfile: "$d/nsd.pid"
    logfile: "$d/nsd.log"
    ipv4-edns-size: 4096
    ipv6-edns-size: 4096
    hide-version: yes
    verbosity: 0
remote-control:
    control-enable: no
zone:
    name: example.test
    zonefile: "$d/example.test.zone"
zone:
    name: 100.51.198.in-addr.arpa
    zonefile: "$d/ptr.zone"
EOF
  $PY - "$d" "$DNS4" "$SRV4" <<'EOF'
import random, sys
d, dns4, srv4 = sys.argv[1:]
rng = random.Random(53)
z = [f"$ORIGIN example.test.", "$TTL 3600",
     "@ IN SOA ns1.example.test. hostmaster.example.test. 2024010101 3600 900 604800 300",
     "@ IN NS ns1.example.test.", f"ns1 IN A {dns4}"]
for i in range(200):
    # big-N: TXT records of 1.5-4 kB in all (strings of 200 bytes)
    total = rng.randint(1500, 4000)
    for r in range((total + 599) // 600):
        parts = " ".join('"' + "".join(rng.choice("abcdefghijklmnopqrstuvwxyz0123456789") for _ in range(200)) + '"' for _ in range(3))
        z.append(f"big-{i} IN TXT {parts}")
    # spf-N: an SPF record with many ip4 mechanisms, split in 250-byte strings, plus other TXT at the name
    mech = " ".join(f"ip4:198.51.{rng.randint(0,255)}.{rng.randint(0,255)}/32" for _ in range(rng.randint(60, 160)))
    spf = "v=spf1 " + mech + " -all"
    chunks = " ".join('"' + spf[k:k + 250] + '"' for k in range(0, len(spf), 250))
    z.append(f"spf-{i} IN TXT {chunks}")
    z.append(f'spf-{i} IN TXT "google-site-verification={rng.getrandbits(128):032x}"')
    z.append(f"mx-{i} IN MX 10 mail-{i}.example.test.")
    z.append(f"mail-{i} IN A 203.0.113.{i % 250 + 1}")
open(f"{d}/example.test.zone", "w").write("\n".join(z) + "\n")
p = ["$ORIGIN 100.51.198.in-addr.arpa.", "$TTL 3600",
     "@ IN SOA ns1.example.test. hostmaster.example.test. 2024010101 3600 900 604800 300", "@ IN NS ns1.example.test."]
p += [f"{i} IN PTR host-{i}.example.net." for i in range(1, 255)]
open(f"{d}/ptr.zone", "w").write("\n".join(p) + "\n")
EOF
  nsd-checkconf "$d/nsd.conf"
}

record_dns() {
  topology 1500 1280 1500 1500
  write_nsd "$work/nsd"
  nsx "$ns_srv" timeout 900 nsd -d -c "$work/nsd/nsd.conf" >"$work/nsd.out" 2>&1 &
  pids+=($!)
  for _ in $(seq 1 100); do nsx "$ns_srv" ss -Hlun "sport = :53" | grep -q "$DNS6" && break; sleep 0.1; done
  nsx "$ns_srv" ss -Hlun "sport = :53" | grep -q . || { log "nsd did not start: $(cat "$work/nsd.out")"; exit 1; }
  # The query list: every 10 queries, 5 large UDP (TXT big / SPF), 1 large over TCP, 1 over IPv6 with a
  # 1232-byte buffer (truncated, retried over TCP), 3 small (A, MX, PTR).
  $PY - "$queries" "$DNS4" "$DNS6" >"$work/queries" <<'EOF'
import random, sys
n, d4, d6 = int(sys.argv[1]), sys.argv[2], sys.argv[3]
rng = random.Random(5353)
base = "+time=1 +tries=2 +nocookie +noall +comments"
for q in range(n):
    i = rng.randrange(200)
    k = q % 10
    if k < 3:   print(f"@{d4} {base} +notcp +bufsize=4096 TXT big-{i}.example.test")
    elif k < 5: print(f"@{d4} {base} +notcp +bufsize=4096 TXT spf-{i}.example.test")
    elif k == 5: print(f"@{d4} {base} +tcp TXT big-{i}.example.test")
    elif k == 6: print(f"@{d6} {base} +bufsize=1232 TXT spf-{i}.example.test")
    elif k == 7: print(f"@{d4} {base} +notcp A mail-{i}.example.test")
    elif k == 8: print(f"@{d4} {base} +notcp MX mx-{i}.example.test")
    else:       print(f"@{d4} {base} +notcp -x 198.51.100.{i % 254 + 1}")
EOF
  start_capture "$work/out.pcap"
  nsx "$ns_cli" timeout -k 5 600 dig -f "$work/queries" >"$work/dig.out" 2>&1 || true
  stop_capture
  local ok; ok=$(grep -c 'status: NOERROR' "$work/dig.out" || true)
  log "dns: $queries queries, $ok answered NOERROR"
  [ "$ok" -ge $((queries * 9 / 10)) ] || { log "too few answers"; tail -20 "$work/dig.out" >&2; exit 1; }
}

case "$kind" in
  bulk-mail) record_bulk_mail ;;
  dns) record_dns ;;
  *) echo "record-traffic.sh: unknown kind $kind (bulk-mail, dns)" >&2; exit 2 ;;
esac
mv "$work/out.pcap" "$out"
log "wrote $out ($(stat -c %s "$out") bytes)"
