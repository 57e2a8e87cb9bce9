#!/bin/sh
# tp_mpi_vs_threads.sh NP PARAXIS MPIRUN... -- TRAIN_ARGS...
# Trains the same layout twice — NP threads in one process, then NP MPI ranks under mpirun — and passes when
# every step's loss (the --log JSON lines) agrees to fp32 tolerance (rtol 1e-5, atol 4e-5).
set -u
np=$1
paraxis=$2
shift 2
mpirun=""
while [ "$1" != "--" ]; do
  mpirun="$mpirun $1"
  shift
done
shift
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
"$paraxis" train --backend threads --devices "$np" --progress none --quiet --log "$dir/threads.jsonl" "$@" ||
  { echo "threads run failed" >&2; exit 1; }
$mpirun -np "$np" "$paraxis" train --backend mpi --progress none --quiet --log "$dir/mpi.jsonl" "$@" ||
  { echo "mpi run failed" >&2; exit 1; }
/usr/bin/python3 - "$dir/threads.jsonl" "$dir/mpi.jsonl" <<'PY'
import json, sys
def losses(path):
    return [(r["step"], r["loss"]) for r in map(json.loads, open(path)) if "loss" in r]
a, b = losses(sys.argv[1]), losses(sys.argv[2])
assert a and len(a) == len(b), f"threads logged {len(a)} steps, mpi {len(b)}"
bad = [(s, x, y) for (s, x), (_, y) in zip(a, b) if abs(x - y) > 4e-5 + 1e-5 * abs(x)]
for s, x, y in bad:
    print(f"step {s}: threads loss {x}, mpi loss {y}")
print(f"{len(a)} steps compared, {len(bad)} differ; final loss threads {a[-1][1]} mpi {b[-1][1]}")
sys.exit(1 if bad else 0)
PY
