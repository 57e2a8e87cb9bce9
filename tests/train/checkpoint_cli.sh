#!/bin/sh
# checkpoint_cli.sh PARAXIS CASE [LAUNCHER...] — the checkpoint commit protocol end to end, one ctest entry per CASE
# (tests.cmake): a process killed at each point of a save (PARAXIS_FAULT) resumes from the last committed
# step bit-identically; corrupt, mixed-run and tampered checkpoints are refused (exit 2); the directory lock;
# pruning; and resharding a checkpoint onto another layout (fp32 tolerance against an uninterrupted run there).
set -u
PX="$1"
CASE="$2"
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/../cli/case_lib.sh"
# mpi_* cases: LAUNCHER (mpirun ... -np 2) starts paraxis, one process per device (--backend mpi).
if [ $# -gt 2 ]; then
  shift 2
  printf '#!/bin/sh\nexec %s "%s" "$@"\n' "$*" "$PX" >"$WORK/mpx" && chmod +x "$WORK/mpx"
  PX="$WORK/mpx"
fi
close() { python3 "$HERE/compare_safetensors.py" "$1" "$2" || fail "$1 and $2 differ beyond fp32 tolerance"; }

MLP="--model mlp --mlp-sizes 32,24,10 --data synthetic --batch 512 --progress none --optimizer adamw --lr 0.01"
GPT="--model gpt --vocab 32 --context 8 --width 16 --heads 4 --layers 2 --data synthetic --batch 8 --progress none --optimizer adamw --lr 0.01"
ONE="--devices 1"
DP2="--devices 2 --dp 2"
PP2="--devices 2 --pp 2 --microbatches 4"
TP2="--devices 2 --tp 2"
ZERO="--devices 2 --dp 2 --zero 1"
ZERO_TP2="--devices 4 --tp 2 --zero 1"
PP2_M2="--devices 2 --pp 2 --microbatches 2"
MPI_DP2="--backend mpi --dp 2"

# fault LAYOUT POINT RESUMED_STEP: killed at POINT of the save of step 8 (saves every 4 steps of 12); the
# resume takes step RESUMED_STEP and ends bit-identical to the uninterrupted run.
fault() {
  run 0 "" train $MLP $1 --steps 12 --save full.st
  echo "+ PARAXIS_FAULT=ckpt:$2@8"
  export PARAXIS_FAULT="ckpt:$2@8"
  run 86 "PARAXIS_FAULT: ending the process at ckpt:$2 of step 8" train $MLP $1 --steps 12 --save-every 4 \
    --checkpoint-dir ck
  unset PARAXIS_FAULT
  run 0 "resuming from ck/step-00000$3" train $MLP $1 --steps 12 --save-every 4 --checkpoint-dir ck --resume ck \
    --save resumed.st
  printf '%s\n' "$out" | grep -qF "which is not running; taking it over" || fail "the stale lock was not noted"
  same full.st resumed.st
}

# reshard FROM TO MODEL: 4 steps on FROM, 4 more on TO from the checkpoint == 8 steps on TO.
reshard() {
  run 0 "" train $3 $2 --steps 8 --save full.st
  run 0 "" train $3 $1 --steps 8 --stop-at 4 --checkpoint-dir ck
  run 0 "resharding the checkpoint from layout" train $3 $2 --steps 8 --resume ck --save resumed.st
  close full.st resumed.st
}

# A committed run with checkpoints at steps 4 and 8.
two_steps() { run 0 "" train $MLP $DP2 --steps 8 --save-every 4 --checkpoint-dir ck; }

case "$CASE" in
  fault_before_files_one) fault "$ONE" before-device-files 4 ;;
  fault_after_files_one) fault "$ONE" after-device-files 4 ;;
  fault_after_manifest_one) fault "$ONE" after-manifest 8 ;;
  fault_after_latest_one) fault "$ONE" after-latest 8 ;;
  fault_before_files_dp2) fault "$DP2" before-device-files 4 ;;
  fault_between_files_dp2) fault "$DP2" between-device-files 4 ;;
  fault_after_files_dp2) fault "$DP2" after-device-files 4 ;;
  fault_after_manifest_dp2) fault "$DP2" after-manifest 8 ;;
  fault_after_latest_dp2) fault "$DP2" after-latest 8 ;;
  mpi_fault_after_files) fault "$MPI_DP2" after-device-files 4 ;;
  mpi_fault_between_files) fault "$MPI_DP2" between-device-files 4 ;;
  fault_before_files_pp2) fault "$PP2" before-device-files 4 ;;
  fault_between_files_pp2) fault "$PP2" between-device-files 4 ;;
  fault_after_files_pp2) fault "$PP2" after-device-files 4 ;;
  fault_after_manifest_pp2) fault "$PP2" after-manifest 8 ;;
  fault_after_latest_pp2) fault "$PP2" after-latest 8 ;;
  layout_on_disk)
    run 0 "" train $MLP $PP2 --steps 12 --save-every 2 --checkpoint-dir ck
    [ "$(ls ck | tr '\n' ' ')" = "latest step-000010 step-000012 " ] || fail "ck holds: $(ls ck | tr '\n' ' ')"
    [ "$(cat ck/latest)" = "step-000012" ] || fail "latest: $(cat ck/latest)"
    [ ! -e ck/lock ] || fail "the lock was not released"
    for f in manifest.json device-0.safetensors device-1.safetensors; do
      [ -f ck/step-000012/$f ] || fail "missing ck/step-000012/$f"
    done
    grep -q '"crc32"' ck/step-000012/manifest.json || fail "no checksums in the manifest" ;;
  keep_one)
    run 0 "" train $MLP --steps 6 --save-every 2 --keep-checkpoints 1 --checkpoint-dir ck
    [ "$(ls -d ck/step-* | tr '\n' ' ')" = "ck/step-000006 " ] || fail "ck holds: $(ls ck | tr '\n' ' ')" ;;
  bad_keep_zero) run 2 "--keep-checkpoints 0 must be at least 1" train $MLP --keep-checkpoints 0 --checkpoint-dir ck ;;
  skip_incomplete)
    # A newer step without a manifest (interrupted) is skipped, with the reason.
    two_steps
    rm ck/step-000008/manifest.json
    run 0 "note: skipped" train $MLP $DP2 --steps 8 --resume ck
    printf '%s\n' "$out" | grep -qF "resuming from ck/step-000004" || fail "did not resume from step 4"
    printf '%s\n' "$out" | grep -qF "manifest.json is missing: the save was interrupted" || fail "no reason given" ;;
  bad_flipped_bit)
    two_steps
    f=ck/step-000008/device-1.safetensors
    size=$(wc -c < $f)
    printf '\001' | dd of=$f bs=1 seek=$((size - 7)) conv=notrunc 2>/dev/null
    run 2 "device-1.safetensors: checksum mismatch" train $MLP $DP2 --steps 12 --resume ck/step-000008
    run 0 "resuming from ck/step-000004" train $MLP $DP2 --steps 8 --resume ck
    printf '%s\n' "$out" | grep -qF "checksum mismatch" || fail "the skipped step's reason is not given" ;;
  bad_mixed_run)
    two_steps
    mv ck ckA
    two_steps
    cp ck/step-000008/device-1.safetensors ckA/step-000008/device-1.safetensors
    run 2 "device-1.safetensors: written by run" train $MLP $DP2 --steps 12 --resume ckA/step-000008
    printf '%s\n' "$out" | grep -qF "the directory mixes two runs" || fail "not named a mixed run" ;;
  bad_tampered_step_negative)
    two_steps
    sed -i 's/"step": 8/"step": "-5"/' ck/step-000008/manifest.json
    run 2 "'step' is \"-5\", not a non-negative integer" train $MLP $DP2 --steps 12 --resume ck/step-000008 ;;
  bad_tampered_step_suffix)
    two_steps
    sed -i 's/"step": 8/"step": "15abc"/' ck/step-000008/manifest.json
    run 2 "'step' is \"15abc\", not a non-negative integer" train $MLP $DP2 --steps 12 --resume ck/step-000008 ;;
  bad_tampered_step_moved)
    two_steps
    sed -i 's/"step": 8/"step": 6/' ck/step-000008/manifest.json
    run 2 "step 6 does not match its directory step-000008" train $MLP $DP2 --steps 12 --resume ck/step-000008 ;;
  bad_no_complete)
    two_steps
    rm ck/step-00000*/manifest.json
    run 2 "no complete checkpoint" train $MLP $DP2 --steps 12 --resume ck ;;
  bad_other_run_dir)
    run 0 "" train $MLP --steps 4 --checkpoint-dir ck
    run 2 "holds the checkpoints of another run" train $MLP --steps 4 --checkpoint-dir ck ;;
  lock_live)
    mkdir ck && echo $$ > ck/lock
    run 2 "is in use by another run (pid $$" train $MLP --steps 4 --checkpoint-dir ck ;;
  lock_stale)
    mkdir ck && sh -c 'echo $$' > ck/lock
    run 0 "which is not running; taking it over" train $MLP --steps 4 --checkpoint-dir ck
    [ ! -e ck/lock ] || fail "the lock was not released" ;;
  reshard_dp2_tp2) reshard "$DP2" "$TP2" "$GPT" ;;
  reshard_tp2_pp2) reshard "$TP2" "$PP2" "$GPT" ;;
  reshard_pp2_one) reshard "$PP2" "$ONE" "$MLP" ;;
  reshard_zero1_plain) reshard "$ZERO" "$DP2" "$MLP" ;;
  reshard_one_zero1) reshard "$ONE" "$ZERO" "$GPT" ;;
  reshard_zero1_tp2_pp2) reshard "$ZERO_TP2" "$PP2_M2" "$GPT" ;;
  *) fail "unknown case" ;;
esac
echo "PASS [$CASE]"
