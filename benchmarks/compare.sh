#!/usr/bin/env bash
# Times PathProbe beside cat, a C libpcap loop, tcptrace and tshark on three kinds of real traffic, in one run,
# and prints times, throughput, peak RSS and ratios.
#
#   sudo bash benchmarks/compare.sh [--sets abc] [--large] [--runs N] [--pathprobe PATH] [--gzip]
#                                   [--rebuild] [--build-only] [--cache DIR]
#
#   (a) bulk mail: 100 SMTP sessions with 2-400 kB attachments recorded in namespaces by record-traffic.sh
#       (swaks into aiosmtpd, real kernels), x30 with distinct addresses = 3,000 sessions, 524 MB;
#       --large adds (a-large): x180 = 18,000 sessions, 3.1 GB.
#   (b) many short SMTP sessions: captures/smtp-healthy-ipv4.pcap (one session, a 200 kB mail, 239 packets,
#       recorded by captures/record.sh), x32 into a block, the block repeated up to 512 MiB (1,824 sessions).
#   (c) DNS-heavy: 5,000 queries recorded by record-traffic.sh (nsd behind a router that fragments; large TXT and
#       SPF answers over UDP, some over TCP, truncation), x40 = 200,000 queries, 533 MB.
# Copies get their own addresses (tcprewrite --seed) and times (editcap -t). The files are built once into the
# cache directory (default ${XDG_CACHE_HOME:-~/.cache}/pathprobe-bench; --rebuild makes them again) and timed from
# the page cache. Each command runs --runs times (default 3) and the best time counts; tshark runs once. Peak RSS
# is the largest of the runs. Recording needs root (network namespaces); the tools are installed with apt when
# missing and the script runs as root. --gzip also times `pathprobe analyze` on a gzip -6 copy of each file (made once
# into the cache) against the plain file.
set -euo pipefail
cd "$(dirname "$0")/.."

sets=abc; large=0; build_only=0; gzip_too=0; runs=3; pathprobe=""; rebuild=0
cache=${PATHPROBE_BENCH_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/pathprobe-bench}
while [ $# -gt 0 ]; do
  case "$1" in
    --sets) sets=$2; shift 2 ;;
    --large) large=1; shift ;;
    --runs) runs=$2; shift 2 ;;
    --pathprobe) pathprobe=$(realpath "$2"); shift 2 ;;
    --rebuild) rebuild=1; shift ;;
    --build-only) build_only=1; shift ;;
    --gzip) gzip_too=1; shift ;;
    --cache) cache=$2; shift 2 ;;
    -h|--help) sed -n '2,20p' "$0"; exit 0 ;;
    *) echo "compare.sh: unknown option $1" >&2; exit 2 ;;
  esac
done

need=()
for t in tcprewrite:tcpreplay editcap:wireshark-common capinfos:wireshark-common tshark:tshark /usr/bin/time:time \
         bc:bc tcptrace:tcptrace gcc:gcc swaks:swaks nsd:nsd dig:bind9-dnsutils tcpdump:tcpdump ethtool:ethtool; do
  command -v "${t%%:*}" >/dev/null 2>&1 || need+=("${t##*:}")
done
[ -e /usr/include/pcap/pcap.h ] || need+=(libpcap-dev)
/usr/bin/python3 -c 'import aiosmtpd' 2>/dev/null || need+=(python3-aiosmtpd)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
  else
    echo "compare.sh: please install: ${need[*]}" >&2; exit 2
  fi
fi

mkdir -p "$cache"
work=$(mktemp -d /tmp/pathprobe-compare.XXXXXX)
trap 'rm -rf "$work"' EXIT

echo "== machine: $(nproc) cores, $(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo), $(date -u +%Y-%m-%dT%H:%MZ)"
echo "   load before: $(cut -d' ' -f1-3 /proc/loadavg)"

gcc -O2 -Wall -o "$work/flowfloor" benchmarks/flowfloor/flowfloor.c -lpcap

