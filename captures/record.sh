#!/usr/bin/env bash
# captures/record.sh -- record small, REAL packet captures for PathProbe's test corpus.
#
# Usage:  sudo bash captures/record.sh            # re-create all captures
#         sudo bash captures/record.sh NAME...    # only some (see --list)
#         bash captures/record.sh --list | --help
#
# Every capture is made inside throw-away network namespaces
# (client <-> L2 switch <-> router <-> server, documentation addresses only) that are
# created for it and deleted afterwards. Nothing leaves this machine and
# nothing from outside the namespaces ends up in a pcap.
#
# Environment knobs:
#   PP_SMTP_SERVER=postfix    SMTP server in the server namespace: postfix
#                             (default) or aiosmtpd; see start_smtp_server
#   PP_KEEP_TMP=1             keep the temporary work directory (logs, configs)
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
OUT_DIR=${PP_OUT_DIR:-$SCRIPT_DIR}
PFX="pp-$$"
NS_CLI="$PFX-cli"
NS_RTR="$PFX-rtr"
NS_SRV="$PFX-srv"
NS_SW="$PFX-sw"     # L2 switch (bridge) between client and router
PP_SMTP_SERVER=${PP_SMTP_SERVER:-postfix}
PY=/usr/bin/python3

# Addresses (documentation ranges only)
CLI4=198.51.100.10   RTR4_C=198.51.100.1   RTR4_S=203.0.113.1   SRV4=203.0.113.25  DNS4=203.0.113.53
CLI6=2001:db8:1::10  RTR6_C=2001:db8:1::1  RTR6_S=2001:db8:2::1  SRV6=2001:db8:2::25
# Interface names (each lives in its own namespace)
IF_CLI=eth-cli      # client side of link 1
IF_RC=eth-rtr-cli   # router side of link 1 (facing the client)
IF_RS=eth-rtr-srv   # router side of link 2 (facing the server)
IF_SRV=eth-srv      # server side of link 2
IF_SWC=sw-cli       # switch port facing the client
IF_SWR=sw-rtr       # switch port facing the router

ALL_CAPTURES=(smtp-healthy-ipv4 smtp-healthy-ipv6 smtp-mru1424 dns-fragmented smtp-random-loss
              smtp-mru1424-probing-sender smtp-icmp-too-big-ipv4 smtp-icmp-too-big-ipv6
              smtp-icmp-filtered dns-fragment-lost smtp-zero-window tcp-connect-timeout
              smtp-retrans-storm-blackhole smtp-pipelining-multi-rcpt smtp-starttls smtp-bdat
              smtp-421-ratelimit smtp-552-size dns-tcp-and-truncated
              smtp-mru1424-timeout smtp-proxies)

PIDS=()          # background processes we started (killed by PID on exit)
STOP_CMDS=()     # clean-shutdown commands for servers (run before killing PIDS)
TMP=""

