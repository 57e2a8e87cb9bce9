#!/bin/sh
# train_cli.sh PARAXIS CASE — one end-to-end check of `paraxis train` / `paraxis generate` per CASE (each is its
# own ctest entry, see tests.cmake). Runs in a fresh temporary directory; prints what it ran; exits non-zero
# with a reason on failure. Bad-input cases check the exit code (2) and that the message names the problem.
set -u
PX="$1"
CASE="$2"
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/../cli/case_lib.sh"

# A small but real run: an MLP on synthetic data; 16384 samples / batch 512 = 32 batches per epoch, so 40
# steps cross an epoch boundary (reshuffle) after the checkpoint at step 20.
MLP="--model mlp --mlp-sizes 32,24,10 --data synthetic --batch 512 --progress none"
FMNIST=/usr/share/datasets/fashion-mnist

case "$CASE" in
  # --- resume identity: 2N steps == N steps, checkpoint, --resume, N more; parameters equal bit for bit -------
  resume_sgd)
    run 0 "" train $MLP --steps 40 --lr 0.05 --momentum 0.9 --save full.st
    run 0 "" train $MLP --steps 20 --lr 0.05 --momentum 0.9 --save-every 20 --checkpoint-dir ck
    run 0 "" train $MLP --steps 40 --lr 0.05 --momentum 0.9 --resume ck --save resumed.st
    same full.st resumed.st ;;
  resume_adamw_cosine)
    # An interrupted run (--stop-at) of the full schedule, then the same command with --resume.
    A="$MLP --steps 40 --optimizer adamw --lr 0.01 --weight-decay 0.1 --lr-schedule cosine --warmup 5 --clip 1"
    run 0 "" train $A --save full.st
    run 0 "" train $A --save-every 7 --checkpoint-dir ck --stop-at 21
    run 0 "" train $A --resume ck --save resumed.st
    same full.st resumed.st ;;
  resume_pipeline)
    # Two devices (pp 2, 1F1B, 4 micro-batches): one checkpoint file per device and the manifest.
    L="--devices 2 --pp 2 --microbatches 4"
    run 0 "" train $MLP $L --steps 12 --save full.st
    run 0 "" train $MLP $L --steps 12 --stop-at 6 --checkpoint-dir ck
    S=ck/step-000006
    [ -f $S/device-0.safetensors ] && [ -f $S/device-1.safetensors ] && [ -f $S/manifest.json ] ||
      fail "missing per-device files or the manifest"
    run 0 "" train $MLP $L --steps 12 --resume ck --save resumed.st
    same full.st resumed.st ;;
  resume_ignores_temp_file)
    # A crash during a save leaves DIR/step-N/device-0.safetensors.tmp.PID behind; resume ignores it.
    run 0 "" train $MLP --steps 20 --checkpoint-dir ck
    head -c 1000 ck/step-000020/device-0.safetensors > ck/step-000020/device-0.safetensors.tmp.4242
    run 0 "" train $MLP --steps 30 --save full30.st
    run 0 "" train $MLP --steps 30 --resume ck --save resumed30.st
    same full30.st resumed30.st ;;
  resume_log)
    # Interrupted after step 25 with the last checkpoint at 20: the resumed log has each step once, 1..40.
    A="$MLP --steps 40 --save-every 20 --log l.jsonl"
    run 0 "" train $A --checkpoint-dir ck --stop-at 20
    cp -r ck ck20
    run 0 "" train $A --checkpoint-dir ck --stop-at 25 --resume ck
    [ "$(grep -c . l.jsonl)" -eq 25 ] || fail "expected 25 log lines before the resume"
    run 0 "" train $A --checkpoint-dir ck --resume ck20
    steps=$(sed 's/.*"step":\([0-9]*\).*/\1/' l.jsonl | tr '\n' ' ')
    [ "$steps" = "$(seq -s ' ' 1 40) " ] || fail "log steps: $steps" ;;
  # --- config file -------------------------------------------------------------------------------------------
  config_equivalent)
    cat > run.toml <<EOF
