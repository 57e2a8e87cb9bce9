# `paraxis train` / `paraxis generate` end to end (tests/train/train_cli.sh): resume identity, config file,
# --steps 0 --save, generate, progress lines, and one entry per kind of bad input (exit code 2 and the message).
set(PX_TRAIN_CLI ${CMAKE_CURRENT_LIST_DIR}/train_cli.sh)
foreach(
  case
  resume_sgd
  resume_adamw_cosine
  resume_pipeline
  resume_ignores_temp_file
  resume_log
  config_equivalent
  config_flags_override
  init_export
  generate
  progress_lines
  synthetic_eval
  bad_config_key
  bad_config_type
  bad_batch_zero
  bad_batch_negative
  bad_steps_negative
  bad_warmup
  bad_lr_zero
  bad_lr_negative
  bad_size_zero
  bad_missing_dataset
  bad_truncated_idx
  bad_corrupt_checkpoint
  bad_garbage_checkpoint
  bad_resume_missing_dir
  bad_resume_other_model
  resume_other_layout
  bad_resume_other_optimizer
  bad_resume_other_seed
  bad_resume_other_shuffle
  bad_resume_mixed_steps
  adamw_default_lr)
  add_test(NAME cli.train.${case} COMMAND sh ${PX_TRAIN_CLI} $<TARGET_FILE:paraxis> ${case})
endforeach()

# The checkpoint commit protocol (tests/train/checkpoint_cli.sh): fault injection at each point of a save for
# 1 device, dp 2 and pp 2; refusal of corrupt, mixed-run and tampered checkpoints; the lock; resharding.
set(PX_CKPT_CLI ${CMAKE_CURRENT_LIST_DIR}/checkpoint_cli.sh)
foreach(
  case
  fault_before_files_one
  fault_after_files_one
  fault_after_manifest_one
  fault_after_latest_one
  fault_before_files_dp2
  fault_between_files_dp2
  fault_after_files_dp2
  fault_after_manifest_dp2
  fault_after_latest_dp2
  fault_before_files_pp2
  fault_between_files_pp2
  fault_after_files_pp2
  fault_after_manifest_pp2
  fault_after_latest_pp2
  layout_on_disk
  keep_one
  bad_keep_zero
  skip_incomplete
  bad_flipped_bit
  bad_mixed_run
  bad_tampered_step_negative
  bad_tampered_step_suffix
  bad_tampered_step_moved
  bad_no_complete
  bad_other_run_dir
  lock_live
  lock_stale
  reshard_dp2_tp2
  reshard_tp2_pp2
  reshard_pp2_one
  reshard_zero1_plain
  reshard_one_zero1
  reshard_zero1_tp2_pp2)
  add_test(NAME cli.checkpoint.${case} COMMAND sh ${PX_CKPT_CLI} $<TARGET_FILE:paraxis> ${case})
endforeach()

# The same under mpirun (label mpi): two processes, each writing its own device file, killed after both files
# (before the manifest); the resume takes step 4 and ends bit-identical to the uninterrupted run.
add_test(NAME mpi_checkpoint_fault_after_files_np2
         COMMAND sh ${PX_CKPT_CLI} $<TARGET_FILE:paraxis> mpi_fault_after_files ${MPIEXEC_EXECUTABLE}
                 --allow-run-as-root --oversubscribe --bind-to none --timeout 120 -np 2)
set_tests_properties(mpi_checkpoint_fault_after_files_np2 PROPERTIES LABELS mpi TIMEOUT 120)
# Killed between the two ranks' files: the dead rank is left a zombie here (mpirun gone, the container's init
# does not reap); the lock of a zombie is stale.
add_test(NAME mpi_checkpoint_fault_between_files_np2
         COMMAND sh ${PX_CKPT_CLI} $<TARGET_FILE:paraxis> mpi_fault_between_files ${MPIEXEC_EXECUTABLE}
                 --allow-run-as-root --oversubscribe --bind-to none --timeout 120 -np 2)
set_tests_properties(mpi_checkpoint_fault_between_files_np2 PROPERTIES LABELS mpi TIMEOUT 120)

# `paraxis bench step`: runs and reports (no timing is asserted), and rejects bad input with exit code 2.
add_test(NAME cli.bench_step.mlp
         COMMAND sh ${CMAKE_SOURCE_DIR}/tests/cli/expect_exit.sh 0 "GFLOP/s = "
                 $<TARGET_FILE:paraxis> bench step --model mlp --mlp-sizes 64,32,10 --batch 16 --runs 2)
