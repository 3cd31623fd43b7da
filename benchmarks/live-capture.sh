#!/usr/bin/env bash
# Live-capture throughput: replays a capture onto a veth pair (tcpreplay in one network namespace) while
# `pathprobe capture` and, separately, `tcpdump -w /dev/null` capture on the peer in another; prints packets
# handled per second and drops for each, at top speed and at fixed rates.
#
#   sudo bash benchmarks/live-capture.sh [--copies N] [--loops N] [--rates "10000 50000 100000"] [--pathprobe PATH]
#                                        [--buffer-kib N] [--seconds S] [--no-top] [--keep]
#   sudo bash benchmarks/live-capture.sh --rotation [--rates "200000 300000"] [--loops 130] [--runs 3] [--size-mb 10] [--ring 10] [--disk DIR]
#
# --buffer-kib N gives both capturers the same kernel buffer (pathprobe -B, tcpdump -B; default: each its own, 16 MiB
# and 2 MiB). --seconds S replays only S seconds at each fixed rate (rate x S packets, tcpreplay --limit), started
# right after the capturer says it is capturing: with --seconds 1 the drops are those of the first second, where a
# build that is not compiled ahead of time is still JIT-compiling. --no-top skips the top-speed replay.
#
# --rotation compares writing to disk with rotation: `pathprobe capture -w DIR/pp -C MB -W RING` against
# `tcpdump -w DIR/td -C MB -W RING` (a ring, so file names are reused and old files replaced within every run; --ring 0
# for no -W) at each rate, RUNS times each, and prints per run packets handled, drops, files on disk, how long each took to exit
# after SIGTERM and (pathprobe) how often the capture thread waited for the disk. DIR (default /var/tmp) must be on a
# real disk: on tmpfs closing a file costs nothing. tcpdump gets pathprobe's 16 MiB kernel buffer (-B 16384) here.
#
# The replayed file is captures/smtp-healthy-ipv4.pcap x N (tcprewrite --seed for distinct addresses, shifted in time
# with editcap, joined with mergecap -a), replayed once per run. Both capturers use pathprobe's default filter, so they
# do the same kernel filtering; pathprobe also decodes and tracks every flow. Root only; everything runs in two
# namespaces created and deleted here (names carry this script's PID).
set -euo pipefail
cd "$(dirname "$0")/.."

copies=64
loops=4
rates="10000 50000 100000"
pathprobe=""
keep=0
buffer_kib=""
seconds=""
top=top
rotation=0
runs=3
size_mb=10
ring=10
disk=/var/tmp
while [ $# -gt 0 ]; do
  case "$1" in
    --rotation) rotation=1; rates="200000 300000"; loops=130; shift ;;
    --runs) runs=$2; shift 2 ;;
    --size-mb) size_mb=$2; shift 2 ;;
    --ring) ring=$2; shift 2 ;;
    --disk) disk=$2; shift 2 ;;
    --copies) copies=$2; shift 2 ;;
    --rates) rates=$2; shift 2 ;;
    --loops) loops=$2; shift 2 ;;
    --pathprobe) pathprobe=$2; shift 2 ;;
    --buffer-kib) buffer_kib=$2; shift 2 ;;
    --seconds) seconds=$2; shift 2 ;;
    --no-top) top=""; shift ;;
    --keep) keep=1; shift ;;
    -h|--help) sed -n '2,25p' "$0"; exit 0 ;;
    *) echo "live-capture.sh: unknown option $1" >&2; exit 2 ;;
  esac
done
[ "$(id -u)" = 0 ] || { echo "live-capture.sh: needs root (network namespaces, capture)" >&2; exit 2; }
for t in ip tcpreplay tcprewrite editcap mergecap capinfos tcpdump bc; do
  command -v "$t" >/dev/null 2>&1 || { echo "live-capture.sh: missing $t (apt-get install iproute2 tcpreplay wireshark-common tcpdump bc)" >&2; exit 2; }
done

work=$(mktemp -d /tmp/pathprobe-live.XXXXXX)
out="$disk/pathprobe-live-out.$$"
ns_tx=pptx$$; ns_rx=pprx$$; if_tx=pptx$$; if_rx=pprx$$
cleanup() {
  for ns in "$ns_tx" "$ns_rx"; do
    for pid in $(ip netns pids "$ns" 2>/dev/null); do kill -KILL "$pid" 2>/dev/null || true; done
    ip netns del "$ns" 2>/dev/null || true
  done
  rm -rf "$out"
  [ "$keep" = 1 ] && echo "kept $work" || rm -rf "$work"
}
trap cleanup EXIT

