#!/usr/bin/env bash
# Where `pathprobe analyze` spends its CPU time, by stage: perf samples the process on CPU time (cpu-clock, so
# other load on the machine does not count) with call stacks, and each sample is attributed to the innermost stage
# its stack is in. Method names come from the binary's symbols (a NativeAOT build published with
# -p:StripSymbols=false) or, for a JIT or ReadyToRun build, from the perf map .NET writes (DOTNET_PerfMapEnabled=1).
#
#   sudo bash benchmarks/stage-profile.sh --pathprobe PATH [--json] [--freq HZ] [--top N] FILE...
#
# --top N also lists the N functions most samples were in (the leaf of the stack), with their stage.
#
# Stages (by the first matching frame from the leaf up): read (CaptureReader, pcap/pcapng readers, gzip (zlib-ng or ISA-L),
# the kernel's read), decode (FrameDecoder, IP reassembly), flows (FlowTable), tcp (TcpAnalyzer, the stall and storm
# detectors), path-mtu (PathMtuDetector), smtp (SmtpAnalyzer and everything under it: stream reassembly, the
# session), dns (DnsAnalyzer, FragmentationDetector), report (TextReport, JsonReport, the writers), engine (the
# loop itself: Engine.Process and FileAnalyzer outside the stages above), runtime (GC, JIT, type loading and start-up:
# samples in no stage). Needs perf (linux-perf) and python3.
set -euo pipefail
pathprobe=""; json=""; freq=1999; top=0
while [ $# -gt 0 ]; do
  case "$1" in
    --pathprobe) pathprobe=$2; shift 2 ;;
    --json) json=--json; shift ;;
    --freq) freq=$2; shift 2 ;;
    --top) top=$2; shift 2 ;;
    -h|--help) sed -n '2,16p' "$0"; exit 0 ;;
    *) break ;;
  esac
done
[ -n "$pathprobe" ] && [ $# -gt 0 ] || { sed -n '2,16p' "$0"; exit 2; }
command -v perf >/dev/null || { echo "stage-profile.sh: perf is missing (apt-get install linux-perf)" >&2; exit 2; }
work=$(mktemp -d /tmp/pathprobe-profile.XXXXXX)
trap 'rm -rf "$work"' EXIT

for f in "$@"; do
  cat "$f" > /dev/null
  # The map names JIT-compiled code; tiered compilation recompiles hot ReadyToRun methods, which then appear too.
  DOTNET_PerfMapEnabled=1 perf record -q -e cpu-clock -F "$freq" -g -o "$work/perf.data" -- \
    "$pathprobe" analyze --quiet $json "$f" > /dev/null 2> "$work/err" || [ $? -le 1 ] || { cat "$work/err" >&2; exit 1; }
  perf script -i "$work/perf.data" -F comm,tid,ip,sym,dso 2> /dev/null > "$work/stacks.txt"
  rm -f /tmp/perf-*.map.pathprobe-profile 2>/dev/null || true
  python3 - "$work/stacks.txt" "$f" "$top" <<'EOF'
import re, sys
stages = [
    ("read",     re.compile(r"CaptureReader|PcapReader|PcapNgReader|ReadAheadStream|PrefixedStream|GZipStream|DeflateStream|Inflater|IsalInflateStream|libisal|libz|zlib|inflate|ksys_read|vfs_read|filemap_read|copy_user|FileStream|RandomAccess")),
    ("decode",   re.compile(r"FrameDecoder|IpReassembler|PathProbe[._]Decoding")),
    ("flows",    re.compile(r"FlowTable")),
    ("tcp",      re.compile(r"TcpAnalyzer|TcpFindingDetector|RetransmissionStormDetector|TcpEndpointState")),
    ("path-mtu", re.compile(r"PathMtuDetector")),
    ("smtp",     re.compile(r"SmtpAnalyzer|Protocols[._]Smtp|SmtpFlowState")),
    ("dns",      re.compile(r"DnsAnalyzer|FragmentationDetector|Protocols[._]Dns")),
    ("report",   re.compile(r"TextReport|JsonReport|PathProbe[._]Reports|MailReport|SmtpJson")),
    ("engine",   re.compile(r"Pipeline[._]Engine|FileAnalyzer")),
]
order = [s for s, _ in stages] + ["runtime"]
counts = {s: 0 for s in order}
leaves = {}
threads = {}
total = 0
def flush(frames, tid):
    global total
    if not frames: return
    total += 1
    leaf = " ".join(frames[0].split()[1:2]) or "?"
    # innermost stage: frames are leaf first; a stage nested in another (SMTP called from the flow table's close
    # hook) counts for the inner one
    for fr in frames:
        for name, rx in stages:
            if rx.search(fr):
                counts[name] += 1
                leaves[(leaf, name)] = leaves.get((leaf, name), 0) + 1
                return
    counts["runtime"] += 1
    leaves[(leaf, "runtime")] = leaves.get((leaf, "runtime"), 0) + 1
frames, tid = [], None
for line in open(sys.argv[1], errors="replace"):
    line = line.rstrip("\n")
    if not line.strip():
        flush(frames, tid); frames = []; continue
    if not line.startswith((" ", "\t")):
        parts = line.split()
        tid = parts[1] if len(parts) > 1 else None
        continue
    frames.append(line.strip())
flush(frames, tid)
print(f"{sys.argv[2]}: {total} samples")
print(f"{'stage':<10} {'share':>7}")
for s in order:
    print(f"{s:<10} {100.0 * counts[s] / max(total, 1):6.1f} %")
for (leaf, stage), n in sorted(leaves.items(), key=lambda kv: -kv[1])[:int(sys.argv[3])]:
    print(f"  {100.0 * n / max(total, 1):5.1f} %  {stage:<9} {leaf[:110]}")
EOF
done
