# `paraxis train` / `paraxis generate` end to end (tests/train/train_cli.sh): resume identity, config file,
# --steps 0 --save, generate, progress lines, and one entry per kind of bad input (exit code 2 and the message).
set(PX_TRAIN_CLI ${CMAKE_CURRENT_LIST_DIR}/train_cli.sh)
foreach(
  case
  resume_sgd
  resume_adamw_cosine
  resume_pipeline
  resume_ignores_temp_file
  config_equivalent
  config_flags_override
  init_export
  generate
  progress_lines
  bad_config_key
  bad_config_type
  bad_batch_zero
  bad_batch_negative
  bad_steps_negative
  bad_lr_zero
  bad_lr_negative
  bad_size_zero
  bad_missing_dataset
  bad_truncated_idx
  bad_corrupt_checkpoint
  bad_garbage_checkpoint
  bad_resume_missing_dir
  bad_resume_other_model
  bad_resume_other_layout
  bad_resume_other_seed
  bad_resume_other_shuffle
  bad_resume_mixed_steps)
  add_test(NAME cli.train.${case} COMMAND sh ${PX_TRAIN_CLI} $<TARGET_FILE:paraxis> ${case})
endforeach()