if [ -z "$pathprobe" ]; then
  echo "== building pathprobe (Release)"
  dotnet publish src/PathProbe.Cli -c Release -o "$work/bin" --nologo -v q >/dev/null
  pathprobe="$work/bin/pathprobe"
fi

echo "== building the replay file: smtp-healthy-ipv4.pcap x $copies"
src=captures/smtp-healthy-ipv4.pcap
duration=$(capinfos -u -M "$src" | awk -F': *' '/Capture duration/ { print int($2) + 2 }')
parts=()
for i in $(seq 1 "$copies"); do
  tcprewrite --seed="$i" --fixcsum --infile="$src" --outfile="$work/s$i.pcap"
  editcap -F pcap -t $(( (i - 1) * duration )) "$work/s$i.pcap" "$work/t$i.pcap"
  parts+=("$work/t$i.pcap")
done
mergecap -a -F pcap -w "$work/replay.pcap" "${parts[@]}"
rm -f "$work"/s*.pcap "$work"/t*.pcap
packets=$(capinfos -c -M "$work/replay.pcap" | awk -F': *' '/Number of packets/ { print $2 }')
echo "   $packets packets, $(( $(stat -c %s "$work/replay.pcap") / 1048576 )) MB"

ip netns add "$ns_tx"; ip netns add "$ns_rx"
ip -n "$ns_tx" link add "$if_tx" type veth peer name "$if_rx" netns "$ns_rx"
for p in "$ns_tx:$if_tx" "$ns_rx:$if_rx"; do
  ip -n "${p%%:*}" link set lo up; ip -n "${p%%:*}" link set "${p##*:}" up
  ip netns exec "${p%%:*}" ethtool -K "${p##*:}" tso off gso off gro off >/dev/null 2>&1 || true
done

# replay RATE: tcpreplay once; sets sent and secs (tcpreplay's own measure)
replay() {
  local rate=$1 opt=(--topspeed --loop="$loops")
  if [ "$rate" != top ]; then
    opt=(--pps="$rate" --loop="$loops")
    [ -n "$seconds" ] && opt=(--pps="$rate" --loop=0 --limit="$(echo "$rate * $seconds / 1" | bc)")
  fi
  ip netns exec "$ns_tx" timeout 300 tcpreplay -q -i "$if_tx" "${opt[@]}" "$work/replay.pcap" > "$work/replay.out" 2>&1
  sent=$(awk '/Actual:/ { print $2 }' "$work/replay.out")
  secs=$(awk '/Actual:/ { for (i = 1; i <= NF; i++) if ($(i) == "in") print $(i+1) }' "$work/replay.out")
}

wait_for() { # file pattern: up to 20 s
  for _ in $(seq 1 200); do grep -q "$2" "$1" 2>/dev/null && return 0; sleep 0.1; done
  echo "capturer did not start:"; cat "$1"; return 1
}

# pathprobe's default filter (CaptureCommand.DefaultFilter), given to both capturers.
filter="tcp port 25 or tcp port 465 or tcp port 587 or tcp port 2525 or port 53 or icmp or icmp6 or (ip[6:2] & 0x3fff != 0) or (ip6 and ip6[6] == 44)"

# stop PID: SIGTERM, then the seconds until it exited (in $stopped)
stop() {
  local t0; t0=$(date +%s.%N)
  kill -TERM "$1"; wait "$1" || true
  stopped=$(echo "$(date +%s.%N) - $t0" | bc -l)
}

