# case_lib.sh — what the one-case-per-ctest-entry CLI scripts share (train_cli.sh, checkpoint_cli.sh,
# safety_cli.sh). Sourced after setting PX (the paraxis binary) and CASE; RUN_GREP=-E makes run's PATTERN an
# extended regex (default -F: a fixed string). Moves into a fresh temporary directory, removed on exit.
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
cd "$WORK" || exit 1

fail() { echo "FAIL [$CASE]: $*"; exit 1; }

# run CODE PATTERN ARGS...: paraxis ARGS must exit with CODE and print PATTERN.
run() {
  code="$1"; pattern="$2"; shift 2
  echo "+ paraxis $*"
  out=$("$PX" "$@" 2>&1); rc=$?
  printf '%s\n' "$out" | tail -n 20
  [ "$rc" -eq "$code" ] || fail "exit code $rc, expected $code"
  [ -z "$pattern" ] || printf '%s\n' "$out" | grep -q "${RUN_GREP:--F}" -- "$pattern" || fail "output lacks '$pattern'"
}

# same FILE FILE: byte-for-byte identical (parameters and metadata).
same() { cmp "$1" "$2" || fail "$1 and $2 differ"; echo "identical: $1 $2"; }
