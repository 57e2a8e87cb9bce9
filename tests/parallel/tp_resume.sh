#!/bin/sh
# tp_resume.sh PARAXIS TRAIN_ARGS... — a tensor-parallel run checkpointed at step 2 and resumed to step 4 ends
# with the same final loss as an uninterrupted 4-step run (each device's checkpoint holds its own shards).
set -u
paraxis=$1
shift
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
"$paraxis" train "$@" --steps 4 --progress none > "$dir/straight.txt" 2>&1 || { cat "$dir/straight.txt"; exit 1; }
"$paraxis" train "$@" --steps 2 --progress none --save-every 2 --checkpoint-dir "$dir/ck" > /dev/null 2>&1 ||
  { echo "checkpointed run failed" >&2; exit 1; }
"$paraxis" train "$@" --steps 4 --progress none --resume "$dir/ck" > "$dir/resumed.txt" 2>&1 ||
  { cat "$dir/resumed.txt"; exit 1; }
a=$(grep -o "final loss [0-9.]*" "$dir/straight.txt")
b=$(grep -o "final loss [0-9.]*" "$dir/resumed.txt")
echo "uninterrupted: $a; resumed: $b"
[ -n "$a" ] && [ "$a" = "$b" ]
