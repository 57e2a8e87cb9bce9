#!/bin/sh
# `paraxis demo --rounds 2 --calibrate`: every layout runs twice round-robin; each row's step is the median of
# its rounds (the mean of the two) and lies in its printed min-max range; the ranking line is printed. With
# --calibrate one calibration round runs before each round of layouts, and every row's predicted column comes
# from those rates (a number and an error), said so under the table.
#   check_demo_rounds.sh PARAXIS OUT_DIR
set -u
paraxis=$1
out=$2
rm -rf "$out"
log=$("$paraxis" demo --quick --steps 3 --rounds 2 --calibrate --out "$out" --progress none 2>&1)
code=$?
printf '%s\n' "$log"
fail() { echo "FAIL: $*"; exit 1; }
[ "$code" -eq 0 ] || fail "paraxis demo exited with $code"
[ "$(printf '%s\n' "$log" | grep -c '^\[round 2/2, ')" -eq 5 ] || fail "round 2 did not run all five layouts"
[ "$(printf '%s\n' "$log" | grep -c '^\[round [12]/2\] calibrating: ')" -eq 2 ] || fail "not one calibration per round"
printf '%s\n' "$log" | grep '^\[round' | head -n 1 | grep -q "^\[round 1/2\] calibrating: " ||
  fail "round 1 did not calibrate first"
printf '%s\n' "$log" | grep -q "not measured, from rates measured in this run (--calibrate)" ||
  fail "footer does not say where the predictions' rates come from"
printf '%s\n' "$log" | grep -q "rounds min-max" || fail "no 'rounds min-max' column"
printf '%s\n' "$log" | grep -q "then the median over 2 rounds run round-robin" || fail "footer does not say rounds"
printf '%s\n' "$log" | grep -q "^Ranking, fastest first: measured " || fail "no ranking line"
# Each row: step ms (column after the label) equals the mean of its range's ends and lies inside.
printf '%s\n' "$log" | grep -E "^(1 device|placement|1F1B|tp2|dp2)" | grep -v "not run" |
  cut -c31- | awk '
  { step = $1; split($2, r, "-"); lo = r[1]; hi = r[2]; mid = (lo + hi) / 2;
    if ($3 !~ /^[0-9]+\.[0-9]$/ || $4 !~ /^[+-][0-9]+%$/) { print "no predicted step and error: " $3 " " $4; bad = 1 }
    if (step < lo - 0.05 || step > hi + 0.05 || (step - mid) > 0.1 || (mid - step) > 0.1) {
      print "step " step " is not the median of " $2; bad = 1 } ; n++ }
  END { if (n != 5) { print "expected 5 rows, got " n; bad = 1 }; exit bad }' || fail "a row's step is not its rounds' median"
echo "demo rounds checks passed"
