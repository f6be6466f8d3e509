#!/usr/bin/env bash
# Coverage-guided fuzzing of the network-facing parsers: SharpFuzz instruments the protocol assemblies, afl-fuzz
# (Debian's afl++) drives tests/Fuzz per target until it has run EXECS executions (default 1,000,000).
#   scripts/fuzz.sh [EXECS] [TARGET...]      (as root; installs afl++ and the SharpFuzz tool itself)
# Results: build/fuzz/<target>/ (afl output), build/fuzz/summary.tsv (executions, rate, coverage, crashes).
# New inputs afl-fuzz found are merged into tests/Fuzz/corpus/<target>/ (afl-cmin keeps the smallest covering set),
# and the test suite replays that corpus on every run (FuzzCorpusReplayTests). A crash input is kept in
# build/fuzz/<target>/default/crashes; replay it with `dotnet build/fuzz/bin/fastrelay-fuzz.dll TARGET < FILE`.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
execs="${1:-1000000}"; shift || true
out="$root/build/fuzz"; bin="$out/bin"; tools="$out/tools"
mkdir -p "$out"

if ! command -v afl-fuzz >/dev/null; then
  apt-get update -q >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends afl++ >&2
fi
[ -x "$tools/sharpfuzz" ] || dotnet tool install SharpFuzz.CommandLine --version 2.3.0 --tool-path "$tools" >&2

rm -rf "$bin"
dotnet publish "$root/tests/Fuzz/FastRelay.Fuzz.csproj" -c Release -o "$bin" -nologo -v:q >&2
# Instrument only our protocol assemblies, in the publish folder (the build and test copies stay uninstrumented).
for dll in FastRelay.Protocols.Quic.dll FastRelay.Protocols.Moq.dll; do
  [ -f "$bin/$dll" ] && "$tools/sharpfuzz" "$bin/$dll" >&2
done

targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  mapfile -t targets < <(ls "$root/tests/Fuzz/corpus")
fi

dotnet_bin="$(readlink -f "$(command -v dotnet)")"
export AFL_SKIP_BIN_CHECK=1 AFL_SKIP_CPUFREQ=1 AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1 AFL_NO_UI=1 AFL_NO_AFFINITY=1
summary="$out/summary.tsv"
printf 'target\texecs_done\texecs_per_sec\tcorpus_count\tbitmap_cvg\tsaved_crashes\tsaved_hangs\trun_time_s\n' > "$summary"
for t in "${targets[@]}"; do
  echo "fuzz: $t ($execs executions)" >&2
  rm -rf "$out/$t"
  afl-fuzz -i "$root/tests/Fuzz/corpus/$t" -o "$out/$t" -E "$execs" -t 5000 -m none -- "$dotnet_bin" "$bin/fastrelay-fuzz.dll" "$t" > "$out/$t.log" 2>&1 || true
  stats="$out/$t/default/fuzzer_stats"
  if [ ! -f "$stats" ]; then echo "fuzz: $t did not start, see $out/$t.log" >&2; tail -20 "$out/$t.log" >&2; exit 1; fi
  get() { sed -n "s/^$1 *: *//p" "$stats"; }
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$t" "$(get execs_done)" "$(get execs_per_sec)" "$(get corpus_count)" \
    "$(get bitmap_cvg)" "$(get saved_crashes)" "$(get saved_hangs)" "$(( $(get last_update) - $(get start_time) ))" >> "$summary"
  # Keep the corpus small and covering: afl-cmin over the old corpus plus everything afl-fuzz queued.
  merged="$out/$t.merged"; rm -rf "$merged" "$merged.in"; mkdir -p "$merged.in"
  cp "$root/tests/Fuzz/corpus/$t"/* "$merged.in/"
  find "$out/$t/default/queue" -maxdepth 1 -type f -name 'id:*' -exec cp {} "$merged.in/" \;
  if afl-cmin -i "$merged.in" -o "$merged" -t 5000 -m none -- "$dotnet_bin" "$bin/fastrelay-fuzz.dll" "$t" >> "$out/$t.log" 2>&1; then
    rm -rf "$root/tests/Fuzz/corpus/$t"; mkdir -p "$root/tests/Fuzz/corpus/$t"
    i=0; for f in "$merged"/*; do cp "$f" "$root/tests/Fuzz/corpus/$t/$(printf '%04d' $i)-$(sha1sum "$f" | cut -c1-12)"; i=$((i+1)); done
  fi
done
column -t "$summary"
if awk -F'\t' 'NR>1 && ($6+0)>0 {bad=1} END {exit !bad}' "$summary"; then echo "fuzz: crashes found (build/fuzz/*/default/crashes)" >&2; exit 1; fi
