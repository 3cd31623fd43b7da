#!/usr/bin/env bash
# Fuzzes PathProbe's file readers and whole engine with AFL++ through SharpFuzz:
#   bytes -> CaptureFile.Open -> Engine -> text and JSON reports   (fuzz/PathProbe.Fuzz/FuzzTarget.cs)
#
#   bash fuzz/run.sh [MINUTES]        (default 10)
#
# Builds the harness, instruments PathProbe.Core.dll with the SharpFuzz.CommandLine 2.3.0 tool, seeds a corpus from the
# bundled captures (the first 4 KiB of each: the headers and first packets, where the format logic is; inputs AFL++
# can mutate quickly; also as pcapng by editcap, and gzip), plus fuzz/regressions/, minimises it with afl-cmin, runs afl-fuzz for MINUTES and prints execs, paths, crashes and
# hangs. Needs afl++ (Debian: apt-get install afl++) and the .NET SDK. Work files go to fuzz/work/ (git-ignored).
# A crash it finds is in fuzz/work/out/default/crashes/: copy it to fuzz/regressions/ (the tests replay every file
# there), fix the bug, and commit both.
set -euo pipefail
cd "$(dirname "$0")/.."
minutes="${1:-10}"
work=fuzz/work
mkdir -p "$work"

if ! command -v afl-fuzz >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "fuzz: installing afl++"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends afl++ >/dev/null
  else
    echo "fuzz: afl-fuzz not found: sudo apt-get install afl++" >&2; exit 2
  fi
fi

tools="$work/tools"
if [ ! -x "$tools/sharpfuzz" ]; then
  echo "fuzz: installing the SharpFuzz.CommandLine 2.3.0 tool into $tools"
  dotnet tool install SharpFuzz.CommandLine --version 2.3.0 --tool-path "$tools" >/dev/null
fi

echo "fuzz: building the harness"
rm -rf "$work/bin"
dotnet publish fuzz/PathProbe.Fuzz -c Release -o "$work/bin" --nologo -v quiet >/dev/null
echo "fuzz: instrumenting PathProbe.Core.dll"
"$tools/sharpfuzz" "$work/bin/PathProbe.Core.dll" >/dev/null

seeds="$work/seeds"
rm -rf "$seeds" "$work/corpus"
mkdir -p "$seeds"
for f in captures/*.pcap captures/*.pcapng captures/*.gz; do
  [ -f "$f" ] || continue
  head -c 4096 "$f" > "$seeds/$(basename "$f")"
done
# The bundled captures are pcap; pcapng (and gzip) seeds come from editcap and gzip, so AFL++ starts inside every reader.
if command -v editcap >/dev/null 2>&1; then
  for f in "$seeds"/*.pcap; do editcap -F pcapng "$f" "${f%.pcap}.pcapng" >/dev/null 2>&1 || true; done
fi
for f in "$seeds"/smtp-mru1424-sender.pcap*; do [ -f "$f" ] && gzip -c "$f" > "$f.gz"; done
# Crashes found before stay in the corpus, so a fix is fuzzed around too.
for f in fuzz/regressions/*; do [ -f "$f" ] && cp "$f" "$seeds/"; done

export AFL_SKIP_BIN_CHECK=1 AFL_SKIP_CPUFREQ=1 AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1 AFL_NO_UI=1 AFL_NO_AFFINITY=1
target=("$(command -v dotnet)" "$work/bin/PathProbe.Fuzz.dll")  # afl-cmin wants a path
echo "fuzz: minimising $(ls "$seeds" | wc -l) seeds"
if ! afl-cmin -i "$seeds" -o "$work/corpus" -t 10000 -m none -- "${target[@]}" >"$work/cmin.log" 2>&1; then
  echo "fuzz: afl-cmin failed (see $work/cmin.log); fuzzing from the unminimised seeds"
  rm -rf "$work/corpus"; cp -r "$seeds" "$work/corpus"
fi

echo "fuzz: running afl-fuzz for $minutes minutes from $(ls "$work/corpus" | wc -l) inputs"
rm -rf "$work/out"
afl-fuzz -i "$work/corpus" -o "$work/out" -t 10000 -m none -V "$((minutes * 60))" -- "${target[@]}" >"$work/afl.log" 2>&1 || {
  echo "fuzz: afl-fuzz failed:" >&2; tail -20 "$work/afl.log" >&2; exit 1; }

stats="$work/out/default/fuzzer_stats"
get() { awk -F' *: *' -v k="$1" '$1 == k { print $2 }' "$stats"; }
crashes=$(get saved_crashes); hangs=$(get saved_hangs)
echo "fuzz: $(get run_time) s, $(get execs_done) execs ($(get execs_per_sec)/s), $(get corpus_count) paths in the corpus" \
     "($(get corpus_found) found), edges $(get edges_found)/$(get total_edges) ($(get bitmap_cvg)), $crashes crashes, $hangs hangs"
if [ "${crashes:-0}" != 0 ] || [ "${hangs:-0}" != 0 ]; then
  echo "fuzz: inputs in $work/out/default/crashes and $work/out/default/hangs: copy them to fuzz/regressions/ and fix"
  exit 1
fi
