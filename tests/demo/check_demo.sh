#!/bin/sh
# `paraxis demo --quick` end to end: the in-run calibration, the table, the verdicts, equal final losses, the report and the traces.
#   check_demo.sh PARAXIS OUT_DIR
set -u
paraxis=$1
out=$2
rm -rf "$out"
log=$("$paraxis" demo --quick --out "$out" --progress none 2>&1)
code=$?
printf '%s\n' "$log"
fail() { echo "FAIL: $*"; exit 1; }
[ "$code" -eq 0 ] || fail "paraxis demo exited with $code"
# By default (no --machine, no --preset) the predictions' rates are measured in the run, before the layouts.
printf '%s\n' "$log" | grep '^\[' | head -n 1 | grep -q "^\[0/5\] calibrating: " ||
  fail "the default demo did not calibrate before the first layout"
printf '%s\n' "$log" | grep -q "not measured, from rates measured in this run" || fail "no footer on the predictions"

row() { printf '%s\n' "$log" | grep -E "^$1 " | head -n 1; }
for layout in "1 device" "placement, 2 devices" "1F1B, 2 devices, m=8, defer-W" "tp2, 2 devices" "dp2, 2 devices"; do
  [ -n "$(row "$layout")" ] || fail "no table row for '$layout'"
done
row "1 device" | grep -q "one device" || fail "the 1-device row has no 'one device' verdict"
row "placement, 2 devices" | grep -q "workload partitioning" || fail "placement is not judged workload partitioning"
# A pipeline is named a pipeline (whether or not it ran in parallel), never workload partitioning.
row "1F1B, 2 devices, m=8, defer-W" | grep -q " pipeline" || fail "1F1B is not judged a pipeline"
row "1F1B, 2 devices, m=8, defer-W" | grep -q "workload partitioning" && fail "1F1B is judged workload partitioning"
row "dp2, 2 devices" | grep -q " parallel " || fail "dp2 is not judged parallel"
row "tp2, 2 devices" | grep -q " parallel " || fail "tp2 is not measured or not judged parallel"

# Final losses: every measured row's last column agrees with the one-device value to fp32 rounding.
base=$(row "1 device" | awk '{print $NF}')
printf '%s\n' "$log" | grep -E "^(1 device|placement|1F1B|tp2|dp2)" | grep -v "not run" | awk -v b="$base" '
  { d = $NF - b; if (d < 0) d = -d; if (d > 1e-4) { print "loss " $NF " differs from " b; bad = 1 } }
  END { exit bad }' || fail "final losses differ across layouts"
diff=$(printf '%s\n' "$log" | sed -n 's/.*max difference \([0-9.e+-]*\).*/\1/p')
[ -n "$diff" ] || fail "no 'max difference' line"
awk -v d="$diff" 'BEGIN { exit !(d < 1e-4) }' || fail "max difference $diff is not below 1e-4"

[ -s "$out/report.html" ] || fail "$out/report.html is missing"
grep -q "<svg" "$out/report.html" || fail "report.html has no timeline"
for t in 1-device placement 1f1b tp2 dp2; do
  [ -s "$out/$t.json" ] || fail "trace $out/$t.json is missing"
  [ -s "$out/$t.predicted.json" ] || fail "predicted trace $out/$t.predicted.json is missing"
done
grep -q "1F1B, 2 devices, m=8, defer-W, predicted" "$out/report.html" || fail "report.html lacks the predicted timelines"
# The profile of the predicted column reproduces the table's 1F1B prediction.
pred=$(row "1F1B, 2 devices, m=8, defer-W" | awk '{print $7}')  # after the 5-word label and the step
"$paraxis" predict --model mlp --mlp-sizes 784,1664,2048,2048,10 --machine "$out/machine.json" --pp 2 -m 8 \
  --defer-wgrad --optimizer sgd --global-batch 256 > "$out/predict.txt" 2>&1 || fail "paraxis predict rejects $out/machine.json"
got=$(sed -n 's/^predicted step time *\([0-9.]*\) ms.*/\1/p' "$out/predict.txt")
# The table prints one decimal, predict four significant digits.
awk -v a="$pred" -v b="$got" 'BEGIN { d = a - b; if (d < 0) d = -d; exit !(b != "" && d <= 0.05 + 6e-4 * a) }' ||
  fail "the profile in machine.json does not reproduce the 1F1B row's prediction ${pred} ms: predict says '${got}'"
"$paraxis" analyze "$out/1f1b.json" > "$out/analyze.txt" 2>&1 || fail "paraxis analyze rejects the 1F1B trace"
grep -q "^verdict: *pipeline (1F1B, m = 8)" "$out/analyze.txt" || fail "paraxis analyze does not judge the 1F1B trace a pipeline"
grep -q "^verdict: .*workload partitioning" "$out/analyze.txt" && fail "paraxis analyze judges the 1F1B trace workload partitioning"
echo "demo checks passed"
