#!/bin/sh
# example_train_mlp.sh EXAMPLE [STEPS] — examples/train_mlp.cc for a few steps on one device and with --tp 2:
# each must exit 0 and print a finite final loss and a test accuracy above chance, and the two final losses
# must agree to fp32 tolerance (tensor parallelism trains the same model as one device). Exits 77 (skipped)
# when Fashion-MNIST is not installed.
set -u
EXAMPLE="$1"
STEPS="${2:-20}"
FMNIST=/usr/share/datasets/fashion-mnist

fail() { echo "FAIL: $*"; exit 1; }

if [ ! -e "$FMNIST/train-images-idx3-ubyte.gz" ] && [ ! -e "$FMNIST/train-images-idx3-ubyte" ]; then
  echo "SKIP: $FMNIST is not installed (apt-get install dataset-fashion-mnist)"
  exit 77
fi

# run ARGS...: sets LOSS and ACC from the example's output.
run() {
  echo "+ example_train_mlp --steps $STEPS --print-every 10 $*"
  out=$("$EXAMPLE" --steps "$STEPS" --print-every 10 "$@" 2>&1); rc=$?
  printf '%s\n' "$out"
  [ "$rc" -eq 0 ] || fail "exit code $rc"
  LOSS=$(printf '%s\n' "$out" | sed -n 's/^final loss \([^ ]*\)$/\1/p')
  ACC=$(printf '%s\n' "$out" | sed -n 's/^test accuracy \([^%]*\)%.*/\1/p')
  printf '%s\n' "$LOSS" | grep -Eq '^[0-9]+\.[0-9]+$' || fail "no finite final loss (got '$LOSS')"
  printf '%s\n' "$ACC" | grep -Eq '^[0-9]+\.[0-9]+$' || fail "no test accuracy (got '$ACC')"
  awk -v a="$ACC" 'BEGIN { exit !(a > 20) }' || fail "test accuracy $ACC% is no better than chance (10%)"
}

run
LOSS1=$LOSS
run --tp 2
LOSS2=$LOSS
awk -v a="$LOSS1" -v b="$LOSS2" 'BEGIN { d = a - b; if (d < 0) d = -d; m = a < 0 ? -a : a; if (m < 1) m = 1;
                                         exit !(d <= 1e-4 * m) }' ||
  fail "final losses differ: 1 device $LOSS1, --tp 2 $LOSS2 (expected equal to fp32 tolerance)"
echo "ok: final loss $LOSS1 (1 device) and $LOSS2 (tp2) agree; test accuracy $ACC%"