log()  { printf '[record %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die()  { log "ERROR: $*"; exit 1; }
nsx()  { local ns=$1; shift; ip netns exec "$ns" "$@"; }

usage() {
  sed -n '2,16p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
  echo "Captures: ${ALL_CAPTURES[*]}"
  echo "  (smtp-mru1424 writes smtp-mru1424-sender.pcap and smtp-mru1424-receiver.pcap)"
  echo "  (tcp-connect-timeout writes tcp-connect-timeout.pcap and tcp-connect-refused.pcap)"
}

# ---------------------------------------------------------------- preflight
preflight() {
  [[ $(id -u) -eq 0 ]] || die "must run as root (network namespaces, tcpdump): sudo bash $0 $*"
  local missing=() pkgs=()
  local -A pkg_of=( [ip]=iproute2 [nft]=nftables [ethtool]=ethtool [tcpdump]=tcpdump
                    [tshark]=tshark [swaks]=swaks [nsd]=nsd [dig]=bind9-dnsutils
                    [timeout]=coreutils [ss]=iproute2 )
  for t in "${!pkg_of[@]}"; do
    command -v "$t" >/dev/null 2>&1 || { missing+=("$t"); pkgs+=("${pkg_of[$t]}"); }
  done
  [[ -x $PY ]] || { missing+=("$PY"); pkgs+=(python3); }
  if [[ $PP_SMTP_SERVER == aiosmtpd ]] && [[ -x $PY ]] && ! $PY -c 'import aiosmtpd' 2>/dev/null; then
    missing+=("aiosmtpd"); pkgs+=(python3-aiosmtpd)
  fi
  if [[ $PP_SMTP_SERVER == postfix ]]; then
    for t in postfix postconf; do command -v $t >/dev/null 2>&1 || { missing+=("$t"); pkgs+=(postfix); }; done
  fi
  if ((${#missing[@]})); then
    log "missing tools: ${missing[*]}"
    log "install with: apt-get install $(printf '%s\n' "${pkgs[@]}" | sort -u | tr '\n' ' ')"
    exit 1
  fi
}

# ---------------------------------------------------------------- cleanup
stop_pid() {  # stop_pid PID [SIGNAL]: signal one process we started and wait for it
  local pid=$1 sig=${2:-TERM} i
  kill -0 "$pid" 2>/dev/null || return 0
  kill -s "$sig" "$pid" 2>/dev/null || true
  for i in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -0 "$pid" 2>/dev/null && kill -s KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}

teardown() {
  local pid ns cmd
  for cmd in "${STOP_CMDS[@]}"; do $cmd >/dev/null 2>&1 || true; done
  STOP_CMDS=()
  for pid in "${PIDS[@]}"; do stop_pid "$pid"; done
  PIDS=()
  for ns in "$NS_CLI" "$NS_SW" "$NS_RTR" "$NS_SRV"; do
    if ip netns list | grep -qw "^$ns"; then
      # anything still running inside one of OUR namespaces was started by us
      for pid in $(ip netns pids "$ns" 2>/dev/null); do kill -s KILL "$pid" 2>/dev/null || true; done
      ip netns del "$ns" 2>/dev/null || true
    fi
  done
}

on_exit() {
  local rc=$?
  teardown
  if [[ -n $TMP && -d $TMP ]]; then
    if [[ ${PP_KEEP_TMP:-0} == 1 ]]; then log "kept $TMP"; else rm -rf "$TMP"; fi
  fi
  exit $rc
}

# ---------------------------------------------------------------- topology
# setup_topology CLI_MTU RTR_CLI_MTU RTR_SRV_MTU SRV_MTU [WARM_FAMILIES]
# WARM_FAMILIES ("4", "6" or "4 6"): address families whose neighbour caches are
# warmed before capturing (only the family a capture uses, to keep the other
# family's neighbour discovery out of the pcap).
# Topology:  client --veth-- [switch: bridge] --veth-- router --veth-- server
# A veth end whose MTU is lower than its peer's silently drops larger frames on
# receive (kernel is_skb_forwardable()), which is how the MRU mismatch is built.
# The drop happens inside veth_xmit() of the PEER, and veth_xmit() returns
# NET_XMIT_DROP to whoever transmitted. If the client were wired straight to
# the router, the client's TCP would see that as local congestion and retry
# every 500 ms (TCP_RESOURCE_PROBE_INTERVAL) instead of the exponential RTO
# back-off seen in the real incident. The L2 switch namespace decouples the
# client's transmit from the drop, exactly like a real wire does.
setup_topology() {
  local m_cli=$1 m_rc=$2 m_rs=$3 m_srv=$4 warm=${5:-4 6} ns ifc fam targets=()
  teardown
  ip netns add "$NS_CLI"; ip netns add "$NS_SW"; ip netns add "$NS_RTR"; ip netns add "$NS_SRV"
  for ns in "$NS_CLI" "$NS_SW" "$NS_RTR" "$NS_SRV"; do
    nsx "$ns" ip link set lo up
    nsx "$ns" sysctl -qw net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0
    # keep IPv6 chatter (router solicitations) out of the captures
    nsx "$ns" sysctl -qw net.ipv6.conf.default.router_solicitations=0 net.ipv6.conf.all.router_solicitations=0
    # send the unsolicited MLD reports of a new interface at once (not spread
    # over ~1 s), so they are over before a capture starts
    nsx "$ns" sysctl -qw net.ipv6.conf.default.mldv2_unsolicited_report_interval=1 \
        net.ipv6.conf.default.mldv1_unsolicited_report_interval=1 2>/dev/null || true
  done
  ip -n "$NS_CLI" link add "$IF_CLI" type veth peer name "$IF_SWC" netns "$NS_SW"
  ip -n "$NS_SW" link add "$IF_SWR" type veth peer name "$IF_RC" netns "$NS_RTR"
  ip -n "$NS_SW" link add br0 type bridge stp_state 0 forward_delay 0 mcast_snooping 0
  ip -n "$NS_SW" link set "$IF_SWC" master br0
  ip -n "$NS_SW" link set "$IF_SWR" master br0
  nsx "$NS_SW" sysctl -qw net.ipv6.conf.all.disable_ipv6=1
  ip -n "$NS_RTR" link add "$IF_RS" type veth peer name "$IF_SRV" netns "$NS_SRV"
  ip -n "$NS_CLI" link set "$IF_CLI" mtu "$m_cli"
  ip -n "$NS_RTR" link set "$IF_RC" mtu "$m_rc"
  ip -n "$NS_RTR" link set "$IF_RS" mtu "$m_rs"
  ip -n "$NS_SRV" link set "$IF_SRV" mtu "$m_srv"
  for pair in "$NS_CLI:$IF_CLI" "$NS_SW:$IF_SWC" "$NS_SW:$IF_SWR" "$NS_RTR:$IF_RC" "$NS_RTR:$IF_RS" "$NS_SRV:$IF_SRV"; do
    ns=${pair%%:*}; ifc=${pair#*:}
    # wire-sized frames and software checksums (valid checksums in the pcap)
    nsx "$ns" ethtool -K "$ifc" tso off gso off gro off tx off >/dev/null 2>&1 || true
    nsx "$ns" sysctl -qw "net.ipv6.conf.$ifc.accept_dad=0" 2>/dev/null || true
  done
  ip -n "$NS_CLI" addr add "$CLI4/24" dev "$IF_CLI"
  ip -n "$NS_CLI" addr add "$CLI6/64" dev "$IF_CLI" nodad
  ip -n "$NS_RTR" addr add "$RTR4_C/24" dev "$IF_RC"
  ip -n "$NS_RTR" addr add "$RTR6_C/64" dev "$IF_RC" nodad
  ip -n "$NS_RTR" addr add "$RTR4_S/24" dev "$IF_RS"
  ip -n "$NS_RTR" addr add "$RTR6_S/64" dev "$IF_RS" nodad
  ip -n "$NS_SRV" addr add "$SRV4/24" dev "$IF_SRV"
  ip -n "$NS_SRV" addr add "$SRV6/64" dev "$IF_SRV" nodad
  ip -n "$NS_SRV" addr add "$DNS4/24" dev "$IF_SRV"
  for pair in "$NS_CLI:$IF_CLI" "$NS_SW:$IF_SWC" "$NS_SW:$IF_SWR" "$NS_SW:br0" "$NS_RTR:$IF_RC" "$NS_RTR:$IF_RS" "$NS_SRV:$IF_SRV"; do
    ip -n "${pair%%:*}" link set "${pair#*:}" up
  done
  nsx "$NS_RTR" sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1
  ip -n "$NS_CLI" route add default via "$RTR4_C"
  ip -n "$NS_CLI" -6 route add default via "$RTR6_C"
  ip -n "$NS_SRV" route add default via "$RTR4_S"
  ip -n "$NS_SRV" -6 route add default via "$RTR6_S"
  # the incident: no PMTU black-hole detection on the sender (per-netns sysctl)
  nsx "$NS_CLI" sysctl -qw net.ipv4.tcp_mtu_probing=0
  # Warm up neighbour caches end to end so the captures start clean: a TCP
  # connect to a closed port (answered by RST) works for v4 and v6 without ping.
  for fam in $warm; do [[ $fam == 4 ]] && targets+=("$SRV4") || targets+=("$SRV6"); done
  local ok=0 i
  for i in 1 2 3 4 5; do
    if nsx "$NS_CLI" timeout 5 $PY -c '
import socket, sys
for a in sys.argv[1:]:
    s = socket.socket(socket.AF_INET6 if ":" in a else socket.AF_INET)
    s.settimeout(1)
    try:
        s.connect((a, 9))
    except ConnectionRefusedError:
        pass
' "${targets[@]}" 2>/dev/null; then ok=1; break; fi
    sleep 0.3
  done
  ((ok)) || die "topology not reachable end to end"
}

# ---------------------------------------------------------------- capture
# start_capture NS IF FILE ; sets CAP_PID
start_capture() {
  local ns=$1 ifc=$2 file=$3 i
  rm -f "$file"
  ip netns exec "$ns" tcpdump -i "$ifc" -s 0 -U --immediate-mode -n -Z root -w "$file" 2>"$file.log" &
  CAP_PID=$!; PIDS+=("$CAP_PID")
  for i in $(seq 1 50); do grep -q "listening on" "$file.log" 2>/dev/null && break; sleep 0.1; done
  grep -q "listening on" "$file.log" || die "tcpdump did not start on $ns/$ifc: $(cat "$file.log")"
  sleep 0.2
}

stop_capture() {  # stop_capture PID : SIGINT so tcpdump flushes and closes the file
  # --immediate-mode hands every packet to tcpdump at once (TPACKET_V3 would
  # otherwise hold up to 1 s of packets in an unretired block, lost on SIGINT);
  # the pause lets trailing FIN/ACKs arrive.
  sleep 1
  stop_pid "$1" INT
}

# ---------------------------------------------------------------- servers
# start_smtp_server ADDR : SMTP server on ADDR:25 in the server namespace.
# Plug in another MTA by adding a case here (it must listen on ADDR:25, log to
# $TMP, append the PIDs it starts to PIDS, and register a stop command in
# STOP_CMDS if killing by PID is not a clean shutdown).
SRV_N=0
POSTFIX_EXTRA=""   # extra main.cf lines for the next Postfix instance; @D@ = its directory
POSTFIX_MASTER_EXTRA=""  # extra master.cf lines for the next Postfix instance
start_smtp_server() {
  local addr=$1 i logf
  SRV_N=$((SRV_N + 1))
  case $PP_SMTP_SERVER in
    aiosmtpd)
      logf="$TMP/aiosmtpd-$SRV_N.log"
      # aiosmtpd splits -l at the LAST colon, so IPv6 is written without brackets.
      ip netns exec "$NS_SRV" timeout 120 $PY -m aiosmtpd -n -c aiosmtpd.handlers.Sink \
          -l "$addr:25" >"$logf" 2>&1 &
      PIDS+=($!)
      ;;
    postfix)
      local d="$TMP/postfix-$SRV_N"
      logf="$d/maillog"
      write_postfix_config "$d" "$addr"
      nsx "$NS_SRV" postfix -c "$d/conf" check >/dev/null 2>&1 || die "postfix check failed: $(cat "$logf" 2>/dev/null)"
      ip netns exec "$NS_SRV" timeout 120 postfix -c "$d/conf" start-fg >"$d/start-fg.out" 2>&1 &
      PIDS+=($!)
      STOP_CMDS+=("ip netns exec $NS_SRV timeout 10 postfix -c $d/conf stop")
      ;;
    *) die "unknown PP_SMTP_SERVER=$PP_SMTP_SERVER (implemented: aiosmtpd, postfix)";;
  esac
  for i in $(seq 1 100); do
    nsx "$NS_SRV" ss -Hltn "sport = :25" | grep -q . && return 0
    sleep 0.1
  done
  die "SMTP server did not come up on $addr:25: $(cat "$logf" 2>/dev/null)"
}

# write_postfix_config DIR ADDR : a private Postfix instance (own config, queue
# and data directories) that accepts any recipient @example.test and discards
# the mail after queueing it, so replies are the real "250 2.0.0 Ok: queued as".
write_postfix_config() {
  local d=$1 addr=$2
  mkdir -p "$d/conf" "$d/spool" "$d/data"
  chmod 0755 "$d"
  chown postfix "$d/data"
  cp /etc/postfix/master.cf "$d/conf/"
  [[ -e /etc/postfix/dynamicmaps.cf ]] && cp /etc/postfix/dynamicmaps.cf "$d/conf/"
  [[ -d /etc/postfix/dynamicmaps.cf.d ]] && cp -r /etc/postfix/dynamicmaps.cf.d "$d/conf/"
  cat >"$d/conf/main.cf" <<EOF
compatibility_level = 3.6
queue_directory = $d/spool
data_directory = $d/data
mail_owner = postfix
setgid_group = postdrop
myhostname = mx.example.test
mydomain = example.test
myorigin = example.test
mydestination = example.test
inet_interfaces = $([[ $addr == *:* ]] && echo "[$addr]" || echo "$addr")
inet_protocols = all
mynetworks = 127.0.0.0/8 198.51.100.0/24 [2001:db8:1::]/64
local_recipient_maps =
alias_maps =
alias_database =
local_transport = discard:
default_transport = discard:
smtpd_banner = \$myhostname ESMTP Postfix
# no DNS from inside the namespace (there is no resolver there): no PTR lookup
smtpd_peername_lookup = no
smtputf8_enable = no
biff = no
maillog_file_prefixes = $d
maillog_file = $d/maillog
EOF
  # per-capture additions (see POSTFIX_EXTRA)
  if [[ -n $POSTFIX_EXTRA ]]; then printf '%s\n' "${POSTFIX_EXTRA//@D@/$d}" >>"$d/conf/main.cf"; fi
  if [[ -n $POSTFIX_MASTER_EXTRA ]]; then printf '%s\n' "$POSTFIX_MASTER_EXTRA" >>"$d/conf/master.cf"; fi
  # no chroot: a chroot would need copies of /etc files in the queue directory
  postconf -c "$d/conf" -F '*/*/chroot = n'
}

# make_attachment BYTES FILE : deterministic pseudo-random binary data (seeded)
make_attachment() {
  $PY - "$1" "$2" <<'EOF'
import random, sys
n, path = int(sys.argv[1]), sys.argv[2]
open(path, "wb").write(random.Random(20240101).randbytes(n))
EOF
}

# send_mail SERVER_ADDR TIMEOUT_S [swaks args...] : bounded swaks run, output to $TMP/swaks-N.log
SWAKS_N=0
send_mail() {
  local server=$1 tmo=$2; shift 2
  SWAKS_N=$((SWAKS_N + 1))
  local logf="$TMP/swaks-$SWAKS_N.log" rc=0
  local fam=(); [[ $server == *:* ]] && fam=(-6)
  ip netns exec "$NS_CLI" timeout -s INT -k 5 "$tmo" swaks "${fam[@]}" \
      --server "$server" --port 25 --helo client.example.net \
      --from sender@example.net --to rcpt@example.test \
      --header "Subject: PathProbe capture $SWAKS_N" \
      --header "Message-Id: <pathprobe-$SWAKS_N@client.example.net>" \
      --timeout 20s --hide-all "$@" >"$logf" 2>&1 &
  # run in the background and wait: a signal to this script then interrupts
  # the wait at once and the EXIT trap kills swaks by PID
  local pid=$!; PIDS+=("$pid")
  wait "$pid" || rc=$?
  log "swaks #$SWAKS_N -> $server exit $rc"
  return 0
}

# ---------------------------------------------------------------- helpers for checks
FAILS=0
check() {  # check DESCRIPTION CONDITION-RESULT(0/1)
  if [[ $2 == 1 ]]; then log "  ok:   $1"; else log "  FAIL: $1"; FAILS=$((FAILS + 1)); fi
}
tcount() { tshark -r "$1" -Y "$2" 2>/dev/null | wc -l; }
# smtp_delivered FILE STREAM : 1 if the server answered 250 after its 354 (i.e. to the final ".")
smtp_delivered() {
  local n354 n250
  n354=$(tshark -r "$1" -Y "tcp.stream == $2 && smtp.response.code == 354" -T fields -e frame.number 2>/dev/null | head -1)
  n250=$(tshark -r "$1" -Y "tcp.stream == $2 && smtp.response.code == 250" -T fields -e frame.number 2>/dev/null | tail -1)
  [[ -n $n354 && -n $n250 ]] && ((n250 > n354)) && echo 1 || echo 0
}
finish_file() {  # move from tmp to the output directory
  mv -f "$1" "$OUT_DIR/$(basename "$1")"
  chmod 0644 "$OUT_DIR/$(basename "$1")"
  log "wrote $OUT_DIR/$(basename "$1") ($(stat -c %s "$OUT_DIR/$(basename "$1")") bytes)"
}

# ================================================================ captures
cap_smtp_healthy() {  # cap_smtp_healthy 4|6
  local fam=$1 name="smtp-healthy-ipv$1" dst f
  [[ $fam == 4 ]] && dst=$SRV4 || dst=$SRV6
  f="$TMP/$name.pcap"
  log "== $name: MTU 1500 everywhere, 200 KB attachment, capture at client"
  setup_topology 1500 1500 1500 1500 "$fam"
  start_smtp_server "$dst"
  make_attachment 200000 "$TMP/attach-200k.bin"
  start_capture "$NS_CLI" "$IF_CLI" "$f"; local cap=$CAP_PID
  send_mail "$dst" 40 --attach-type application/octet-stream --attach-name report.bin --attach @"$TMP/attach-200k.bin"
  stop_capture "$cap"
  teardown
  check "$name: 250 reply to the end of DATA" "$(smtp_delivered "$f" 0)"
  check "$name: full-size (1514-byte) frames present" "$( (( $(tcount "$f" 'frame.len == 1514') > 50 )) && echo 1 || echo 0)"
  check "$name: no retransmissions" "$( (( $(tcount "$f" 'tcp.analysis.retransmission || tcp.analysis.fast_retransmission') == 0 )) && echo 1 || echo 0)"
  finish_file "$f"
}

cap_smtp_mru1424() {
  local name=smtp-mru1424 fs="$TMP/smtp-mru1424-sender.pcap" fr="$TMP/smtp-mru1424-receiver.pcap"
  log "== $name: client MTU 1500, router MRU 1424 facing the client, server MTU 1500"
  setup_topology 1500 1424 1500 1500 4
  start_smtp_server "$SRV4"
  make_attachment 200000 "$TMP/attach-200k.bin"
  start_capture "$NS_CLI" "$IF_CLI" "$fs"; local c1=$CAP_PID
  start_capture "$NS_SRV" "$IF_SRV" "$fr"; local c2=$CAP_PID
  # 1) small mail, fits in small packets -> delivered
  send_mail "$SRV4" 25 --body "Short mail without attachment; fits in small packets."
  sleep 1
  # 2) mail with attachment -> stalls in DATA; swaks gives up after --timeout 20s
  send_mail "$SRV4" 28 --attach-type application/octet-stream --attach-name report.bin --attach @"$TMP/attach-200k.bin"
  stop_capture "$c1"; stop_capture "$c2"
  teardown
  local big_s big_r rtx
  big_s=$(tcount "$fs" 'frame.len > 1438')
  big_r=$(tcount "$fr" 'frame.len > 1438')
  rtx=$(tcount "$fs" 'tcp.analysis.retransmission && frame.len == 1514')
  check "$name: small mail (tcp.stream 0) got 250 after DATA (sender vantage)" "$(smtp_delivered "$fs" 0)"
  check "$name: small mail (tcp.stream 0) got 250 after DATA (receiver vantage)" "$(smtp_delivered "$fr" 0)"
  check "$name: large mail (tcp.stream 1) got NO 250 after DATA" "$( [[ $(smtp_delivered "$fs" 1) == 0 ]] && echo 1 || echo 0)"
  check "$name: no ICMP at either vantage" "$( (( $(tcount "$fs" icmp) + $(tcount "$fr" icmp) == 0 )) && echo 1 || echo 0)"
  check "$name: sender sees $rtx retransmitted 1514-byte frames" "$( ((rtx >= 4)) && echo 1 || echo 0)"
  check "$name: sender sent $big_s frames > 1438 bytes" "$( ((big_s > 0)) && echo 1 || echo 0)"
  check "$name: receiver saw $big_r frames > 1438 bytes (must be 0)" "$( ((big_r == 0)) && echo 1 || echo 0)"
  finish_file "$fs"; finish_file "$fr"
}

cap_dns_fragmented() {
  local name=dns-fragmented f="$TMP/dns-fragmented.pcap"
  log "== $name: nsd in the server namespace, large TXT answer over UDP, capture at client"
  setup_topology 1500 1500 1500 1500 4
  start_nsd
  start_capture "$NS_CLI" "$IF_CLI" "$f"; local cap=$CAP_PID
  local q=(timeout 10 dig @"$DNS4" +time=2 +tries=1 +bufsize=4096 +notcp)
  nsx "$NS_CLI" "${q[@]}" TXT big.example.test >"$TMP/dig-txt.log" 2>&1 || true
  nsx "$NS_CLI" "${q[@]}" MX example.test >"$TMP/dig-mx.log" 2>&1 || true
  nsx "$NS_CLI" "${q[@]}" -x "$SRV4" >"$TMP/dig-ptr.log" 2>&1 || true
  stop_capture "$cap"
  teardown
  log "  dig TXT: $(grep -E 'MSG SIZE|status' "$TMP/dig-txt.log" | tr '\n' ' ')"
  check "$name: IPv4 fragments (MF=1) present" "$( (( $(tcount "$f" 'ip.flags.mf == 1') >= 1 )) && echo 1 || echo 0)"
  check "$name: reassembled DNS answer with TXT records" "$( (( $(tcount "$f" 'dns.flags.response == 1 && dns.txt && ip.fragment') >= 1 )) && echo 1 || echo 0)"
  check "$name: MX answer" "$( (( $(tcount "$f" 'dns.flags.response == 1 && dns.qry.type == 15 && dns.count.answers >= 1') >= 1 )) && echo 1 || echo 0)"
  check "$name: PTR answer" "$( (( $(tcount "$f" 'dns.flags.response == 1 && dns.qry.type == 12 && dns.count.answers >= 1') >= 1 )) && echo 1 || echo 0)"
  finish_file "$f"
}

write_nsd_config() {
  local d=$1
  cat >"$d/nsd.conf" <<EOF
server:
    ip-address: $DNS4
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
    verbosity: 1
remote-control:
    control-enable: no
zone:
    name: example.test
    zonefile: "$d/example.test.zone"
zone:
    name: 113.0.203.in-addr.arpa
    zonefile: "$d/113.0.203.in-addr.arpa.zone"
zone:
    name: 100.51.198.in-addr.arpa
    zonefile: "$d/100.51.198.in-addr.arpa.zone"
EOF
  {
    cat <<EOF
\$ORIGIN example.test.
\$TTL 3600
@       IN SOA ns1.example.test. hostmaster.example.test. 2024010101 3600 900 604800 300
@       IN NS  ns1.example.test.
@       IN MX  10 mx.example.test.
ns1     IN A   $DNS4
mx      IN A   $SRV4
mx      IN AAAA $SRV6
@       IN TXT "v=spf1 ip4:$CLI4 -all"
EOF
    # ~3000 bytes of TXT data: 12 records, each with two 120-byte strings
    # (deterministic content), so the UDP answer is well above 1500 bytes.
    local i j s
    for i in $(seq -w 1 12); do
      s=""
      for j in 1 2; do
        s+=" \"pathprobe-fragment-test-record-$i-part-$j-$(printf 'abcdefghijklmnopqrstuvwxyz0123456789%.0s' 1 2 3 | head -c 72)\""
      done
      echo "big     IN TXT$s"
    done
  } >"$d/example.test.zone"
  cat >"$d/100.51.198.in-addr.arpa.zone" <<EOF
\$ORIGIN 100.51.198.in-addr.arpa.
\$TTL 3600
@       IN SOA ns1.example.test. hostmaster.example.test. 2024010101 3600 900 604800 300
@       IN NS  ns1.example.test.
10      IN PTR client.example.net.
EOF
  cat >"$d/113.0.203.in-addr.arpa.zone" <<EOF
\$ORIGIN 113.0.203.in-addr.arpa.
\$TTL 3600
@       IN SOA ns1.example.test. hostmaster.example.test. 2024010101 3600 900 604800 300
@       IN NS  ns1.example.test.
25      IN PTR mx.example.test.
53      IN PTR ns1.example.test.
EOF
}

cap_smtp_random_loss() {
  # Random loss is random: a run is kept only if it shows what the control
  # must show (delivered, full-size frames lost AND recovered, a small packet
  # lost too). Up to 5 attempts; the last one is kept either way.
  local name=smtp-random-loss f="$TMP/smtp-random-loss.pcap" attempt
  local delivered=0 rtx_full=0 rtx_small=0
  make_attachment 300000 "$TMP/attach-300k.bin"
  for attempt in 1 2 3 4 5; do
    log "== $name (attempt $attempt): MTU 1500 everywhere, router drops ~5% of forwarded packets at random"
    setup_topology 1500 1500 1500 1500 4
    nsx "$NS_RTR" nft -f - <<'EOF'
table inet pathprobe_loss {
  chain forward {
    type filter hook forward priority 0; policy accept;
    numgen random mod 100 < 5 counter drop
  }
}
EOF
    start_smtp_server "$SRV4"
    start_capture "$NS_CLI" "$IF_CLI" "$f"; local cap=$CAP_PID
    send_mail "$SRV4" 50 --attach-type application/octet-stream --attach-name report.bin --attach @"$TMP/attach-300k.bin"
    stop_capture "$cap"
    log "  nft drops: $(nsx "$NS_RTR" nft list chain inet pathprobe_loss forward | grep -o 'counter packets [0-9]* bytes [0-9]*')"
    teardown
    delivered=$(smtp_delivered "$f" 0)
    rtx_full=$(tcount "$f" '(tcp.analysis.retransmission || tcp.analysis.fast_retransmission) && frame.len == 1514')
    rtx_small=$(tcount "$f" '(tcp.analysis.retransmission || tcp.analysis.fast_retransmission || tcp.analysis.spurious_retransmission) && frame.len < 200')
    log "  delivered=$delivered full-size retransmissions=$rtx_full small retransmissions=$rtx_small"
    if ((delivered >= 1 && rtx_full >= 1 && rtx_small >= 1)); then break; fi
  done
  check "$name: mail delivered (250 after DATA)" "$( ((delivered >= 1)) && echo 1 || echo 0)"
  check "$name: $rtx_full full-size (1514) retransmissions, and they got through" "$( ((rtx_full >= 1)) && echo 1 || echo 0)"
  check "$name: $rtx_small small (<200 byte) retransmissions (losses at all sizes)" "$( ((rtx_small >= 1)) && echo 1 || echo 0)"
  finish_file "$f"
}

# ================================================================ captures (set 2)
# helpers ---------------------------------------------------------------
yes_if() { (( $1 )) && echo 1 || echo 0; }   # yes_if ARITH-EXPR -> 1/0 for check()

# start_nsd : NSD on $DNS4:53 (UDP and TCP) in the server namespace
start_nsd() {
  local d="$TMP/nsd" i
  mkdir -p "$d"
  write_nsd_config "$d"
  nsd-checkconf "$d/nsd.conf" || die "nsd.conf invalid"
  ip netns exec "$NS_SRV" timeout 120 nsd -d -c "$d/nsd.conf" >"$d/nsd.out" 2>&1 &
  PIDS+=($!)
  for i in $(seq 1 50); do nsx "$NS_SRV" ss -Hlun "sport = :53" | grep -q . && break; sleep 0.1; done
  nsx "$NS_SRV" ss -Hlun "sport = :53" | grep -q . || die "nsd did not start: $(cat "$d/nsd.out" "$d/nsd.log" 2>/dev/null)"
}

# server_advmss FAM : make the server advertise the MSS of a 1500-byte MTU
# although its own link has MTU 1400 -- as if the 1400-byte link were in the
# middle of the path (otherwise the server's SYN-ACK MSS alone would keep the
# client's segments small and no router would ever need to send ICMP).
server_advmss() {
  if [[ $1 == 4 ]]; then ip -n "$NS_SRV" route replace default via "$RTR4_S" advmss 1460
  else ip -n "$NS_SRV" -6 route replace default via "$RTR6_S" advmss 1440; fi
}

# first_frame FILE FILTER / last_frame FILE FILTER : frame number (empty if none)
first_frame() { { tshark -r "$1" -Y "$2" -T fields -e frame.number 2>/dev/null || true; } | head -1; }
last_frame()  { { tshark -r "$1" -Y "$2" -T fields -e frame.number 2>/dev/null || true; } | tail -1; }

cap_smtp_mru1424_probing() {
  local name=smtp-mru1424-probing-sender f="$TMP/smtp-mru1424-probing-sender.pcap"
  log "== $name: the MRU-1424 incident, but tcp_mtu_probing=1 on the client; capture at the sender"
  setup_topology 1500 1424 1500 1500 4
  # black-hole detection on (per-netns); tcp_base_mss stays at the default 1024
  nsx "$NS_CLI" sysctl -qw net.ipv4.tcp_mtu_probing=1
  start_smtp_server "$SRV4"
  make_attachment 200000 "$TMP/attach-200k.bin"
  start_capture "$NS_CLI" "$IF_CLI" "$f"; local cap=$CAP_PID
  send_mail "$SRV4" 50 --attach-type application/octet-stream --attach-name report.bin --attach @"$TMP/attach-200k.bin"
  stop_capture "$cap"
  teardown
  local rtx lastrtx small acked
  rtx=$(tcount "$f" 'tcp.analysis.retransmission && frame.len == 1514')
  lastrtx=$(last_frame "$f" 'tcp.analysis.retransmission && frame.len == 1514')
  small=$(tcount "$f" "frame.number > ${lastrtx:-0} && ip.src == $CLI4 && tcp.len > 500 && frame.len <= 1442")
  acked=$(tcount "$f" "frame.number > ${lastrtx:-0} && ip.src == $SRV4 && tcp.ack > 100000")
  check "$name: $rtx retransmissions of full-size (1514-byte) segments" "$(yes_if "rtx >= 3")"
  check "$name: after the last one, $small data segments of <= 1442 bytes from the client" "$(yes_if "small >= 50")"
  check "$name: server acknowledges beyond 100000 bytes after that ($acked ACKs)" "$(yes_if "acked >= 1")"
  check "$name: 250 after DATA (mail delivered)" "$(smtp_delivered "$f" 0)"
  check "$name: no ICMP" "$(yes_if "$(tcount "$f" 'icmp') == 0")"
  finish_file "$f"
}

cap_smtp_icmp_too_big() {  # cap_smtp_icmp_too_big 4|6
  local fam=$1 name="smtp-icmp-too-big-ipv$1" f dst
  f="$TMP/$name.pcap"
  [[ $fam == 4 ]] && dst=$SRV4 || dst=$SRV6
  log "== $name: router-server link MTU 1400 (both ends), router sends ICMP too-big; capture at client"
  setup_topology 1500 1500 1400 1400 "$fam"
  server_advmss "$fam"
  nsx "$NS_CLI" ip -4 route flush cache; nsx "$NS_CLI" ip -6 route flush cache
  start_smtp_server "$dst"
  make_attachment 200000 "$TMP/attach-200k.bin"
  start_capture "$NS_CLI" "$IF_CLI" "$f"; local cap=$CAP_PID
  send_mail "$dst" 40 --attach-type application/octet-stream --attach-name report.bin --attach @"$TMP/attach-200k.bin"
  stop_capture "$cap"
  log "  client route cache: $(nsx "$NS_CLI" ip -"$fam" route get "$dst" 2>&1 | tr '\n' ' ')"
  teardown
  local ptb first big_after
  if [[ $fam == 4 ]]; then
    ptb='icmp.type == 3 && icmp.code == 4 && icmp.mtu == 1400'
    first=$(first_frame "$f" "$ptb")
    # (!icmp: an ICMP error quotes the 1500-byte packet's IP header)
    big_after=$(tcount "$f" "frame.number > ${first:-0} && !icmp && ip.src == $CLI4 && ip.len > 1400")
  else
    ptb='icmpv6.type == 2 && icmpv6.mtu == 1400'
    first=$(first_frame "$f" "$ptb")
    big_after=$(tcount "$f" "frame.number > ${first:-0} && !icmpv6 && ipv6.src == $CLI6 && ipv6.plen > 1360")
  fi
  check "$name: ICMP too-big with MTU 1400 seen (first in frame ${first:-none}, $(tcount "$f" "$ptb") in all)" "$(yes_if "${first:-0} > 0")"
  check "$name: $big_after client packets > 1400 bytes after it (must be 0)" "$(yes_if "big_after == 0")"
  check "$name: 250 after DATA (mail delivered)" "$(smtp_delivered "$f" 0)"
  finish_file "$f"
}

cap_smtp_icmp_filtered() {
  local name=smtp-icmp-filtered f="$TMP/smtp-icmp-filtered.pcap"
  log "== $name: next-hop MTU 1400, router drops its own ICMP frag-needed: PMTUD black hole; capture at client"
  setup_topology 1500 1500 1400 1400 4
  server_advmss 4
  nsx "$NS_CLI" ip -4 route flush cache
  nsx "$NS_RTR" nft -f - <<'EOF'
table ip pathprobe_icmp_filter {
  chain output {
    type filter hook output priority 0; policy accept;
    icmp type destination-unreachable icmp code frag-needed counter drop
  }
}
EOF
  start_smtp_server "$SRV4"
  make_attachment 200000 "$TMP/attach-200k.bin"
  start_capture "$NS_CLI" "$IF_CLI" "$f"; local cap=$CAP_PID
  send_mail "$SRV4" 25 --body "Short mail without attachment; fits in small packets."
  sleep 1
  send_mail "$SRV4" 28 --attach-type application/octet-stream --attach-name report.bin --attach @"$TMP/attach-200k.bin"
  stop_capture "$cap"
  log "  router ICMP drops: $(nsx "$NS_RTR" nft list chain ip pathprobe_icmp_filter output | grep -o 'counter packets [0-9]* bytes [0-9]*')"
  teardown
  local rtx; rtx=$(tcount "$f" 'tcp.analysis.retransmission && frame.len == 1514')
  check "$name: small mail (tcp.stream 0) got 250 after DATA" "$(smtp_delivered "$f" 0)"
  check "$name: large mail (tcp.stream 1) got NO 250 after DATA" "$( [[ $(smtp_delivered "$f" 1) == 0 ]] && echo 1 || echo 0)"
  check "$name: no ICMP at the client" "$(yes_if "$(tcount "$f" icmp) == 0")"
  check "$name: $rtx retransmitted 1514-byte frames" "$(yes_if "rtx >= 4")"
  finish_file "$f"
}

cap_dns_fragment_lost() {
  local name=dns-fragment-lost f="$TMP/dns-fragment-lost.pcap"
  log "== $name: as dns-fragmented, but the router drops non-first fragments toward the client"
  setup_topology 1500 1500 1500 1500 4
  # shorter reassembly timeout than the default 30 s, so the client's ICMP
  # "fragment reassembly time exceeded" is inside the capture
  nsx "$NS_CLI" sysctl -qw net.ipv4.ipfrag_time=5
  nsx "$NS_RTR" nft -f - <<EOF
table ip pathprobe_frag {
  chain forward {
    type filter hook forward priority 0; policy accept;
    ip daddr $CLI4 ip frag-off & 0x1fff != 0 counter drop
  }
}
EOF
  start_nsd
  start_capture "$NS_CLI" "$IF_CLI" "$f"; local cap=$CAP_PID
  nsx "$NS_CLI" timeout 15 dig @"$DNS4" +time=2 +tries=2 +bufsize=4096 +notcp TXT big.example.test >"$TMP/dig-txt.log" 2>&1 || true
  nsx "$NS_CLI" timeout 10 dig @"$DNS4" +time=2 +tries=1 +bufsize=4096 +notcp MX example.test >"$TMP/dig-mx.log" 2>&1 || true
  sleep 4   # until the second reassembly queue has expired too
  stop_capture "$cap"
  log "  router fragment drops: $(nsx "$NS_RTR" nft list chain ip pathprobe_frag forward | grep -o 'counter packets [0-9]* bytes [0-9]*')"
  teardown
  log "  dig TXT: $(grep -E 'timed out|status' "$TMP/dig-txt.log" | tr '\n' ' ')"
  local firsts rest
  # (!icmp: the client's ICMP "reassembly time exceeded" quotes the first fragment)
  firsts=$(tcount "$f" '!icmp && ip.src == 203.0.113.53 && ip.flags.mf == 1 && ip.frag_offset == 0')
  rest=$(tcount "$f" '!icmp && ip.frag_offset > 0')
  check "$name: $firsts first fragments (MF=1, offset 0) arrive" "$(yes_if "firsts >= 2")"
  check "$name: $rest non-first fragments arrive (must be 0)" "$(yes_if "rest == 0")"
  check "$name: no TXT answer at the client" "$(yes_if "$(tcount "$f" '!icmp && dns.flags.response == 1 && dns.qry.type == 16') == 0")"
  check "$name: client sends ICMP time exceeded / reassembly (11/1)" "$(yes_if "$(tcount "$f" "ip.src == $CLI4 && icmp.type == 11 && icmp.code == 1") >= 1")"
  check "$name: dig reports a timeout" "$(grep -q 'timed out' "$TMP/dig-txt.log" && echo 1 || echo 0)"
  check "$name: the small MX answer arrives" "$(yes_if "$(tcount "$f" 'dns.flags.response == 1 && dns.qry.type == 15 && dns.count.answers >= 1') >= 1")"
  finish_file "$f"
}

cap_smtp_zero_window() {
  local name=smtp-zero-window f="$TMP/smtp-zero-window.pcap" srv="$TMP/slow-smtpd.py"
  log "== $name: SMTP server that stops reading for 8 s after 354; capture at client"
  setup_topology 1500 1500 1500 1500 4
  cat >"$srv" <<'EOF'
# slow-smtpd.py ADDR : minimal one-connection SMTP receiver that stops reading
# for 8 s after "354" (small receive buffer -> the client sees a zero window)
import socket, sys, time
ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
ls.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)   # inherited by accepted sockets
ls.bind((sys.argv[1], 25)); ls.listen(1); ls.settimeout(60)
c, _ = ls.accept(); c.settimeout(60)
f = c.makefile("rb")
def send(line): c.sendall(line.encode() + b"\r\n")
send("220 slow.example.test ESMTP")
while True:
    line = f.readline()
    if not line:
        break
    cmd = line.strip().upper()
    if cmd.startswith(b"EHLO"):
        send("250-slow.example.test"); send("250-SIZE 10240000"); send("250 8BITMIME")
    elif cmd.startswith(b"HELO"):
        send("250 slow.example.test")
    elif cmd.startswith(b"MAIL"):
        send("250 2.1.0 Ok")
    elif cmd.startswith(b"RCPT"):
        send("250 2.1.5 Ok")
    elif cmd == b"DATA":
        send("354 End data with <CR><LF>.<CR><LF>")
        time.sleep(8)                       # stop reading: the window closes
        while True:
            l = f.readline()
            if not l or l == b".\r\n":
                break
        send("250 2.0.0 Ok: queued as SLOW0001")
    elif cmd == b"QUIT":
        send("221 2.0.0 Bye"); break
    else:
        send("502 5.5.2 Error: command not recognized")
c.close()
EOF
  ip netns exec "$NS_SRV" timeout 90 $PY "$srv" "$SRV4" >"$TMP/slow-smtpd.log" 2>&1 &
  PIDS+=($!)
  local i; for i in $(seq 1 50); do nsx "$NS_SRV" ss -Hltn "sport = :25" | grep -q . && break; sleep 0.1; done
  make_attachment 300000 "$TMP/attach-300k.bin"
  start_capture "$NS_CLI" "$IF_CLI" "$f"; local cap=$CAP_PID
  send_mail "$SRV4" 45 --attach-type application/octet-stream --attach-name report.bin --attach @"$TMP/attach-300k.bin"
  stop_capture "$cap"
  teardown
  local zw zwp ka
  zw=$(tcount "$f" "tcp.analysis.zero_window && ip.src == $SRV4")
  zwp=$(tcount "$f" "tcp.analysis.zero_window_probe && ip.src == $CLI4")
  ka=$(tcount "$f" "tcp.analysis.keep_alive && ip.src == $CLI4")
  log "  zero_window=$zw zero_window_probe=$zwp keep_alive=$ka"
  # Linux probes a zero window with a 0-byte segment at snd_una-1
  # (tcp_xmit_probe_skb); tshark 4.0 labels these "TCP Keep-Alive", not
  # "TCP ZeroWindowProbe" (which it reserves for 1-byte probes).
  check "$name: $zw zero-window segments from the server" "$(yes_if "zw >= 3")"
  check "$name: $((zwp + ka)) zero-window probes from the client ($ka labelled Keep-Alive, $zwp ZeroWindowProbe)" "$(yes_if "zwp + ka >= 3")"
  check "$name: 250 after DATA (mail delivered)" "$(smtp_delivered "$f" 0)"
  finish_file "$f"
}

cap_tcp_connect() {
  local ft="$TMP/tcp-connect-timeout.pcap" fr="$TMP/tcp-connect-refused.pcap" dead=203.0.113.99
  log "== tcp-connect-timeout / tcp-connect-refused: SYN silently dropped / RST; capture at client"
  setup_topology 1500 1500 1500 1500 4
  nsx "$NS_CLI" sysctl -qw net.ipv4.tcp_syn_retries=3
  # Linux >= 6.5 retransmits the first 4 SYNs at a fixed 1 s interval
  # (tcp_syn_linear_timeouts=4); 0 restores the classic exponential back-off
  nsx "$NS_CLI" sysctl -qw net.ipv4.tcp_syn_linear_timeouts=0 2>/dev/null || true
  nsx "$NS_RTR" nft -f - <<EOF
table ip pathprobe_blackhole {
  chain forward {
    type filter hook forward priority 0; policy accept;
    ip daddr $dead counter drop
  }
}
EOF
  start_capture "$NS_CLI" "$IF_CLI" "$ft"; local cap=$CAP_PID
  send_mail "$dead" 25 --body "never sent"
  stop_capture "$cap"
  start_capture "$NS_CLI" "$IF_CLI" "$fr"; cap=$CAP_PID
  ip netns exec "$NS_CLI" timeout -s INT -k 5 10 swaks --server "$SRV4" --port 2525 \
      --helo client.example.net --from sender@example.net --to rcpt@example.test \
      --timeout 5s --hide-all >"$TMP/swaks-refused.log" 2>&1 || true
  stop_capture "$cap"
  teardown
  local syns
  syns=$(tcount "$ft" "tcp.flags.syn == 1 && tcp.flags.ack == 0 && ip.dst == $dead")
  check "tcp-connect-timeout: $syns SYNs to $dead (1 + 3 retries)" "$(yes_if "syns == 4")"
  check "tcp-connect-timeout: $(tcount "$ft" 'tcp.analysis.retransmission') flagged as retransmissions" "$(yes_if "$(tcount "$ft" 'tcp.analysis.retransmission') == 3")"
  check "tcp-connect-timeout: no answer at all (no packet from $dead, no ICMP)" "$(yes_if "$(tcount "$ft" "ip.src == $dead || icmp") == 0")"
  check "tcp-connect-refused: SYN to port 2525 answered by RST/ACK" "$(yes_if "$(tcount "$fr" "ip.src == $SRV4 && tcp.srcport == 2525 && tcp.flags.reset == 1") >= 1")"
  check "tcp-connect-refused: no retransmission" "$(yes_if "$(tcount "$fr" 'tcp.analysis.retransmission') == 0")"
  finish_file "$ft"; finish_file "$fr"
}

cap_smtp_retrans_storm() {
  local name=smtp-retrans-storm-blackhole f="$TMP/smtp-retrans-storm-blackhole.pcap" n=8 i a
  log "== $name: MRU 1424 path, $n clients (198.51.100.11-$((10 + n))) send mails with attachments at once; capture at the sender side"
  setup_topology 1500 1424 1500 1500 4
  for i in $(seq 11 $((10 + n))); do ip -n "$NS_CLI" addr add "198.51.100.$i/24" dev "$IF_CLI"; done
  start_smtp_server "$SRV4"
  make_attachment 60000 "$TMP/attach-60k.bin"
  start_capture "$NS_CLI" "$IF_CLI" "$f"; local cap=$CAP_PID
  local pids=()
  for i in $(seq 11 $((10 + n))); do
    ip netns exec "$NS_CLI" timeout -s INT -k 5 25 swaks --server "$SRV4" --port 25 -li "198.51.100.$i" \
        --helo "host$i.example.net" --from "sender$i@example.net" --to rcpt@example.test \
        --header "Message-Id: <pathprobe-storm-$i@client.example.net>" \
        --attach-type application/octet-stream --attach-name report.bin --attach @"$TMP/attach-60k.bin" \
        --timeout 20s --hide-all >"$TMP/swaks-storm-$i.log" 2>&1 &
    pids+=($!); PIDS+=($!)
    sleep 0.2
  done
  for a in "${pids[@]}"; do wait "$a" || true; done
  stop_capture "$cap"
  teardown
  local flows rtx delivered=0 s
  flows=$(tshark -r "$f" -Y 'tcp.flags.syn == 1 && tcp.flags.ack == 0' -T fields -e ip.src 2>/dev/null | sort -u | wc -l)
  rtx=$(tcount "$f" 'tcp.analysis.retransmission && frame.len == 1514')
  for s in $(seq 0 $((n - 1))); do delivered=$((delivered + $(smtp_delivered "$f" "$s"))); done
  check "$name: $flows client addresses opened connections" "$(yes_if "flows == n")"
  check "$name: $rtx retransmitted 1514-byte frames" "$(yes_if "rtx >= 5 * n")"
  check "$name: $delivered of $n mails delivered (must be 0)" "$(yes_if "delivered == 0")"
  check "$name: no ICMP" "$(yes_if "$(tcount "$f" icmp) == 0")"
  finish_file "$f"
}

# smtp_fields FILE FIELD : all values of FIELD, one a line (several per frame possible)
smtp_fields() { { tshark -r "$1" -Y "$2" -T fields -E occurrence=a -E aggregator='|' -e "$2" 2>/dev/null || true; } | tr '|' '\n'; }
# smtp_multi_cmd_frames FILE : number of frames carrying two or more SMTP commands
smtp_multi_cmd_frames() {
  { tshark -r "$1" -Y smtp.req.command -T fields -e smtp.req.command 2>/dev/null || true; } | grep -c ,
}

cap_smtp_pipelining() {
  local name=smtp-pipelining-multi-rcpt f="$TMP/smtp-pipelining-multi-rcpt.pcap"
  log "== $name: swaks --pipeline, 3 recipients, Postfix; capture at client"
  setup_topology 1500 1500 1500 1500 4
  start_smtp_server "$SRV4"
  start_capture "$NS_CLI" "$IF_CLI" "$f"; local cap=$CAP_PID
  send_mail "$SRV4" 25 --pipeline --to a@example.test,b@example.test,c@example.test \
      --body "One mail, three recipients, commands pipelined (RFC 2920)."
  stop_capture "$cap"
  teardown
  local multi; multi=$(smtp_multi_cmd_frames "$f")
  check "$name: PIPELINING advertised in the EHLO reply" "$(yes_if "$(tcount "$f" 'smtp.rsp.parameter == "PIPELINING"') >= 1")"
  check "$name: $multi client segments carry several SMTP commands" "$(yes_if "multi >= 1")"
  check "$name: 3 RCPT commands, 3 x 250 2.1.5" "$(yes_if "$(smtp_fields "$f" smtp.req.command | grep -c '^RCPT$') == 3 && $(smtp_fields "$f" smtp.response | grep -c '^250 2.1.5') == 3")"
  check "$name: 250 after DATA (mail delivered)" "$(smtp_delivered "$f" 0)"
  finish_file "$f"
}

cap_smtp_starttls() {
  local name=smtp-starttls f="$TMP/smtp-starttls.pcap" k="$TMP/tls"
  log "== $name: Postfix with a self-signed certificate, swaks -tls; capture at client"
  mkdir -p "$k"
  openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=mx.example.test" \
      -addext "subjectAltName=DNS:mx.example.test" -keyout "$k/key.pem" -out "$k/cert.pem" 2>"$k/openssl.log" \
      || die "openssl failed: $(cat "$k/openssl.log")"
  chmod 0600 "$k/key.pem"
  setup_topology 1500 1500 1500 1500 4
  POSTFIX_EXTRA="smtpd_tls_cert_file = $k/cert.pem
smtpd_tls_key_file = $k/key.pem
smtpd_tls_security_level = may
smtpd_tls_loglevel = 1"
  start_smtp_server "$SRV4"
  POSTFIX_EXTRA=""
  start_capture "$NS_CLI" "$IF_CLI" "$f"; local cap=$CAP_PID
  send_mail "$SRV4" 25 -tls --body "Mail sent after STARTTLS."
  stop_capture "$cap"
  teardown
  local st ch sh
  # (tshark 4.0 splits "STARTTLS" into command "STAR" + parameter "TLS")
  st=$(first_frame "$f" 'smtp.command_line == "STARTTLS\r\n"')
  ch=$(first_frame "$f" 'tls.handshake.type == 1')
  sh=$(first_frame "$f" 'tls.handshake.type == 2')
  check "$name: STARTTLS advertised" "$(yes_if "$(tcount "$f" 'smtp.rsp.parameter == "STARTTLS"') >= 1")"
  check "$name: STARTTLS command (frame ${st:-none}) answered by 220" "$(yes_if "$(tcount "$f" "frame.number > ${st:-999999} && smtp.response.code == 220") >= 1")"
  check "$name: TLS ClientHello (frame ${ch:-none}) and ServerHello (frame ${sh:-none}) after it" "$(yes_if "${ch:-0} > ${st:-999999} && ${sh:-0} > ${ch:-999999}")"
  local ml="$TMP/postfix-$SRV_N/maillog"
  check "$name: Postfix log: TLS connection established, mail queued and delivered" "$(yes_if "$(grep -c 'TLS connection established' "$ml") >= 1 && $(grep -c 'status=sent' "$ml") >= 1")"
  finish_file "$f"
}

cap_smtp_bdat() {
  local name=smtp-bdat f="$TMP/smtp-bdat.pcap" cli="$TMP/bdat-client.py"
  log "== $name: raw python3 client sends the message in BDAT chunks to Postfix; capture at client"
  setup_topology 1500 1500 1500 1500 4
  start_smtp_server "$SRV4"
  cat >"$cli" <<'EOF'
# bdat-client.py SERVER : EHLO, MAIL, RCPT, 3 x BDAT (last one with LAST), QUIT
import socket, sys
s = socket.create_connection((sys.argv[1], 25), timeout=15)
s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
f = s.makefile("rb")
def reply():
    lines = []
    while True:
        l = f.readline().decode()
        if not l:
            sys.exit("connection closed")
        lines.append(l.rstrip()); print("<-", l.rstrip())
        if len(l) < 4 or l[3] != "-":
            return lines
def cmd(c, data=b""):
    print("->", c); s.sendall(c.encode() + b"\r\n")
    if data:              # the chunk in its own segment(s) after the BDAT line
        s.sendall(data)
    return reply()
reply()
ehlo = cmd("EHLO client.example.net")
if not any("CHUNKING" in l for l in ehlo):
    sys.exit("server does not advertise CHUNKING")
cmd("MAIL FROM:<sender@example.net>")
cmd("RCPT TO:<rcpt@example.test>")
msg = (b"From: sender@example.net\r\nTo: rcpt@example.test\r\nSubject: PathProbe capture BDAT\r\n"
       b"Message-Id: <pathprobe-bdat@client.example.net>\r\n\r\n"
       + b"".join(b"Line %03d of a message sent with BDAT (RFC 3030 CHUNKING), no dot-stuffing.\r\n" % i
                  for i in range(1, 61)))
chunks = [msg[0:2000], msg[2000:4000], msg[4000:]]
for i, c in enumerate(chunks):
    last = " LAST" if i == len(chunks) - 1 else ""
    r = cmd("BDAT %d%s" % (len(c), last), c)
    if not r[-1].startswith("250"):
        sys.exit("BDAT rejected")
cmd("QUIT")
EOF
  start_capture "$NS_CLI" "$IF_CLI" "$f"; local cap=$CAP_PID
  nsx "$NS_CLI" timeout 20 $PY "$cli" "$SRV4" >"$TMP/bdat-client.log" 2>&1 || log "  bdat client failed: $(tail -3 "$TMP/bdat-client.log")"
  stop_capture "$cap"
  teardown
  check "$name: CHUNKING advertised" "$(yes_if "$(tcount "$f" 'smtp.rsp.parameter == "CHUNKING"') >= 1")"
  check "$name: 3 BDAT commands" "$(yes_if "$(tcount "$f" 'smtp.req.command == "BDAT"') == 3")"
  check "$name: client log shows 3 x 250 to BDAT and 'queued as'" "$(yes_if "$(grep -c '^<- 250 2.0.0 Ok' "$TMP/bdat-client.log") == 3 && $(grep -c 'queued as' "$TMP/bdat-client.log") == 1")"
  check "$name: 221 at the end" "$(yes_if "$(tcount "$f" 'smtp.response.code == 221') == 1")"
  finish_file "$f"
}

cap_smtp_421() {
  local name=smtp-421-ratelimit f="$TMP/smtp-421-ratelimit.pcap" i
  log "== $name: Postfix connection rate limit 2/min (anvil); third connection gets 421; capture at client"
  setup_topology 1500 1500 1500 1500 4
  # the client is in mynetworks, which is exempt from anvil limits by default
  POSTFIX_EXTRA="smtpd_client_connection_rate_limit = 2
smtpd_client_event_limit_exceptions ="
  start_smtp_server "$SRV4"
  POSTFIX_EXTRA=""
  start_capture "$NS_CLI" "$IF_CLI" "$f"; local cap=$CAP_PID
  for i in 1 2 3; do
    send_mail "$SRV4" 20 --to r1@example.test,r2@example.test,r3@example.test,r4@example.test,r5@example.test \
        --body "Mail $i of 3 within one minute."
  done
  stop_capture "$cap"
  teardown
  check "$name: mails 1 and 2 (tcp.stream 0, 1) delivered" "$(yes_if "$(smtp_delivered "$f" 0) + $(smtp_delivered "$f" 1) == 2")"
  check "$name: 421 in connection 3 (tcp.stream 2)" "$(yes_if "$(tcount "$f" 'tcp.stream == 2 && smtp.response.code == 421') == 1")"
  finish_file "$f"
}

cap_smtp_552() {
  local name=smtp-552-size f="$TMP/smtp-552-size.pcap"
  log "== $name: Postfix message_size_limit 100000, 300 KB attachment; capture at client"
  setup_topology 1500 1500 1500 1500 4
  POSTFIX_EXTRA="message_size_limit = 100000"
  start_smtp_server "$SRV4"
  POSTFIX_EXTRA=""
  make_attachment 300000 "$TMP/attach-300k.bin"
  start_capture "$NS_CLI" "$IF_CLI" "$f"; local cap=$CAP_PID
  send_mail "$SRV4" 30 --attach-type application/octet-stream --attach-name report.bin --attach @"$TMP/attach-300k.bin"
  stop_capture "$cap"
  teardown
  check "$name: SIZE 100000 advertised in the EHLO reply" "$(yes_if "$(tcount "$f" 'smtp.rsp.parameter == "SIZE 100000"') == 1")"
  check "$name: 552 reply" "$(yes_if "$(tcount "$f" 'smtp.response.code == 552') == 1")"
  check "$name: no 250 after DATA" "$( [[ $(smtp_delivered "$f" 0) == 0 ]] && echo 1 || echo 0)"
  finish_file "$f"
}

cap_dns_tcp_truncated() {
  local name=dns-tcp-and-truncated f="$TMP/dns-tcp-and-truncated.pcap"
  log "== $name: UDP answer without EDNS truncated (TC=1), dig retries over TCP; capture at client"
  setup_topology 1500 1500 1500 1500 4
  start_nsd
  start_capture "$NS_CLI" "$IF_CLI" "$f"; local cap=$CAP_PID
  local q=(timeout 10 dig @"$DNS4" +time=2 +tries=1)
  nsx "$NS_CLI" "${q[@]}" +noedns TXT big.example.test >"$TMP/dig-big.log" 2>&1 || true
  nsx "$NS_CLI" "${q[@]}" TXT example.test >"$TMP/dig-spf.log" 2>&1 || true
  nsx "$NS_CLI" "${q[@]}" -x "$CLI4" >"$TMP/dig-ptr.log" 2>&1 || true
  nsx "$NS_CLI" "${q[@]}" +tcp MX example.test >"$TMP/dig-mx.log" 2>&1 || true
  stop_capture "$cap"
  teardown
  log "  dig big: $(grep -E 'Truncated|MSG SIZE|status' "$TMP/dig-big.log" | tr '\n' ' ')"
  local tc tcpans
  tc=$(first_frame "$f" 'udp && dns.flags.response == 1 && dns.flags.truncated == 1')
  tcpans=$(first_frame "$f" 'tcp && dns.flags.response == 1 && dns.qry.type == 16 && dns.count.answers == 12')
  check "$name: UDP answer with TC=1 (frame ${tc:-none})" "$(yes_if "${tc:-0} > 0")"
  check "$name: then the full TXT answer over TCP (frame ${tcpans:-none})" "$(yes_if "${tcpans:-0} > ${tc:-999999}")"
  check "$name: SPF TXT answer" "$(yes_if "$(tcount "$f" 'dns.flags.response == 1 && dns.txt contains "v=spf1"') >= 1")"
  check "$name: PTR answer for $CLI4" "$(yes_if "$(tcount "$f" 'dns.flags.response == 1 && dns.qry.type == 12 && dns.count.answers == 1') >= 1")"
  check "$name: MX answer over TCP" "$(yes_if "$(tcount "$f" 'tcp && dns.flags.response == 1 && dns.qry.type == 15 && dns.count.answers >= 1') >= 1")"
  finish_file "$f"
}

cap_smtp_mru1424_timeout() {
  local name=smtp-mru1424-timeout f="$TMP/smtp-mru1424-timeout.pcap"
  log "== $name: the MRU 1424 black hole with Postfix smtpd_timeout = 10s: the server gives up on the stalled DATA (421 4.4.2); capture at client"
  setup_topology 1500 1424 1500 1500 4
  POSTFIX_EXTRA="smtpd_timeout = 10s"
  start_smtp_server "$SRV4"
  POSTFIX_EXTRA=""
  make_attachment 200000 "$TMP/attach-200k.bin"
  start_capture "$NS_CLI" "$IF_CLI" "$f"; local cap=$CAP_PID
  send_mail "$SRV4" 40 --timeout 30s --attach-type application/octet-stream --attach-name report.bin --attach @"$TMP/attach-200k.bin"
  stop_capture "$cap"
  teardown
  local rtx t421
  rtx=$(tcount "$f" 'tcp.analysis.retransmission && frame.len == 1514')
  t421=$(tcount "$f" 'smtp.response.code == 421 && smtp.rsp.parameter contains "4.4.2"')
  check "$name: the client resent full-size (1514) frames $rtx times" "$(yes_if "$rtx >= 3")"
  check "$name: Postfix answered 421 4.4.2 (timeout) while the data stalled" "$(yes_if "$t421 == 1")"
  check "$name: no 250 after DATA" "$( [[ $(smtp_delivered "$f" 0) == 0 ]] && echo 1 || echo 0)"
  finish_file "$f"
}

cap_smtp_proxies() {
  local name=smtp-proxies f="$TMP/smtp-proxies.pcap" d="$TMP/proxies" i t port
  log "== $name: mail through an HTTP CONNECT proxy (tinyproxy :8888) and SOCKS 5 / SOCKS 4 (Dante :1080) with curl, and with a PROXY v1 / v2 header (swaks) to Postfix :10025; capture at client"
  for t in tinyproxy danted curl; do command -v $t >/dev/null 2>&1 || die "$name needs $t (apt-get install tinyproxy dante-server curl)"; done
  mkdir -p "$d"; chmod 0755 "$d"
  setup_topology 1500 1500 1500 1500 4
  # Postfix also listens on 10025 for connections that start with a PROXY header (Postfix 3.5+ reads v1 and v2).
  POSTFIX_MASTER_EXTRA="$SRV4:10025 inet n - n - - smtpd -o smtpd_upstream_proxy_protocol=haproxy"
  start_smtp_server "$SRV4"
  POSTFIX_MASTER_EXTRA=""
  cat >"$d/tinyproxy.conf" <<EOF
User nobody
Group nogroup
Port 8888
Listen $SRV4
Timeout 30
MaxClients 5
Allow 198.51.100.0/24
ConnectPort 25
LogFile "$d/tinyproxy.log"
LogLevel Info
EOF
  touch "$d/tinyproxy.log"; chown nobody "$d/tinyproxy.log"
  ip netns exec "$NS_SRV" timeout 120 tinyproxy -d -c "$d/tinyproxy.conf" >"$d/tinyproxy.out" 2>&1 &
  PIDS+=($!)
  cat >"$d/danted.conf" <<EOF
logoutput: $d/danted.log
internal: $SRV4 port = 1080
external: $SRV4
clientmethod: none
socksmethod: none
user.privileged: root
user.unprivileged: nobody
client pass { from: 198.51.100.0/24 to: 0.0.0.0/0 }
socks pass { from: 198.51.100.0/24 to: 0.0.0.0/0 command: connect }
EOF
  ip netns exec "$NS_SRV" timeout 120 danted -f "$d/danted.conf" -p "$d/danted.pid" >"$d/danted.out" 2>&1 &
  PIDS+=($!)
  for port in 8888 1080; do
    for i in $(seq 1 50); do nsx "$NS_SRV" ss -Hltn "sport = :$port" | grep -q . && break; sleep 0.1; done
    nsx "$NS_SRV" ss -Hltn "sport = :$port" | grep -q . || die "proxy on :$port did not come up: $(cat "$d"/*.out "$d"/*.log 2>/dev/null)"
  done
  printf 'From: sender@example.net\r\nTo: rcpt@example.test\r\nSubject: PathProbe capture through a proxy\r\nMessage-Id: <pathprobe-proxy@client.example.net>\r\n\r\nA short mail sent through a proxy.\r\n' >"$d/mail.txt"
  start_capture "$NS_CLI" "$IF_CLI" "$f"; local cap=$CAP_PID
  local curl_smtp=(timeout 25 curl --silent --show-error --max-time 20 --url "smtp://$SRV4:25/client.example.net"
                   --mail-from sender@example.net --mail-rcpt rcpt@example.test --upload-file "$d/mail.txt")
  nsx "$NS_CLI" "${curl_smtp[@]}" --proxy "http://$SRV4:8888" --proxytunnel >"$d/curl-http.log" 2>&1 || log "  curl via HTTP CONNECT failed: $(cat "$d/curl-http.log")"
  nsx "$NS_CLI" "${curl_smtp[@]}" --proxy "socks5://$SRV4:1080" >"$d/curl-socks5.log" 2>&1 || log "  curl via SOCKS 5 failed: $(cat "$d/curl-socks5.log")"
  nsx "$NS_CLI" "${curl_smtp[@]}" --proxy "socks4://$SRV4:1080" >"$d/curl-socks4.log" 2>&1 || log "  curl via SOCKS 4 failed: $(cat "$d/curl-socks4.log")"
  send_mail "$SRV4" 20 --port 10025 --proxy-version 1 --proxy-family TCP4 --proxy-source 192.0.2.7 --proxy-source-port 40512 \
      --proxy-dest "$SRV4" --proxy-dest-port 25
  send_mail "$SRV4" 20 --port 10025 --proxy-version 2 --proxy-family AF_INET --proxy-source 192.0.2.8 --proxy-source-port 40513 \
      --proxy-dest "$SRV4" --proxy-dest-port 25
  stop_capture "$cap"
  teardown
  check "$name: five mails queued by Postfix (five 'Ok: queued as')" "$(yes_if "$(tcount "$f" 'frame contains "Ok: queued as"') == 5")"
  check "$name: HTTP CONNECT answered 200 on :8888" "$(yes_if "$(tcount "$f" 'tcp.srcport == 8888 && frame contains " 200 "') >= 1")"
  check "$name: two SOCKS connections on :1080" "$(yes_if "$(tcount "$f" 'tcp.dstport == 1080 && tcp.flags.syn == 1 && tcp.flags.ack == 0') == 2")"
  check "$name: a PROXY v1 header on :10025" "$(yes_if "$(tcount "$f" 'tcp.dstport == 10025 && frame contains "PROXY TCP4 192.0.2.7"') == 1")"
  check "$name: a PROXY v2 header on :10025" "$(yes_if "$(tcount "$f" 'tcp.dstport == 10025 && frame contains 0d:0a:0d:0a:00:0d:0a:51:55:49:54:0a') == 1")"
  finish_file "$f"
}

run_capture() {
  case $1 in
    smtp-healthy-ipv4) cap_smtp_healthy 4 ;;
    smtp-healthy-ipv6) cap_smtp_healthy 6 ;;
    smtp-mru1424|smtp-mru1424-sender|smtp-mru1424-receiver) cap_smtp_mru1424 ;;
    dns-fragmented)    cap_dns_fragmented ;;
    smtp-random-loss)  cap_smtp_random_loss ;;
    smtp-mru1424-probing-sender) cap_smtp_mru1424_probing ;;
    smtp-icmp-too-big-ipv4) cap_smtp_icmp_too_big 4 ;;
    smtp-icmp-too-big-ipv6) cap_smtp_icmp_too_big 6 ;;
    smtp-icmp-filtered) cap_smtp_icmp_filtered ;;
    dns-fragment-lost) cap_dns_fragment_lost ;;
    smtp-zero-window)  cap_smtp_zero_window ;;
    tcp-connect-timeout|tcp-connect-refused) cap_tcp_connect ;;
    smtp-retrans-storm-blackhole) cap_smtp_retrans_storm ;;
    smtp-pipelining-multi-rcpt) cap_smtp_pipelining ;;
    smtp-starttls)     cap_smtp_starttls ;;
    smtp-bdat)         cap_smtp_bdat ;;
    smtp-421-ratelimit) cap_smtp_421 ;;
    smtp-552-size)     cap_smtp_552 ;;
    dns-tcp-and-truncated) cap_dns_tcp_truncated ;;
    smtp-mru1424-timeout) cap_smtp_mru1424_timeout ;;
    smtp-proxies)      cap_smtp_proxies ;;
    *) die "unknown capture '$1' (known: ${ALL_CAPTURES[*]})" ;;
  esac
}

main() {
  case ${1:-} in -h|--help) usage; exit 0;; --list) printf '%s\n' "${ALL_CAPTURES[@]}"; exit 0;; esac
  preflight "$@"
  local names=("$@"); ((${#names[@]})) || names=("${ALL_CAPTURES[@]}")
  local n; for n in "${names[@]}"; do n=${n%.pcap}; case " ${ALL_CAPTURES[*]} smtp-mru1424-sender smtp-mru1424-receiver tcp-connect-refused " in *" $n "*) ;; *) die "unknown capture '$n' (known: ${ALL_CAPTURES[*]})";; esac; done
  mkdir -p "$OUT_DIR"
  TMP=$(mktemp -d /tmp/pathprobe-record.XXXXXX)
  chmod 0755 "$TMP"
  trap on_exit EXIT
  trap 'exit 130' INT TERM
  for n in "${names[@]}"; do run_capture "${n%.pcap}"; done
  if ((FAILS)); then log "$FAILS check(s) FAILED"; exit 2; fi
  log "all checks passed"
}

main "$@"
