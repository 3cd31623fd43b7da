#!/usr/bin/env bash
# Runs every PathProbe test. On Debian, as root, it first installs what the tests use when it is missing
# (tshark, nsd, unbound, dig, libpcap, tcpdump, ...); elsewhere it says what is missing and those tests report themselves skipped.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=()
command -v tshark  >/dev/null 2>&1 || packages+=(tshark)
command -v mergecap >/dev/null 2>&1 || packages+=(wireshark-common)
# nsd lives in /usr/sbin, which is not on every PATH (the DNS tests look there too).
{ command -v nsd >/dev/null 2>&1 || [ -x /usr/sbin/nsd ]; } || packages+=(nsd)
command -v dig     >/dev/null 2>&1 || packages+=(bind9-dnsutils)
# unbound (also in /usr/sbin) is the recursive resolver the DNS tests put in front of nsd; publicsuffix is the
# Public Suffix List DMARC's organizational domain is read from (the shipped copy is tested too).
{ command -v unbound >/dev/null 2>&1 || [ -x /usr/sbin/unbound ]; } || packages+=(unbound)
[ -f /usr/share/publicsuffix/public_suffix_list.dat ] || packages+=(publicsuffix)
# Live-capture tests: libpcap, and tcpdump/tcpreplay for the benchmark and cross-checks; ip, ethtool and python3
# for the namespace tests.
ldconfig -p 2>/dev/null | grep -q libpcap.so.0.8 || packages+=(libpcap0.8)
command -v tcpdump   >/dev/null 2>&1 || packages+=(tcpdump)
command -v tcpreplay >/dev/null 2>&1 || packages+=(tcpreplay)
command -v ip        >/dev/null 2>&1 || packages+=(iproute2)
# The TUI end-to-end test drives the real program in tmux.
command -v tmux      >/dev/null 2>&1 || packages+=(tmux)
command -v ethtool   >/dev/null 2>&1 || packages+=(ethtool)
# ISA-L's gzip inflater (used for gzip captures when installed): IsalInflateStreamTests.
ldconfig -p 2>/dev/null | grep -q libisal.so.2 || packages+=(libisal2)
# The metadata-bomb tests measure the real command's peak RSS with /usr/bin/time -v.
[ -x /usr/bin/time ] || packages+=(time)
[ -x /usr/bin/python3 ] || packages+=(python3)
# pathprobe probe and the black-hole fixes (tests/PathProbe.Probe.Tests): nft, iptables, ping, swaks (with IPv6) and
# aiosmtpd as the mail server, in network namespaces.
command -v nft       >/dev/null 2>&1 || [ -x /usr/sbin/nft ] || packages+=(nftables)
command -v iptables  >/dev/null 2>&1 || [ -x /usr/sbin/iptables ] || packages+=(iptables)
command -v ping      >/dev/null 2>&1 || packages+=(iputils-ping)
command -v swaks     >/dev/null 2>&1 || packages+=(swaks)
perl -MIO::Socket::INET6 -e1 >/dev/null 2>&1 || packages+=(libio-socket-inet6-perl)
/usr/bin/python3 -c 'import aiosmtpd' >/dev/null 2>&1 || packages+=(python3-aiosmtpd)
# Fleet (issue 20): promtool checks the alert rules, and a real Prometheus scrapes a live capture (package prometheus).
command -v promtool  >/dev/null 2>&1 || packages+=(prometheus)
if [ ${#packages[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "test.sh: installing ${packages[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null
    apt-get install -y -qq --no-install-recommends "${packages[@]}" >/dev/null
  else
    echo "test.sh: missing ${packages[*]} (sudo apt-get install ${packages[*]}); the tests that need them (tshark cross-checks, nsd/unbound-backed DNS, live capture, probe and fixes in namespaces) will say they were skipped" >&2
  fi
fi

log=$(mktemp)
trap 'rm -f "$log"' EXIT
set +e
dotnet test PathProbe.sln -c Release --nologo 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
set -e

# One closing line in the plain form CI tools read: "N passed, N failed, N skipped".
awk '/(Passed|Failed)!/ { for (i = 1; i <= NF; i++) { g = $(i); gsub(",", "", $(i+1));
       if (g == "Failed:") f += $(i+1); if (g == "Passed:") p += $(i+1); if (g == "Skipped:") s += $(i+1) } }
     END { printf "%d passed, %d failed, %d skipped\n", p, f, s }' "$log"
exit "$status"
