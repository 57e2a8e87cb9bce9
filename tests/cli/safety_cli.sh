#!/bin/sh
# safety_cli.sh PARAXIS CASE — issue #19 "nothing lost, nothing destroyed", one ctest entry per CASE (see
# tests.cmake): safe writes, special files, hostile inputs, non-finite numbers, signals. Runs in a fresh
# temporary directory; exits non-zero with a reason on failure. No case depends on timing.
set -u
PX="$1"
CASE="$2"
HERE=$(cd "$(dirname "$0")" && pwd)
RUN_GREP=-E  # patterns here are extended regexes
. "$HERE/case_lib.sh"

no_temp_left() { ! ls ./*.tmp.* >/dev/null 2>&1 || fail "temp file left: $(ls ./*.tmp.*)"; }

MLP="--model mlp --mlp-sizes 32,24,10 --data synthetic --batch 512 --progress none"
trace() { "$PX" example-trace --layout 1f1b -o "$1" >/dev/null || fail "example-trace"; }

case "$CASE" in
  # --- safe writes --------------------------------------------------------------------------------------------
  save_symlink)
    echo keep > target; ln -s target link
    run 2 "link: the path is a symbolic link" train $MLP --steps 0 --save link
    [ "$(cat target)" = keep ] && [ -L link ] || fail "the link or its target changed" ;;
  save_device)
    run 2 "/dev/full: the path is a device" train $MLP --steps 0 --save /dev/full
    [ -c /dev/full ] || fail "/dev/full is no longer a device" ;;
  save_directory)
    mkdir d
    run 2 "d: the path is a directory" train $MLP --steps 0 --save d ;;
  save_fifo)
    mkfifo f
    run 2 "f: the path is a FIFO" train $MLP --steps 0 --save f
    [ -p f ] || fail "the FIFO was replaced" ;;
  save_checked_before_training)
    # A --save path no file can be created in (even as root) is refused before any step runs: no log line.
    run 2 "--save /proc/m.st: cannot create a file in /proc" train $MLP --steps 5 --log l.jsonl --save /proc/m.st
    [ ! -e l.jsonl ] || fail "training started before the --save path was checked" ;;
  write_error_is_reported)
    # A file-size limit of 4-8 KB (dash: 512-byte blocks) under the 11 KB of parameters: the write fails; exit 1 with the reason, no file, no temp file.
    (ulimit -f 8; "$PX" train $MLP --mlp-sizes 32,64,10 --steps 0 --save big.st > out.txt 2>&1; echo $? > rc)
    cat out.txt
    [ "$(cat rc)" -eq 1 ] || fail "exit code $(cat rc), expected 1"
    grep -q "File too large" out.txt || fail "the message lacks the reason"
    [ ! -e big.st ] || fail "a partial big.st was left"
    no_temp_left ;;
  stale_temp_removed)
    sh -c 'exit 0' & dead=$!; wait $dead
    echo junk > "m.st.tmp.$dead"
    run 0 "" train $MLP --steps 0 --save m.st
    [ ! -e "m.st.tmp.$dead" ] || fail "the dead process's temp file is still there"
    no_temp_left ;;
  report_to_symlink)
    trace t.json; echo keep > target; ln -s target r.html
    run 2 "r.html: the path is a symbolic link" report t.json -o r.html
    [ "$(cat target)" = keep ] || fail "the link's target changed" ;;
  report_to_stdout)
    trace t.json
    run 0 "<html" report t.json -o - ;;
  # --- special and hostile input files ------------------------------------------------------------------------
  analyze_directory) mkdir d; run 2 "d: is a directory" analyze d ;;
  analyze_fifo) mkfifo f; run 2 "f: is not a regular file" analyze f ;;
  report_fifo) mkfifo f; run 2 "f: is not a regular file" report f -o r.html ;;
  machine_fifo)
    trace t.json; mkfifo f
    run 2 "--machine f: is not a regular file" analyze t.json --machine f
    run 2 "--machine f: is not a regular file" plan --devices 2 --machine f ;;
  data_directory) mkdir d; run 2 "d: is a directory" train $MLP --data idx:d,d ;;
  data_fifo) mkfifo f; run 2 "f: is not a regular file" train $MLP --data idx:f,f ;;
  trace_deep_nesting)
    python3 -c 'import sys; n=1000000; sys.stdout.write("{\"traceEvents\":[{\"ph\":\"X\",\"pid\":0,\"ts\":0,\"dur\":1,\"args\":{\"a\":" + "["*n + "]"*n + "}}]}")' > deep.json
    run 2 "nested deeper than" analyze deep.json
    run 2 "nested deeper than" report deep.json -o r.html ;;
  trace_wrong_type)
    printf '{"traceEvents":[{"ph":"X","pid":0,"ts":0,"dur":1,"cat":3}]}' > bad.json
    run 2 "bad.json.*traceEvents\\[0\\].*wrong type" analyze bad.json
    run 2 "bad.json.*traceEvents\\[0\\].*wrong type" report bad.json -o r.html ;;
  # --- config files -------------------------------------------------------------------------------------------
  toml_empty_array) printf 'model = "mlp"\nlr = []\n' > c.toml; run 2 "key 'lr' is an empty array" train --config c.toml ;;
  toml_datetime_bool)
    printf 'shuffle = 1979-05-27T07:32:00Z\n' > c.toml; run 2 "key 'shuffle' is a date/time" train --config c.toml ;;
  toml_empty_number) printf 'batch = ""\n' > c.toml; run 2 "key 'batch' = \"\" is empty" train --config c.toml ;;
  toml_bool_for_number) printf 'batch = true\n' > c.toml; run 2 "key 'batch' is true/false" train --config c.toml ;;
  toml_repeated_table)
    printf '[train]\nlr = 0.1\n[train]\nbatch = 4\n' > c.toml; run 2 "cannot parse it as TOML" train --config c.toml ;;
  # --- numbers ------------------------------------------------------------------------------------------------
  steps_zero)
    run 0 "--steps 0: no training step" train $MLP --steps 0 --log l.jsonl
    [ ! -s l.jsonl ] || fail "--steps 0 trained: $(cat l.jsonl)" ;;
  init_nan)
    run 0 "" train $MLP --steps 0 --save init.st
    python3 - <<'PY' || fail "patching init.st"
import json, struct
b = bytearray(open("init.st", "rb").read())
n = struct.unpack("<Q", b[:8])[0]
h = json.loads(b[8:8 + n])
begin = h["fc2.weight"]["data_offsets"][0]
b[8 + n + begin + 4 * 5: 8 + n + begin + 4 * 6] = struct.pack("<f", float("nan"))
open("init.st", "wb").write(b)
PY
    run 2 "parameter 'fc2.weight' holds nan at flat index 5" train $MLP --steps 2 --init init.st ;;
  nan_loss_names_step)
    # --lr 1e30 diverges within a few steps; the failing step is the one after the last logged line.
    run 1 "the (loss|gradient norm) is (nan|inf|-nan)" train $MLP --steps 50 --lr 1e30 --log l.jsonl
    failed=$(( $(grep -c . l.jsonl) + 1 ))
    printf '%s\n' "$out" | grep -qE "step $failed: the" || fail "the message does not name step $failed (the log's count)"
    printf '%s\n' "$out" | grep -q "first parameter it reached: '" || fail "no parameter named" ;;
  # --- signals ------------------------------------------------------------------------------------------------
  sigint_checkpoints)
    "$PX" train $MLP --steps 1000000 --checkpoint-dir ck --log l.jsonl --trace t.json > out.txt 2>&1 & pid=$!
    while [ ! -s l.jsonl ]; do sleep 0.1; done
    kill -INT $pid; wait $pid; rc=$?
    cat out.txt
    [ "$rc" -eq 130 ] || fail "exit code $rc, expected 130"
    # The committed checkpoint of the step it stopped at (docs/io.md, checkpoint directories).
    step=$(cat ck/latest 2>/dev/null)
    [ -n "$step" ] && [ -f "ck/$step/manifest.json" ] && [ -f "ck/$step/device-0.safetensors" ] || fail "no final checkpoint"
    stopped=$(sed -n 's/.*after step \([0-9]*\);.*/\1/p' out.txt)
    [ "$step" = "$(printf 'step-%06d' "$stopped")" ] || fail "latest is $step, but the run stopped after step $stopped"
    [ -f t.json ] || fail "no trace"
    run 0 "" analyze t.json ;;
  sigterm_two_devices)
    "$PX" train $MLP --devices 2 --pp 2 --microbatches 2 --steps 1000000 --checkpoint-dir ck --log l.jsonl \
      > out.txt 2>&1 & pid=$!
    while [ ! -s l.jsonl ]; do sleep 0.1; done
    kill -TERM $pid; wait $pid; rc=$?
    cat out.txt
    [ "$rc" -eq 143 ] || fail "exit code $rc, expected 143"
    step=$(cat ck/latest 2>/dev/null)
    [ -n "$step" ] && [ -f "ck/$step/manifest.json" ] && [ -f "ck/$step/device-0.safetensors" ] &&
      [ -f "ck/$step/device-1.safetensors" ] || fail "missing per-device checkpoints" ;;
  second_signal_exits_at_once)
    # Two signals sent while the process is stopped arrive together on SIGCONT: the second ends the process
    # at once (128 + its number), without the graceful path's "stopped by signal" line.
    "$PX" train $MLP --steps 1000000 --log l.jsonl > out.txt 2>&1 & pid=$!
    while [ ! -s l.jsonl ]; do sleep 0.1; done
    kill -STOP $pid; kill -INT $pid; kill -TERM $pid; kill -CONT $pid; wait $pid; rc=$?
    cat out.txt
    [ "$rc" -eq 130 ] || [ "$rc" -eq 143 ] || fail "exit code $rc, expected 130 or 143"
    ! grep -q "stopped by signal" out.txt || fail "the second signal did not end the process at once" ;;
  *) fail "unknown case" ;;
esac
echo "ok [$CASE]"
