#!/usr/bin/env bash
# Times `pathprobe analyze` beside tshark and a plain read of the same large capture, in one run, and prints ratios.
#
#   bash benchmarks/compare.sh [--size MB] [--source CAPTURE] [--keep]
#
# The large capture is built from a bundled one: 32 copies with addresses randomised by `tcprewrite --seed`
# and shifted in time with `editcap -t` make a block; the block is repeated up to --size MB, each repeat with
# new addresses and shifted in time again.
# Everything is timed from the page cache (each file is read once before timing). Needs tcpreplay,
# wireshark-common (editcap, mergecap) and tshark; as root on Debian they are installed when missing.
set -euo pipefail
cd "$(dirname "$0")/.."

size_mb=1024
source_capture=captures/smtp-healthy-ipv4.pcap
keep=0
while [ $# -gt 0 ]; do
  case "$1" in
    --size) size_mb=$2; shift 2 ;;
    --source) source_capture=$2; shift 2 ;;
    --keep) keep=1; shift ;;
    -h|--help) sed -n '2,10p' "$0"; exit 0 ;;
    *) echo "compare.sh: unknown option $1" >&2; exit 2 ;;
  esac
done

need=()
for t in tcprewrite:tcpreplay editcap:wireshark-common mergecap:wireshark-common tshark:tshark /usr/bin/time:time; do
  command -v "${t%%:*}" >/dev/null 2>&1 || need+=("${t##*:}")
done
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
  else
    echo "compare.sh: please install: ${need[*]}" >&2; exit 2
  fi
fi

work=$(mktemp -d /tmp/pathprobe-bench.XXXXXX)
cleanup() { [ "$keep" = 1 ] && echo "kept $work" || rm -rf "$work"; }
trap cleanup EXIT

echo "== building pathprobe (Release, ReadyToRun)"
dotnet publish src/PathProbe.Cli -c Release -r linux-x64 --self-contained false -p:PublishReadyToRun=true -o "$work/bin" --nologo -v q >/dev/null
pathprobe="$work/bin/pathprobe"

echo "== building a ${size_mb} MB capture from $source_capture"
duration=$(capinfos -u -M "$source_capture" | awk -F': *' '/Capture duration/ { print int($2) + 2 }')
parts=()
for i in $(seq 1 32); do
  tcprewrite --seed="$i" --fixcsum --infile="$source_capture" --outfile="$work/s$i.pcap"
  editcap -F pcap -t $(( (i - 1) * duration )) "$work/s$i.pcap" "$work/t$i.pcap"
  parts+=("$work/t$i.pcap")
done
mergecap -a -F pcap -w "$work/block.pcap" "${parts[@]}"
rm -f "$work"/s*.pcap "$work"/t*.pcap
block_bytes=$(stat -c %s "$work/block.pcap")
block_span=$(( 32 * duration ))
copies=$(( (size_mb * 1024 * 1024 + block_bytes - 1) / block_bytes ))
cp "$work/block.pcap" "$work/big.pcap"
for i in $(seq 2 "$copies"); do
  # Each repeat gets its own addresses (a repeat with the same addresses, ports and ISNs would be analysed as
  # one long retransmission of the first) and its own time.
  tcprewrite --seed="$((1000 + i))" --fixcsum --infile="$work/block.pcap" --outfile="$work/seeded.pcap"
  editcap -F pcap -t $(( (i - 1) * block_span )) "$work/seeded.pcap" "$work/shift.pcap"
  tail -c +25 "$work/shift.pcap" >> "$work/big.pcap"   # pcap records without the 24-byte file header
done
rm -f "$work/shift.pcap" "$work/seeded.pcap"
big="$work/big.pcap"
bytes=$(stat -c %s "$big")
packets=$(capinfos -c -M "$big" | awk -F': *' '/Number of packets/ { print $2 }')
echo "   $big: $bytes bytes, $packets packets"

cat "$big" > /dev/null  # into the page cache
runs=3
run() { # name, command...: best of $runs runs (tshark: one run); prints seconds and peak RSS (kB)
  local name=$1; shift
  local n=$runs secs=999999 rss=0 s m
  case "$name" in tshark*) n=1 ;; esac
  for _ in $(seq 1 "$n"); do
    /usr/bin/time -f "%e %M" -o "$work/time" "$@" > /dev/null 2> "$work/err" || { echo "$name failed:"; cat "$work/err"; exit 1; }
    read -r s m < "$work/time"
    if [ "$(echo "$s < $secs" | bc -l)" = 1 ]; then secs=$s; fi
    [ "$m" -gt "$rss" ] && rss=$m
  done
  printf '%-34s %8.2f s  %9.1f MiB/s  peak RSS %7.1f MiB\n' "$name" "$secs" "$(echo "$bytes / 1048576 / $secs" | bc -l)" "$(echo "$rss / 1024" | bc -l)"
  eval "t_$name=$secs; m_$name=$rss"
}
echo "== timing (same file, page cache; best of $runs runs, tshark one run)"
run plain_read cat "$big"
run pathprobe "$pathprobe" analyze --quiet "$big"
run pathprobe_flows_only "$pathprobe" analyze --quiet --no-tcp-analysis "$big"
run pathprobe_json "$pathprobe" analyze --quiet --json "$big"
run tshark_conv tshark -n -r "$big" -q -z conv,tcp
run tshark_expert tshark -n -r "$big" -q -z expert
run pathprobe_block "$pathprobe" analyze --quiet "$work/block.pcap"

echo "== ratios"
printf 'pathprobe / plain read         %6.2f x the time\n' "$(echo "$t_pathprobe / $t_plain_read" | bc -l)"
printf 'full analysis / decode + flows %6.2f x the time\n' "$(echo "$t_pathprobe / $t_pathprobe_flows_only" | bc -l)"
printf 'tshark conv,tcp / pathprobe    %6.1f x slower than pathprobe\n' "$(echo "$t_tshark_conv / $t_pathprobe" | bc -l)"
printf 'tshark expert / pathprobe      %6.1f x slower than pathprobe\n' "$(echo "$t_tshark_expert / $t_pathprobe" | bc -l)"
printf 'pathprobe throughput           %6.2f GB/s (%s packets/s)\n' "$(echo "$bytes / 1000000000 / $t_pathprobe" | bc -l)" "$(echo "$packets / $t_pathprobe" | bc)"
printf 'peak RSS %s MiB on %s MiB vs %s MiB on the %s MiB block\n' "$(( m_pathprobe / 1024 ))" "$(( bytes / 1048576 ))" "$(( m_pathprobe_block / 1024 ))" "$(( block_bytes / 1048576 ))"
