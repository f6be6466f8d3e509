#!/usr/bin/env bash
# The whole test suite: installs what it needs, runs every test (kernel tests included: run as root), and ends with
# one plain line "N passed, N failed, N skipped". Exits non-zero on any failure.
set -uo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$root/scripts/setup.sh" || { echo "0 passed, 1 failed, 0 skipped"; exit 1; }

results="$root/build/test-results"
rm -rf "$results"
mkdir -p "$results"
# One test assembly, run serially inside (kernel tests share devices and bpffs); trx gives exact counts.
dotnet test "$root/Toolkit.sln" -c Release --no-build -nologo \
  --logger "trx;LogFilePrefix=fastrelay" --logger "console;verbosity=normal" \
  --results-directory "$results"
status=$?

passed=0; failed=0; skipped=0
for trx in "$results"/*.trx; do
  [ -f "$trx" ] || continue
  counters=$(grep -o '<Counters [^>]*>' "$trx" | head -1)
  get() { echo "$counters" | sed -n "s/.* $1=\"\([0-9]*\)\".*/\1/p"; }
  passed=$((passed + $(get passed)))
  failed=$((failed + $(get failed) + $(get error) + $(get timeout) + $(get aborted)))
  total=$(get total); executed=$(get executed)
  skipped=$((skipped + total - executed))
done
if [ "$status" -ne 0 ] && [ "$failed" -eq 0 ]; then failed=1; fi  # the run itself failed (build, crash)
# CI keeps only the tail of the output: name each failed test and the start of its message just above the summary.
if [ "$failed" -ne 0 ]; then
  for trx in "$results"/*.trx; do
    [ -f "$trx" ] || continue
    awk '
      /<UnitTestResult / && /outcome="Failed"/ {
        match($0, /testName="[^"]*"/); print "FAILED: " substr($0, RSTART + 10, RLENGTH - 11); want = 1; next }
      want && /<Message>/ { inmsg = 1; n = 0; sub(/.*<Message>/, "") }
      inmsg { line = $0; last = sub(/<\/Message>.*/, "", line); if (n < 8) print "    " line; n++
              if (last) { inmsg = 0; want = 0 } }
    ' "$trx"
  done
fi
echo "$passed passed, $failed failed, $skipped skipped"
[ "$status" -eq 0 ] && [ "$failed" -eq 0 ]
