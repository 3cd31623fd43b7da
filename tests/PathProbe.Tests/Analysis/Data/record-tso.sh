#!/usr/bin/env bash
# Records smtp-tso-superframe.pcap (as root): client (TSO/GSO on) -- router (forwarding; its server-side veth has
# TSO/GSO off, so it segments the client's super-frames into 1,500-byte packets) -- server whose veth MTU is 1424 while
# it advertises MSS 1460: an MRU black hole. tcpdump at the client's veth sees the super-frames the kernel handed to the
# NIC (7,292 bytes) and the 1,500-byte RTO resends; tcp_mtu_probing=0 at the client. A python server sends a 220 banner,
# the client sends 60 kB. Namespaces carry the shell's pid and are deleted on exit; every program is bounded by timeout.
# Recorded on Linux 6.18 with tcpdump 4.99.3, iproute2 6.1.0, ethtool 6.1.
set -e
OUT=${1:?usage: record-tso.sh OUT.pcap}
P=$$; C=pptc$P; R=pptr$P; S=ppts$P
for n in $C $R $S; do ip netns add $n; done
trap 'for n in $C $R $S; do ip netns del $n; done' EXIT
ip -n $C link add c$P type veth peer name rc$P netns $R
ip -n $R link add rs$P type veth peer name s$P netns $S
ip -n $C addr add 198.51.100.10/24 dev c$P; ip -n $R addr add 198.51.100.1/24 dev rc$P
ip -n $R addr add 203.0.113.1/24 dev rs$P; ip -n $S addr add 203.0.113.25/24 dev s$P
for x in "$C lo" "$C c$P" "$R lo" "$R rc$P" "$R rs$P" "$S lo" "$S s$P"; do set -- $x; ip -n $1 link set $2 up; done
ip -n $C route add default via 198.51.100.1; ip -n $S route add default via 203.0.113.1
ip netns exec $R sysctl -qw net.ipv4.ip_forward=1
ip -n $S link set s$P mtu 1424
ip -n $S route replace default via 203.0.113.1 advmss 1460
ip -n $S route replace 203.0.113.0/24 dev s$P advmss 1460
ip netns exec $C ethtool -K c$P tso on gso on >/dev/null
ip netns exec $R ethtool -K rc$P gro off >/dev/null; ip netns exec $R ethtool -K rs$P tso off gso off >/dev/null
ip netns exec $S ethtool -K s$P tso off gso off gro off >/dev/null
ip netns exec $C sysctl -qw net.ipv4.tcp_mtu_probing=0
ip netns exec $C timeout 30 tcpdump -i c$P -s 0 -U -w "$OUT" tcp port 25 2>/dev/null & TD=$!
sleep 1
ip netns exec $S timeout 25 python3 -c '
import socket
s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(("203.0.113.25",25)); s.listen(1); s.settimeout(10)
c,_=s.accept(); c.settimeout(20); c.sendall(b"220 mx.example.net ESMTP\r\n")
try:
  while c.recv(65536): pass
except OSError: pass
' & SV=$!
sleep 0.5
ip netns exec $C timeout 15 python3 -c '
import socket
s=socket.create_connection(("203.0.113.25",25),timeout=14); s.recv(100)
try:
  s.sendall(b"EHLO x\r\n"+b"x"*60000); s.recv(100)
except OSError: pass
' || true
sleep 0.5; kill -INT $TD; wait $TD || true
kill $SV 2>/dev/null || true; wait $SV 2>/dev/null || true