if [ "$rotation" = 1 ]; then
  mkdir -p "$out"
  ringopt=(); [ "$ring" -gt 0 ] && ringopt=(-W "$ring")
  echo "== rotation on $(df --output=fstype "$disk" | tail -1) ($disk): $packets packets x $loops loops per replay, -C $size_mb ${ringopt[*]}"
  row() { # one result line as soon as it is measured
    IFS='|' read -r name rate run sent secs handled drops files stopped waits <<< "$1"
    printf '%-22s %-7s %4s %9s %8s %10s %8s %6s %9.2f %6s\n' "$name" "$rate" "$run" "$sent" "$secs" "$handled" "$drops" "$files" "$stopped" "$waits"
  }
  printf '%-22s %-7s %4s %9s %8s %10s %8s %6s %9s %6s\n' capturer rate run sent seconds handled drops files exit_s waits
  for rate in $rates; do
    for run in $(seq 1 "$runs"); do
      ip netns exec "$ns_rx" "$pathprobe" capture -i "$if_rx" --json -w "$out/pp.pcapng" -C "$size_mb" "${ringopt[@]}" "$filter" > "$work/pp.json" 2> "$work/pp.err" &
      pid=$!
      wait_for "$work/pp.err" "capturing on"
      replay "$rate"
      sleep 0.5; stop "$pid"
      pp=$(python3 -c 'import json,sys; i=json.load(open(sys.argv[1]))["inputs"][0]; print(i["packets"], i["drops"]["kernel"] + i["drops"]["interface"], i.get("fileOutput", {}).get("diskWaits", "-"))' "$work/pp.json")
      read -r handled drops waits <<< "$pp"
      files=$(ls "$out"/pp* | wc -l)
      row "pathprobe -C $size_mb ${ringopt[*]}|$rate|$run|$sent|$secs|$handled|$drops|$files|$stopped|$waits"

      # -B: the same 16 MiB kernel buffer as pathprobe's default, so the difference is the writing, not the buffer.
      ip netns exec "$ns_rx" tcpdump -B 16384 -Z root -i "$if_rx" -n -w "$out/td.pcap" -C "$size_mb" "${ringopt[@]}" "$filter" 2> "$work/td.err" &
      pid=$!
      wait_for "$work/td.err" "listening on"
      replay "$rate"
      sleep 0.5; stop "$pid"
      captured=$(awk '/packets captured/ { print $1 }' "$work/td.err")
      dropped=$(awk '/dropped by kernel/ { print $1 }' "$work/td.err")
      row "tcpdump -C $size_mb ${ringopt[*]}|$rate|$run|$sent|$secs|$captured|$dropped|$(ls "$out"/td* | wc -l)|$stopped|-"
    done
  done
  exit 0
fi

# Stopped with SIGTERM: a script's background jobs inherit SIGINT ignored, and .NET (like most programs) keeps it ignored.
rows=()
bopt=(); [ -n "$buffer_kib" ] && bopt=(-B "$buffer_kib")
for rate in $top $rates; do
  # pathprobe: handled = packets in its report; drops = kernel + interface
  ip netns exec "$ns_rx" "$pathprobe" capture -i "$if_rx" "${bopt[@]}" --json "$filter" > "$work/pp.json" 2> "$work/pp.err" &
  pid=$!
  wait_for "$work/pp.err" "capturing on"
  replay "$rate"
  sleep 0.5; kill -TERM "$pid"; wait "$pid" || true
  pp=$(python3 -c 'import json,sys; i=json.load(open(sys.argv[1]))["inputs"][0]; print(i["packets"], i["drops"]["kernel"] + i["drops"]["interface"])' "$work/pp.json")
  rows+=("pathprobe capture|$rate|$sent|$secs|${pp% *}|${pp#* }")

  ip netns exec "$ns_rx" tcpdump -i "$if_rx" "${bopt[@]}" -n -w /dev/null "$filter" 2> "$work/td.err" &
  pid=$!
  wait_for "$work/td.err" "listening on"
  replay "$rate"
  sleep 0.5; kill -TERM "$pid"; wait "$pid" || true
  captured=$(awk '/packets captured/ { print $1 }' "$work/td.err")
  dropped=$(awk '/dropped by kernel/ { print $1 }' "$work/td.err")
  rows+=("tcpdump -w /dev/null|$rate|$sent|$secs|$captured|$dropped")
done

if [ -n "$seconds" ]; then echo "== results (fixed rates: $seconds s each from the start of the capture; top speed: $packets packets x $loops loops; buffer ${buffer_kib:-default} KiB)"
else echo "== results ($packets packets x $loops loops per replay; buffer ${buffer_kib:-default} KiB; handled/s = packets handled / replay seconds)"; fi
printf '%-22s %-8s %9s %8s %10s %12s %8s\n' capturer rate sent seconds handled handled/s drops
for r in "${rows[@]}"; do
  IFS='|' read -r name rate sent secs handled drops <<< "$r"
  printf '%-22s %-8s %9s %8s %10s %12.0f %8s\n' "$name" "$rate" "$sent" "$secs" "$handled" "$(echo "$handled / $secs" | bc -l)" "$drops"
done