# multiply SRC COPIES SEED0 OUT: COPIES copies of SRC, copy i with addresses randomised by seed SEED0+i and shifted
# in time after the previous one; pcap records appended behind one file header.
multiply() {
  local src=$1 copies=$2 seed0=$3 out=$4 span i
  span=$(capinfos -u -M "$src" | awk -F': *' '/Capture duration/ { print int($2) + 2 }')
  head -c 24 "$src" > "$out.tmp"
  for i in $(seq 1 "$copies"); do
    # (tcprewrite warns about a few IPv6 answers it cannot checksum; it writes them unchanged)
    tcprewrite --seed=$((seed0 + i)) --fixcsum --infile="$src" --outfile="$work/seeded.pcap" 2> /dev/null
    editcap -F pcap -t $(( (i - 1) * span )) "$work/seeded.pcap" "$work/shifted.pcap"
    tail -c +25 "$work/shifted.pcap" >> "$out.tmp"
  done
  rm -f "$work/seeded.pcap" "$work/shifted.pcap"
  mv "$out.tmp" "$out"
}

# Recipes carry a version: a changed recipe builds its file again.
build_set() { # NAME
  local f="$cache/$1.pcap"
  [ "$rebuild" = 0 ] && [ -s "$f" ] && return 0
  case "$1" in
    a-bulk-mail-v1)
      [ -s "$cache/bulk-mail-block-v1.pcap" ] && [ "$rebuild" = 0 ] ||
        bash benchmarks/record-traffic.sh bulk-mail "$cache/bulk-mail-block-v1.pcap" --sessions 100
      multiply "$cache/bulk-mail-block-v1.pcap" 30 0 "$f" ;;
    a-large-bulk-mail-v1)
      build_set a-bulk-mail-v1
      multiply "$cache/bulk-mail-block-v1.pcap" 180 1000 "$f" ;;
    b-small-mail-v1)
      multiply captures/smtp-healthy-ipv4.pcap 32 0 "$work/block.pcap"
      local bytes copies
      bytes=$(stat -c %s "$work/block.pcap")
      copies=$(( (512 * 1048576 + bytes - 1) / bytes ))
      multiply "$work/block.pcap" "$copies" 1000 "$f" ;;
    c-dns-v1)
      [ -s "$cache/dns-block-v1.pcap" ] && [ "$rebuild" = 0 ] ||
        bash benchmarks/record-traffic.sh dns "$cache/dns-block-v1.pcap" --queries 5000
      multiply "$cache/dns-block-v1.pcap" 40 0 "$f" ;;
  esac
}

names=()
case "$sets" in *a*) names+=(a-bulk-mail-v1) ;; esac
[ "$large" = 1 ] && names+=(a-large-bulk-mail-v1)
case "$sets" in *b*) names+=(b-small-mail-v1) ;; esac
case "$sets" in *c*) names+=(c-dns-v1) ;; esac
echo "== traffic (cache: $cache)"
for n in "${names[@]}"; do
  build_set "$n"
  f="$cache/$n.pcap"
  read -r _ packets _ _ _ _ _ flows _ < <("$work/flowfloor" "$f")
  printf '   %-22s %6d MB  %9s packets  %6s flows (5-tuples)\n' "$n" "$(( $(stat -c %s "$f") / 1000000 ))" "$packets" "$flows"
done
[ "$build_only" = 1 ] && exit 0

if [ -z "$pathprobe" ]; then
  echo "== building pathprobe (dotnet publish -c Release: NativeAOT)"
  dotnet publish src/PathProbe.Cli -c Release -o "$work/bin" --nologo -v q >/dev/null
  pathprobe="$work/bin/pathprobe"
fi
echo "== pathprobe: $pathprobe"

# time_cmd LABEL RUNS CMD...: best wall time, best CPU time (user + system) and largest peak RSS of RUNS runs; sets T,
# C and M. CPU time is what the command itself used: on a loaded machine it stays put while wall time grows.
# PathProbe exits 1 when it found critical findings: that is a successful run.
time_cmd() {
  local label=$1 n=$2 s m u k best=999999 cpu=999999 rss=0 rc; shift 2
  for _ in $(seq 1 "$n"); do
    rc=0
    /usr/bin/time -f "%e %M %U %S" -o "$work/time" "$@" > /dev/null 2> "$work/err" || rc=$?
    if [ "$rc" -gt 1 ]; then echo "$label failed (exit $rc):" >&2; tail -5 "$work/err" >&2; exit 1; fi
    read -r s m u k < <(tail -1 "$work/time")
    if [ "$(echo "$s < $best" | bc -l)" = 1 ]; then best=$s; fi
    if [ "$(echo "$u + $k < $cpu" | bc -l)" = 1 ]; then cpu=$(echo "$u + $k" | bc -l); fi
    [ "$m" -gt "$rss" ] && rss=$m
  done
  T=$best; C=$cpu; M=$rss
}

