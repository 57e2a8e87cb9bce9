#!/bin/sh
# mpi_trace_check.sh PARAXIS MPIRUN... -- TRAIN_ARGS...
# Trains 2 MPI ranks with --trace and checks the one merged file: complete events of both devices, the clock
# offsets in its metadata, send→recv flow arrows that do not run backwards in time beyond the offsets'
# uncertainty, the "merged from 2 ranks" line, and `paraxis analyze` reading it as 2 devices.
set -u
paraxis=$1
shift
mpirun=""
while [ "$1" != "--" ]; do
  mpirun="$mpirun $1"
  shift
done
shift
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
fail() {
  echo "mpi_trace_check: $*" >&2
  exit 1
}
out=$($mpirun -np 2 "$paraxis" train --backend mpi --progress none --trace "$dir/t.json" "$@" 2>&1)
rc=$?
printf '%s\n' "$out"
[ "$rc" -eq 0 ] || fail "the mpi run exited with $rc"
printf '%s\n' "$out" | grep -Eq "trace: merged from 2 ranks onto rank 0's clock, max offset uncertainty [0-9.]+ µs" ||
  fail "no 'trace: merged from 2 ranks' line"
/usr/bin/python3 - "$dir/t.json" <<'PY' || fail "the merged trace is not as expected"
import json, sys
doc = json.load(open(sys.argv[1]))
events = doc["traceEvents"]
meta = doc["otherData"]["paraxis"]
pids = sorted({e["pid"] for e in events if e["ph"] == "X"})
assert pids == [0, 1], f"complete events of devices {pids}, expected [0, 1]"
names = {e["pid"]: e["args"]["name"] for e in events if e["ph"] == "M" and e["name"] == "process_name"}
assert names[1].startswith("device 1 (dp0 tp0 pp1)"), names
sync = meta["clock_sync"]
assert sync["ranks"] == 2 and [o["device"] for o in sync["offsets"]] == [0, 1], sync
assert sync["offsets"][0]["offset_us"] == 0 and sync["offsets"][1]["uncertainty_us"] >= 0, sync
worst = sync["max_uncertainty_us"]
starts = {e["id"]: e for e in events if e["ph"] == "s"}
ends = {e["id"]: e for e in events if e["ph"] == "f"}
assert starts and starts.keys() == ends.keys(), f"{len(starts)} flow starts, {len(ends)} ends"
backwards = [i for i in starts if ends[i]["ts"] < starts[i]["ts"] - worst]
assert not backwards, f"{len(backwards)} flows arrive before they leave (beyond ±{worst} µs)"
print(f"merged trace: {sum(e['ph'] == 'X' for e in events)} events on devices {pids}, {len(starts)} flows, "
      f"offset {sync['offsets'][1]['offset_us']:.1f} ± {sync['offsets'][1]['uncertainty_us']:.1f} µs")
PY
analysis=$("$paraxis" analyze "$dir/t.json" 2>&1) || { printf '%s\n' "$analysis"; fail "paraxis analyze failed"; }
printf '%s\n' "$analysis"
printf '%s\n' "$analysis" | grep -Eq "^layout: .*, 2 devices, step" || fail "paraxis analyze does not report 2 devices"
