#!/usr/bin/env bash
# Runs every PathProbe test. On Debian, as root, it first installs what the tests use when it is missing
# (tshark for the cross-checks); elsewhere it says what is missing and those checks report themselves skipped.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=()
command -v tshark  >/dev/null 2>&1 || packages+=(tshark)
command -v mergecap >/dev/null 2>&1 || packages+=(wireshark-common)
# Live-capture tests: libpcap, and tcpdump/tcpreplay for the benchmark and cross-checks.
ldconfig -p 2>/dev/null | grep -q libpcap.so.0.8 || packages+=(libpcap0.8)
command -v tcpdump   >/dev/null 2>&1 || packages+=(tcpdump)
command -v tcpreplay >/dev/null 2>&1 || packages+=(tcpreplay)
if [ ${#packages[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "test.sh: installing ${packages[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null
    apt-get install -y -qq --no-install-recommends "${packages[@]}" >/dev/null
  else
    echo "test.sh: missing ${packages[*]} (sudo apt-get install ${packages[*]}); the tshark cross-checks and live-capture tests will be skipped" >&2
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