ratio() { [ "$(echo "$2 > 0" | bc -l)" = 1 ] && printf '%.2f' "$(echo "$1 / $2" | bc -l)" || echo "-"; }

labels=("cat" "C loop (libpcap, decode + flow hash)" "tcptrace -n -l" "pathprobe analyze --no-tcp-analysis"
        "pathprobe analyze" "pathprobe analyze --json" "tshark -q -z conv,tcp")
report="$work/report.md"
: > "$report"
for n in "${names[@]}"; do
  f="$cache/$n.pcap"
  bytes=$(stat -c %s "$f")
  cat "$f" > /dev/null  # into the page cache
  echo "== $n: timing (best of $runs; tshark 1 run), load $(cut -d' ' -f1 /proc/loadavg)"
  declare -a T_=() C_=() M_=()
  time_cmd cat "$runs" cat "$f"; T_[0]=$T; C_[0]=$C; M_[0]=$M
  time_cmd flowfloor "$runs" "$work/flowfloor" "$f"; T_[1]=$T; C_[1]=$C; M_[1]=$M
  time_cmd tcptrace "$runs" tcptrace -n -l "$f"; T_[2]=$T; C_[2]=$C; M_[2]=$M
  time_cmd pathprobe "$runs" "$pathprobe" analyze --quiet --no-tcp-analysis "$f"; T_[3]=$T; C_[3]=$C; M_[3]=$M
  time_cmd pathprobe "$runs" "$pathprobe" analyze --quiet "$f"; T_[4]=$T; C_[4]=$C; M_[4]=$M
  time_cmd pathprobe "$runs" "$pathprobe" analyze --quiet --json "$f"; T_[5]=$T; C_[5]=$C; M_[5]=$M
  time_cmd tshark 1 tshark -n -r "$f" -q -z conv,tcp; T_[6]=$T; C_[6]=$C; M_[6]=$M
  {
    echo
    echo "$n: $(( bytes / 1000000 )) MB, load $(cut -d' ' -f1 /proc/loadavg) after the run"
    echo
    echo "| command | time | CPU time | throughput | peak RSS | ÷ cat | ÷ C loop | ÷ tcptrace | ÷ tshark |"
    echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|"
    for i in "${!labels[@]}"; do
      printf '| %s | %.2f s | %.2f s | %s MB/s | %.0f MB | %s | %s | %s | %s |\n' "${labels[$i]}" "${T_[$i]}" "${C_[$i]}" \
        "$( [ "$(echo "${T_[$i]} > 0" | bc -l)" = 1 ] && printf '%.0f' "$(echo "$bytes / 1000000 / ${T_[$i]}" | bc -l)" || echo '>9999')" \
        "$(echo "${M_[$i]} / 1024" | bc -l)" \
        "$(ratio "${T_[$i]}" "${T_[0]}")" "$(ratio "${T_[$i]}" "${T_[1]}")" "$(ratio "${T_[$i]}" "${T_[2]}")" "$(ratio "${T_[$i]}" "${T_[6]}")"
    done
  } | tee -a "$report"
  if [ "$gzip_too" = 1 ]; then
    [ -s "$f.gz" ] || { gzip -6 -c "$f" > "$f.gz.tmp" && mv "$f.gz.tmp" "$f.gz"; }
    cat "$f.gz" > /dev/null
    time_cmd pathprobe "$runs" "$pathprobe" analyze --quiet "$f.gz"
    printf '\n| %s | %.2f s | %.2f s | %.0f MB | %.2f x the plain file'"'"'s time (CPU %.2f x) |\n' "pathprobe analyze FILE.gz ($(( $(stat -c %s "$f.gz") / 1000000 )) MB)" \
      "$T" "$C" "$(echo "$M / 1024" | bc -l)" "$(echo "$T / ${T_[4]}" | bc -l)" "$(echo "$C / ${C_[4]}" | bc -l)" | tee -a "$report"
  fi
done
echo
echo "== time: best wall-clock time; CPU time: best user + system time (the process's own, all threads); ratios: wall"
echo "   time divided by the named command's wall time in this run (below 1: faster); throughput: file MB / wall time"
echo "   load after: $(cut -d' ' -f1-3 /proc/loadavg)"
