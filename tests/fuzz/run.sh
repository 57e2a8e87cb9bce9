#!/usr/bin/env bash
# Runs every harness built in BUILD (fuzz_NAME) for SECONDS on a copy of its seed corpus (corpus/NAME), one
# after another; fails when any of them finds a crash, a sanitizer report, a non-user error or a hang.
#   tests/fuzz/run.sh build-fuzz 20          (`make fuzz FUZZ_SECONDS=20`)
# Each harness's log is BUILD/logs/NAME.log, a failing input BUILD/artifacts/NAME/crash-... (or leak-,
# timeout-, oom-); reproduce with `BUILD/fuzz_NAME FILE`.
set -uo pipefail
build=${1:?usage: run.sh BUILD SECONDS}
seconds=${2:?usage: run.sh BUILD SECONDS}
case "$seconds" in
  '' | *[!0-9]* | 0) echo "run.sh: SECONDS must be a whole number >= 1 (libFuzzer reads 0 as no limit), got '$seconds'" >&2; exit 2 ;;
esac
here=$(cd "$(dirname "$0")" && pwd)
export TMPDIR="$build/tmp"  # the harnesses' scratch files
mkdir -p "$TMPDIR" "$build/logs"
failed=()
for exe in "$build"/fuzz_*; do
  name=$(basename "$exe"); name=${name#fuzz_}
  corpus="$build/corpus/$name"
  rm -rf "$corpus" "$build/artifacts/$name"; mkdir -p "$corpus" "$build/artifacts/$name"
  cp "$here/corpus/$name"/* "$corpus/"
  # -timeout: one input running 10 s is a hang; -rss_limit_mb: an input making a parser hold 2 GB is a bug.
  "$exe" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
    -artifact_prefix="$build/artifacts/$name/" "$corpus" >"$build/logs/$name.log" 2>&1
  rc=$?
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$build/logs/$name.log")
  if [ $rc -eq 0 ]; then
    echo "fuzz $name: ${execs:-?} inputs in ${seconds} s, no failure"
  else
    echo "fuzz $name: FAILED (exit $rc) after ${execs:-?} inputs; log $build/logs/$name.log, input:" \
      "$(ls "$build/artifacts/$name"/* 2>/dev/null | head -1)"
    grep -m3 -E "ERROR: |runtime error|fuzz: " "$build/logs/$name.log" | sed 's/^/  /'
    failed+=("$name")
  fi
done
if [ ${#failed[@]} -gt 0 ]; then
  echo "make fuzz: ${#failed[@]} harness(es) failed: ${failed[*]}" >&2
  exit 1
fi