model = "mlp"
mlp-sizes = "32,24,10"
data = "synthetic"
batch = 512
steps = 15
lr = 0.03
optimizer = "adamw"
seed = 7
progress = "none"
EOF
    run 0 "" train --config run.toml --save from_file.st
    run 0 "" train $MLP --steps 15 --lr 0.03 --optimizer adamw --seed 7 --save from_flags.st
    same from_file.st from_flags.st ;;
  config_flags_override)
    printf 'model = "mlp"\nmlp-sizes = "32,24,10"\ndata = "synthetic"\nbatch = 512\nsteps = 15\nlr = 0.5\n' > run.toml
    run 0 "" train --config run.toml --lr 0.03 --progress none --save overridden.st
    run 0 "" train $MLP --steps 15 --lr 0.03 --save flags.st
    same overridden.st flags.st ;;
  # --- --steps 0 --save: the initialisation, and training from it equals training from the seed --------------
  init_export)
    run 0 "wrote the initial parameters" train $MLP --steps 0 --save init.st
    [ -s init.st ] || fail "init.st was not written"
    run 0 "" train $MLP --steps 5 --save from_seed.st
    run 0 "" train $MLP --steps 5 --init init.st --save from_init.st
    same from_seed.st from_init.st ;;
  # --- generate and progress ---------------------------------------------------------------------------------
  generate)
    printf 'the cat sat on the mat. the dog sat on the log. ' > t.txt
    for i in 1 2 3 4 5 6; do cat t.txt t.txt > t2.txt; mv t2.txt t.txt; done
    G="--model gpt --vocab 256 --context 16 --width 32 --heads 2 --layers 1"
    run 0 "validation loss" train $G --data text:t.txt --batch 8 --steps 30 --optimizer adamw --lr 0.01 \
      --progress lines --save gpt.st
    run 0 "the cat" generate $G --init gpt.st --prompt "the cat" --tokens 40 --seed 3
    [ "$(printf '%s\n' "$out" | head -c 47 | wc -c)" -eq 47 ] || fail "expected 7 + 40 bytes of text" ;;
  progress_lines)
    # stdout/stderr are pipes here: --progress auto prints plain periodic lines, and the evaluation.
    run 0 "step 20/20: loss" train $MLP --steps 20 --progress auto
    printf '%s\n' "$out" | grep -qF "step 10/20: loss" || fail "no periodic line at step 10"
    printf '%s\n' "$out" | grep -qF "accuracy" || fail "no evaluation line" ;;
  synthetic_eval)
    # The held-out synthetic set comes from the same class centres as the training set, so a model that fits
    # the one classifies the other (it once came from another seed and scored below chance).
    run 0 "eval accuracy" train $MLP --steps 40
    printf '%s\n' "$out" | grep -qE "eval accuracy ([5-9][0-9]|100)\." || fail "held-out accuracy below 50% (chance is 10%)" ;;
  # --- bad input: exit code 2 and a message naming the problem -----------------------------------------------
  bad_config_key)
    printf 'model = "mlp"\nbatchsize = 32\n' > bad.toml
    run 2 "batchsize" train --config bad.toml ;;
  bad_config_type)
    printf 'model = "mlp"\nbatch = "many"\n' > bad.toml
    run 2 "batch" train --config bad.toml ;;
  bad_batch_zero) run 2 "--batch 0 must be at least 1" train $MLP --batch 0 ;;
  bad_batch_negative) run 2 "--batch -5 must be at least 1" train $MLP --batch -5 ;;
  bad_steps_negative) run 2 "--steps -3 must be 0 or more" train $MLP --steps -3 ;;
  bad_warmup) run 2 "--warmup 50 must be fewer than the 20 training steps" train $MLP --steps 20 --lr-schedule cosine --warmup 50 ;;
  bad_lr_zero) run 2 "--lr 0 must be positive" train $MLP --lr 0 ;;
  bad_lr_negative) run 2 "--lr -0.1 must be positive" train $MLP --lr -0.1 ;;
  bad_size_zero) run 2 "width 0 is not positive" train --model mlp --mlp-sizes 784,0,10 ;;
  bad_missing_dataset)
    run 2 "no-such-images.idx: no such file" train --model mlp --data idx:no-such-images.idx,labels.idx ;;
  bad_truncated_idx)
    zcat $FMNIST/train-images-idx3-ubyte.gz | head -c 20000 > images.idx
    zcat $FMNIST/train-labels-idx1-ubyte.gz > labels.idx
    run 2 "images.idx': dimensions (60000, 28, 28) need 47040000 data bytes" train --model mlp --data idx:images.idx,labels.idx --steps 1 ;;
  bad_corrupt_checkpoint)
    run 0 "" train $MLP --steps 4 --checkpoint-dir ck
    head -c 300 ck/step-000004/device-0.safetensors > cut && mv cut ck/step-000004/device-0.safetensors
    run 2 "device-0.safetensors" train $MLP --steps 8 --resume ck ;;
  bad_garbage_checkpoint)
    mkdir ck && head -c 4096 /dev/urandom > ck/device-0.safetensors
    run 2 "device-0.safetensors" train $MLP --steps 8 --resume ck ;;
  bad_resume_missing_dir) run 2 "--resume nowhere: no such checkpoint directory" train $MLP --resume nowhere ;;
  bad_resume_other_model)
    run 0 "" train $MLP --steps 4 --checkpoint-dir ck
    run 2 "the checkpoint is of model 'mlp 32-24-10'" train --model mlp --mlp-sizes 32,16,10 --data synthetic \
      --batch 512 --steps 8 --resume ck ;;
  resume_other_layout)
    # A checkpoint resumes on another layout (resharded; tests/train/checkpoint_cli.sh checks the values).
    run 0 "" train $MLP --steps 4 --devices 2 --pp 2 --checkpoint-dir ck
    run 0 "from layout 'devices 2 dp 1 tp 1 pp 2" train $MLP --steps 8 --devices 2 --dp 2 --resume ck ;;
  bad_resume_other_optimizer)
    run 0 "" train $MLP --steps 4 --checkpoint-dir ck
    run 2 "resume with --optimizer sgd" train $MLP --steps 8 --optimizer adamw --resume ck ;;
  bad_resume_other_seed)
    run 0 "" train $MLP --steps 4 --checkpoint-dir ck
    run 2 "resume with --seed 1" train $MLP --steps 8 --seed 2 --resume ck ;;
  bad_resume_other_shuffle)
    run 0 "" train $MLP --steps 4 --checkpoint-dir ck
    run 2 "resume with --shuffle" train $MLP --steps 8 --no-shuffle --resume ck ;;
  bad_resume_mixed_steps)
    # Per-device files of different steps (a directory assembled by hand): the manifest refuses it.
    L="--devices 2 --pp 2"
    run 0 "" train $MLP $L --steps 4 --checkpoint-dir ck
    run 0 "" train $MLP $L --steps 8 --resume ck --checkpoint-dir ck
    cp ck/step-000004/device-1.safetensors ck/step-000008/device-1.safetensors
    run 2 "device-1.safetensors: step '4' but the manifest's step is 8" train $MLP $L --steps 12 \
      --resume ck/step-000008 ;;
  adamw_default_lr)
    # Without --lr, AdamW takes PyTorch's 0.001 (SGD's 0.05 diverges under it); --lr or the file's lr wins.
    run 0 "" train $MLP --steps 1 --optimizer adamw --log a.jsonl
    grep -q '"lr":0.001,' a.jsonl || fail "adamw without --lr: $(cat a.jsonl)"
    run 0 "" train $MLP --steps 1 --log s.jsonl
    grep -q '"lr":0.05,' s.jsonl || fail "sgd without --lr: $(cat s.jsonl)"
    run 0 "" train $MLP --steps 1 --optimizer adamw --lr 0.02 --log f.jsonl
    grep -q '"lr":0.02,' f.jsonl || fail "adamw --lr 0.02: $(cat f.jsonl)"
    printf 'lr = 0.03\noptimizer = "adamw"\n' > run.toml
    run 0 "" train $MLP --steps 1 --config run.toml --log c.jsonl
    grep -q '"lr":0.03,' c.jsonl || fail "adamw with lr = 0.03 in the file: $(cat c.jsonl)" ;;
  *) fail "unknown case" ;;
esac
echo "PASS [$CASE]"