add_test(NAME cli.bench_step.gpt
         COMMAND sh ${CMAKE_SOURCE_DIR}/tests/cli/expect_exit.sh 0 "forward\\+backward: "
                 $<TARGET_FILE:paraxis> bench step --model gpt --vocab 32 --context 8 --width 16 --heads 2
                 --layers 1 --batch 2 --runs 2)
add_test(NAME cli.bench_step.bad_runs
         COMMAND sh ${CMAKE_SOURCE_DIR}/tests/cli/expect_exit.sh 2 "--runs 0 must be at least 1"
                 $<TARGET_FILE:paraxis> bench step --model mlp --runs 0)

# examples/train_mlp.cc for 20 steps on one device and with --tp 2: a finite loss, a test accuracy, the same
# final loss on both (tests/train/example_train_mlp.sh; skipped when Fashion-MNIST is not installed).
add_test(NAME example.train_mlp COMMAND sh ${CMAKE_CURRENT_LIST_DIR}/example_train_mlp.sh
                                        $<TARGET_FILE:example_train_mlp> 20)
set_tests_properties(example.train_mlp PROPERTIES TIMEOUT 120 SKIP_RETURN_CODE 77)

# --precision bf16 (kernels/precision.h): a run trains and says how bf16 runs here; an unknown precision is
# bad input; `bench step` takes it too.
add_test(NAME cli.train.precision_bf16
         COMMAND sh ${CMAKE_SOURCE_DIR}/tests/cli/expect_exit.sh 0 "--precision bf16: bf16 products (native|emulated)"
                 $<TARGET_FILE:paraxis> train --model mlp --mlp-sizes 64,32,10 --data synthetic --steps 5
                 --batch 16 --devices 2 --dp 2 --precision bf16 --progress none)
add_test(NAME cli.train.bad_precision
         COMMAND sh ${CMAKE_SOURCE_DIR}/tests/cli/expect_exit.sh 2 "--precision 'fp16' is not a precision: use fp32"
                 $<TARGET_FILE:paraxis> train --model mlp --precision fp16)
add_test(NAME cli.bench_step.bf16
         COMMAND sh ${CMAKE_SOURCE_DIR}/tests/cli/expect_exit.sh 0 "bf16 products, median of 2 runs"
                 $<TARGET_FILE:paraxis> bench step --model mlp --mlp-sizes 64,32,10 --batch 16 --runs 2
                 --precision bf16)

# A vocabulary wider than a byte (GPT-2's is 50,257): synthetic tokens train it, and generate prints the
# sampled ids, since no tokenizer is at hand.
add_test(NAME cli.train.large_vocab_generate
         COMMAND sh -c "$0 train --model gpt --vocab 1000 --context 16 --width 32 --heads 2 --layers 1 \
--data synthetic --steps 2 --batch 4 --progress none --save $1/large_vocab.safetensors && \
$0 generate --vocab 1000 --context 16 --width 32 --heads 2 --layers 1 --init $1/large_vocab.safetensors \
--prompt Hi --tokens 4"
                 $<TARGET_FILE:paraxis> ${CMAKE_BINARY_DIR})
set_tests_properties(cli.train.large_vocab_generate PROPERTIES
  PASS_REGULAR_EXPRESSION "vocabulary 1000: no tokenizer here.*Hi \\[[0-9]+\\] \\[[0-9]+\\] \\[[0-9]+\\] \\[[0-9]+\\]")

# GPT-2's vocabulary and context (V50257, T1024, NH12) on a narrow model: the initial parameters exported with
# --steps 0 --save, then generate samples from them (GPT-2 small itself: docs/results.md, bench_gpt2).
add_test(NAME cli.train.gpt2_vocab_init_generate
         COMMAND sh -c "$0 train --model gpt --vocab 50257 --context 1024 --width 24 --heads 12 --layers 1 \
--data synthetic --steps 0 --batch 1 --save $1/gpt2_vocab.safetensors && \
$0 generate --vocab 50257 --context 1024 --width 24 --heads 12 --layers 1 --init $1/gpt2_vocab.safetensors \
--prompt Hi --tokens 3"
                 $<TARGET_FILE:paraxis> ${CMAKE_BINARY_DIR})
set_tests_properties(cli.train.gpt2_vocab_init_generate PROPERTIES
  PASS_REGULAR_EXPRESSION "wrote the initial parameters of gpt V50257 T1024 C24 NH12 L1.*vocabulary 50257: no tokenizer here.*Hi \\[[0-9]+\\] \\[[0-9]+\\] \\[[0-9]+\\]")
