# CLI pieces that live in the executable's sources but are unit-tested: compile them into the test binary too.
target_sources(paraxis_tests PRIVATE ${CMAKE_SOURCE_DIR}/src/cli/model_flags.cc ${CMAKE_SOURCE_DIR}/src/cli/model_check.cc
                                     ${CMAKE_SOURCE_DIR}/src/cli/layout_args.cc
                                     ${CMAKE_SOURCE_DIR}/src/cli/units.cc)
target_link_libraries(paraxis_tests PRIVATE CLI11::CLI11)

# `paraxis describe` end to end: exit code and message. Enabled once src/cli/describe.cc exists (it is kept as
# describe.cc.pending until the model builders are merged, since it cannot link without them).
set(PARAXIS_EXPECT_EXIT ${CMAKE_SOURCE_DIR}/tests/cli/expect_exit.sh)
if(EXISTS ${CMAKE_SOURCE_DIR}/src/cli/describe.cc)
  add_test(NAME cli.describe.mlp
           COMMAND ${PARAXIS_EXPECT_EXIT} 0 "total +1285"
                   $<TARGET_FILE:paraxis> describe --mlp-sizes 20,32,16,5 --batch 8)
  add_test(NAME cli.describe.cnn
           COMMAND ${PARAXIS_EXPECT_EXIT} 0 "total +13818"
                   $<TARGET_FILE:paraxis> describe --model cnn --cnn-c1 4 --cnn-c2 8 --cnn-fc 32 --classes 10)
  add_test(NAME cli.describe.gpt
           COMMAND ${PARAXIS_EXPECT_EXIT} 0 "total +7744"
                   $<TARGET_FILE:paraxis> describe --model gpt --vocab 32 --context 8 --width 16 --heads 2
                   --layers 2 --batch 2)
  add_test(NAME cli.describe.bad_heads
           COMMAND ${PARAXIS_EXPECT_EXIT} 2 "--width 12 is not divisible by --heads 5"
                   $<TARGET_FILE:paraxis> describe --model gpt --width 12 --heads 5)
  add_test(NAME cli.describe.bad_mlp_sizes
           COMMAND ${PARAXIS_EXPECT_EXIT} 2 "--mlp-sizes '7,,3'"
                   $<TARGET_FILE:paraxis> describe --mlp-sizes 7,,3)
  add_test(NAME cli.describe.zero_size
           COMMAND ${PARAXIS_EXPECT_EXIT} 2 "--cnn-c1 0: sizes must be positive"
                   $<TARGET_FILE:paraxis> describe --model cnn --cnn-c1 0)
  add_test(NAME cli.describe.bad_batch
           COMMAND ${PARAXIS_EXPECT_EXIT} 2 "--batch 0"
                   $<TARGET_FILE:paraxis> describe --batch 0)
endif()

# Issue #19, nothing lost, nothing destroyed (tests/cli/safety_cli.sh): safe writes, special and hostile input
# files, config files, non-finite numbers, signals.
set(PX_SAFETY_CLI ${CMAKE_CURRENT_LIST_DIR}/safety_cli.sh)
foreach(case
  save_symlink save_device save_directory save_fifo save_checked_before_training write_error_is_reported
  stale_temp_removed report_to_symlink report_to_stdout analyze_directory analyze_fifo report_fifo machine_fifo
  data_directory data_fifo trace_deep_nesting trace_wrong_type toml_empty_array toml_datetime_bool
  toml_empty_number toml_bool_for_number toml_repeated_table steps_zero init_nan nan_loss_names_step
  sigint_checkpoints sigterm_two_devices second_signal_exits_at_once)
  add_test(NAME cli.safety.${case} COMMAND sh ${PX_SAFETY_CLI} $<TARGET_FILE:paraxis> ${case})
  set_tests_properties(cli.safety.${case} PROPERTIES TIMEOUT 120)
endforeach()

# `paraxis describe` of a GPT by size: the cost model's symbolic blocks, Megatron-LM's padded vocabulary.
add_test(NAME cli.describe.gpt_175b
         COMMAND ${PARAXIS_EXPECT_EXIT} 0 "^layers 0-95 \\(x96\\) +transformer_block"
                 $<TARGET_FILE:paraxis> describe --model gpt-175b)
add_test(NAME cli.describe.gpt_175b_vocabulary
         COMMAND ${PARAXIS_EXPECT_EXIT} 0 "vocabulary 51200; batch 1 sequences"
                 $<TARGET_FILE:paraxis> describe --model gpt-175b)
add_test(NAME cli.describe.gpt_by_sizes
         COMMAND ${PARAXIS_EXPECT_EXIT} 0 "2 layers, hidden 64, 4 heads, sequence 16, vocabulary 100"
                 $<TARGET_FILE:paraxis> describe --model gpt:2,64,4,16,100 --batch 2)
add_test(NAME cli.describe.gpt_bad_sizes
         COMMAND ${PARAXIS_EXPECT_EXIT} 2 "give five sizes gpt:LAYERS,HIDDEN,HEADS,SEQ,VOCAB"
                 $<TARGET_FILE:paraxis> describe --model gpt:2,64)
