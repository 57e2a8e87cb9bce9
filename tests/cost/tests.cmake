# CLI checks of `paraxis plan`, `paraxis predict` and `paraxis calibrate --preset`: output labelled predicted,
# rejections with reasons, exit code 2 on bad input.
set(PX_MODEL_DIR ${CMAKE_BINARY_DIR}/model_cli_test)
file(MAKE_DIRECTORY ${PX_MODEL_DIR})

add_test(NAME cli.plan.gpt175b_on_1024_h100 COMMAND paraxis plan --model gpt-175b --devices 1024 --preset h100-sxm
                                                    --global-batch 1536 --top 3)
set_tests_properties(cli.plan.gpt175b_on_1024_h100 PROPERTIES
  PASS_REGULAR_EXPRESSION "plan \\(predicted by the cost model\\).*rank +layout.* 1  dp.*why: .* wins at a predicted.*rejected: [0-9]+ does not divide, [0-9]+ does not fit")

add_test(NAME cli.plan.nothing_fits_exits_2
         COMMAND sh -c "$0 plan --model gpt-13b --devices 8 --preset a100-80gb --global-batch 8 --memory-per-device 1e9 > ${PX_MODEL_DIR}/none.txt; test $? -eq 2 && grep -q 'does not fit: needs' ${PX_MODEL_DIR}/none.txt"
                 $<TARGET_FILE:paraxis>)

add_test(NAME cli.plan.mlp_prints_gholami COMMAND paraxis plan --model mlp --mlp-sizes 784,256,256,10 --devices 2
                                                  --global-batch 64)
set_tests_properties(cli.plan.mlp_prints_gholami PROPERTIES PASS_REGULAR_EXPRESSION "Gholami integrated model")

add_test(NAME cli.predict.3072_devices_trace
         COMMAND sh -c "$0 predict --model gpt-175b --preset h200 --dp 16 --tp 8 --pp 24 -m 96 --global-batch 1536 --trace-out ${PX_MODEL_DIR}/pred.json && $0 analyze ${PX_MODEL_DIR}/pred.json"
                 $<TARGET_FILE:paraxis>)
set_tests_properties(cli.predict.3072_devices_trace PROPERTIES
  PASS_REGULAR_EXPRESSION "predicted step time.*one pipeline group of 24 device.*pipeline bubble")

add_test(NAME cli.predict.tp_must_divide_heads
         COMMAND sh -c "$0 predict --model gpt --heads 4 --tp 3 --global-batch 6; test $? -eq 2" $<TARGET_FILE:paraxis>)
add_test(NAME cli.predict.unknown_preset
         COMMAND sh -c "$0 predict --model mlp --preset tpu-v9; test $? -eq 2" $<TARGET_FILE:paraxis>)

add_test(NAME cli.calibrate.preset_file_round_trips
         COMMAND sh -c "$0 calibrate --preset h100-sxm -o ${PX_MODEL_DIR}/h100.json && $0 predict --model gpt-1.3b --machine ${PX_MODEL_DIR}/h100.json --dp 8 --global-batch 64"
                 $<TARGET_FILE:paraxis>)
set_tests_properties(cli.calibrate.preset_file_round_trips PROPERTIES PASS_REGULAR_EXPRESSION "on h100-sxm: dp8 tp1 pp1")

add_test(NAME cli.calibrate.bad_rounds
         COMMAND ${CMAKE_SOURCE_DIR}/tests/cli/expect_exit.sh 2 "--rounds 0: must be between 1 and 99"
                 $<TARGET_FILE:paraxis> calibrate --rounds 0 -o ${PX_MODEL_DIR}/never.json)

# `paraxis calibrate --model cnn|alexnet` measures a CNN's convolution calls: bad flags exit 2 before ~90 s of
# measuring.
add_test(NAME cli.calibrate.model_must_be_a_cnn
         COMMAND ${CMAKE_SOURCE_DIR}/tests/cli/expect_exit.sh 2 "--model mlp: calibrate measures the convolutions of cnn or alexnet"
                 $<TARGET_FILE:paraxis> calibrate --model mlp -o ${PX_MODEL_DIR}/never.json)
add_test(NAME cli.calibrate.conv_samples_split_over_sp
         COMMAND ${CMAKE_SOURCE_DIR}/tests/cli/expect_exit.sh 2 "--samples 3 with --sp 2: sp 2 does not divide the micro-batch of 3"
                 $<TARGET_FILE:paraxis> calibrate --model cnn --samples 3 --sp 2 -o ${PX_MODEL_DIR}/never.json)
# A CNN's prediction in its own run: its convolution calls measured beside the Linear ones.
add_test(NAME cli.train.predict_cnn_calibrates_in_run
         COMMAND $<TARGET_FILE:paraxis> train --model cnn --data synthetic --image 1,16,16 --batch 4 --steps 3
                 --progress none --predict)
set_tests_properties(cli.train.predict_cnn_calibrates_in_run PROPERTIES PASS_REGULAR_EXPRESSION
  "calibrating for --predict \\(before training\\): the layout's Linear and convolution rates.*step time: measured [0-9.]+ ms \\(median\\), predicted [0-9.]+ ms")

# From a profile without the CNN's convolution calls: priced by call size, and the notice names the command.
add_test(NAME cli.train.predict_cnn_names_missing_conv_rates
         COMMAND $<TARGET_FILE:paraxis> train --model cnn --data synthetic --image 1,16,16 --batch 4 --steps 2
                 --progress none --predict --preset cpu-this-machine)
set_tests_properties(cli.train.predict_cnn_names_missing_conv_rates PROPERTIES PASS_REGULAR_EXPRESSION
  "notice: the profile has no measured rate for 2 of the run's 2 convolution calls.*paraxis calibrate --model cnn --image 1,16,16 --samples 4 -o FILE")

# `paraxis train --predict`: by default the rates come from this run (one calibration round before training
# and one after); with --preset they do not; --calibrate's rules exit 2 before anything trains.
set(PX_TRAIN_SMALL --mlp-sizes 64,32,10 --batch 16 --steps 4 --devices 2 --progress none)
add_test(NAME cli.train.predict_calibrates_in_run
         COMMAND $<TARGET_FILE:paraxis> train ${PX_TRAIN_SMALL} --predict)
set_tests_properties(cli.train.predict_calibrates_in_run PROPERTIES PASS_REGULAR_EXPRESSION
  "calibrating for --predict \\(before training\\).*trained mlp 64-32-10 for 4 steps.*calibrating for --predict \\(after training\\).*step time: measured [0-9.]+ ms \\(median\\), predicted [0-9.]+ ms \\(cost model, rates measured in this run, before and after training")
add_test(NAME cli.train.predict_from_preset
         COMMAND $<TARGET_FILE:paraxis> train ${PX_TRAIN_SMALL} --predict --preset cpu-this-machine)
set_tests_properties(cli.train.predict_from_preset PROPERTIES
  PASS_REGULAR_EXPRESSION "predicted [0-9.]+ ms \\(cost model, preset cpu-this-machine;"
  FAIL_REGULAR_EXPRESSION "calibrating")
add_test(NAME cli.train.calibrate_needs_predict
         COMMAND ${CMAKE_SOURCE_DIR}/tests/cli/expect_exit.sh 2 "--calibrate measures the rates of --predict"
                 $<TARGET_FILE:paraxis> train ${PX_TRAIN_SMALL} --calibrate)
add_test(NAME cli.train.calibrate_not_with_accelerator
         COMMAND ${CMAKE_SOURCE_DIR}/tests/cli/expect_exit.sh 2 "do not belong in --preset h100-sxm"
                 $<TARGET_FILE:paraxis> train ${PX_TRAIN_SMALL} --predict --calibrate --preset h100-sxm)
add_test(NAME cli.train.calibrate_not_under_mpi
         COMMAND ${CMAKE_SOURCE_DIR}/tests/cli/expect_exit.sh 2 "not under --backend mpi"
                 $<TARGET_FILE:paraxis> train ${PX_TRAIN_SMALL} --backend mpi --predict --calibrate)

# The planner proposes only what `paraxis train` runs: its winner's printed command trains (mlp, and a GPT whose
# memory forces recompute).
add_test(NAME cli.plan.winner_trains_mlp
         COMMAND sh -c "cmd=$($0 plan --model mlp --mlp-sizes 784,256,256,10 --devices 2 --global-batch 64 --optimizer sgd | sed -n 's/^run the winner: paraxis //p'); echo \"winner: $cmd\"; test -n \"$cmd\" && $0 $cmd --data synthetic --steps 2 --progress none"
                 $<TARGET_FILE:paraxis>)
set_tests_properties(cli.plan.winner_trains_mlp PROPERTIES PASS_REGULAR_EXPRESSION "winner: train .*trained mlp 784-256-256-10 for 2 steps")
add_test(NAME cli.plan.winner_trains_gpt
         COMMAND sh -c "cmd=$($0 plan --model gpt --vocab 64 --context 32 --width 64 --heads 4 --layers 4 --devices 4 --global-batch 16 --memory-per-device 1.5e6 | sed -n 's/^run the winner: paraxis //p'); echo \"winner: $cmd\"; test -n \"$cmd\" && $0 $cmd --data synthetic --steps 2 --progress none"
                 $<TARGET_FILE:paraxis>)
set_tests_properties(cli.plan.winner_trains_gpt PROPERTIES PASS_REGULAR_EXPRESSION "winner: train .*--pp 4 .*--recompute.*trained gpt")
add_test(NAME cli.train.recompute_prints_its_stash
         COMMAND $<TARGET_FILE:paraxis> train --mlp-sizes 784,512,512,512,10 --data synthetic --batch 64 --steps 2
                 --devices 2 --pp 2 --microbatches 8 --schedule gpipe --recompute --progress none)
set_tests_properties(cli.train.recompute_prints_its_stash PROPERTIES PASS_REGULAR_EXPRESSION
  "activations kept for the backward: at most [0-9.]+ MB on device 0 \\(measured, with --recompute\\)")

# Output a Megatron-LM user reads without a manual (issue #15, item 5): the winner's Megatron-LM arguments and
# train flags, --micro-batch-size beside -m, the default preset's notice, presets labelled with their
# assumptions, human units in and out, one utilization line per stage group.
set(PX_EXPECT ${CMAKE_SOURCE_DIR}/tests/cli/expect_exit.sh)
add_test(NAME cli.plan.winner_in_megatron_arguments
         COMMAND ${PX_EXPECT} 0
                 "^the winner in Megatron-LM \\(pretrain_gpt.py on 64 GPUs, data-parallel size [0-9]+\\): --num-layers 24 .*--tensor-model-parallel-size [0-9]+ --pipeline-model-parallel-size [0-9]+ .*--micro-batch-size [0-9]+ --global-batch-size 64"
                 $<TARGET_FILE:paraxis> plan --model gpt-1.3b --devices 64 --preset a100-80gb --global-batch 64 --top 1)
add_test(NAME cli.plan.winner_as_train_flags
         COMMAND ${PX_EXPECT} 0 "^the winner as paraxis train flags: --devices 64 --dp [0-9]+ --tp [0-9]+ --pp [0-9]+ --schedule"
                 $<TARGET_FILE:paraxis> plan --model gpt-1.3b --devices 64 --preset a100-80gb --global-batch 64 --top 1)
add_test(NAME cli.plan.micro_batch_size_fixes_the_micro_batch
         COMMAND ${PX_EXPECT} 0 "--micro-batch-size 2 --global-batch-size 64"
                 $<TARGET_FILE:paraxis> plan --model gpt-1.3b --devices 8 --preset h100-sxm --global-batch-size 64
                 --micro-batch-size 2 --top 1)
add_test(NAME cli.plan.memory_in_human_units
         COMMAND ${PX_EXPECT} 2 "does not fit: needs"
                 $<TARGET_FILE:paraxis> plan --model gpt-13b --devices 8 --preset a100-80gb --global-batch 8
                 --memory-per-device 1GB)
add_test(NAME cli.plan.memory_unit_unknown
         COMMAND ${PX_EXPECT} 2 "--memory-per-device 80GQ: give a positive size in bytes with an optional unit"
                 $<TARGET_FILE:paraxis> plan --model gpt-13b --devices 8 --preset a100-80gb --memory-per-device 80GQ)
add_test(NAME cli.predict.micro_batch_size_sets_m
         COMMAND ${PX_EXPECT} 0 "predicted step time +[0-9.]+ (s|ms) \\(micro-batch size 4, 8 micro-batches\\)"
                 $<TARGET_FILE:paraxis> predict --model gpt-1.3b --preset a100-80gb --tp 8 --pp 4 --dp 2
                 --global-batch-size 64 --micro-batch-size 4)
add_test(NAME cli.predict.micro_batch_size_conflicts_with_m
         COMMAND ${PX_EXPECT} 2 "--micro-batch-size 2 and -m 8 disagree: micro-batch size x m x dp = 2 x 8 x 2 = 32, but --global-batch is 64; use -m 16 with --micro-batch-size 2"
                 $<TARGET_FILE:paraxis> predict --model gpt-1.3b --preset a100-80gb --pp 4 --dp 2 -m 8
                 --global-batch 64 --micro-batch-size 2)
add_test(NAME cli.predict.default_preset_says_so
         COMMAND ${PX_EXPECT} 0 "^note: no --preset or --machine given, so this prices gpt L24 .* on cpu-this-machine .*give --preset a100-80gb, h100-sxm or h200"
                 $<TARGET_FILE:paraxis> predict --model gpt-1.3b --pp 4 -m 4 --global-batch 4)
add_test(NAME cli.predict.preset_lists_its_assumptions
         COMMAND ${PX_EXPECT} 0 "^  assumed \\(on no datasheet\\): kernel overhead 5 us, link latency 5 us in a node, 10 us between nodes"
                 $<TARGET_FILE:paraxis> predict --model gpt-1.3b --preset h100-sxm --dp 8 --global-batch 64)
add_test(NAME cli.predict.preset_is_datasheet_derived
         COMMAND ${PX_EXPECT} 0 "^hardware a100-80gb \\(preset: datasheet figures and published measurements, not measured here"
                 $<TARGET_FILE:paraxis> predict --model gpt-1.3b --preset a100-80gb --dp 8 --global-batch 64)
add_test(NAME cli.predict.seconds_and_stage_groups
         COMMAND sh -c "$0 predict --model gpt-175b --preset h200 --dp 16 --tp 8 --pp 24 -m 96 --global-batch 1536 > ${PX_MODEL_DIR}/groups.txt; grep -E 'predicted step time +[0-9.]+ s ' ${PX_MODEL_DIR}/groups.txt && grep -E '^  pipeline ranks [0-9]+-[0-9]+: utilization [0-9.]+% each' ${PX_MODEL_DIR}/groups.txt && test $(grep -c 'pipeline rank' ${PX_MODEL_DIR}/groups.txt) -lt 24"
                 $<TARGET_FILE:paraxis>)

# Domain parallelism priced: the communication split into batch, model and domain parts, per epoch, on the
# paper's machine given as alpha and beta; bad alpha/beta values exit 2 naming a valid one.
add_test(NAME cli.predict.cnn_sp2_paper_machine
         COMMAND paraxis predict --model cnn --image 3,64,64 --sp 2 --global-batch 32 --latency 2us
                 --bandwidth 6GB/s --dataset-size 50000)
set_tests_properties(cli.predict.cnn_sp2_paper_machine PROPERTIES PASS_REGULAR_EXPRESSION
  "links: alpha 2 us and bandwidth 6 GB/s.*dp1 tp1 pp1 sp2.*batch .*model .*domain .*[0-9]+ halo exchanges.*layout changes.*spatial gradient all-reduce.*50000 samples / global batch 32 = 1562 iterations \\(the last 16 samples dropped\\)")
# Under --sp-fc model the "model" part is the FC shards' all-reduces over the sp group, and says so.
add_test(NAME cli.predict.sp_fc_model_names_its_model_part
         COMMAND paraxis predict --model cnn --image 1,28,28 --sp 2 --sp-fc model --global-batch 8)
set_tests_properties(cli.predict.sp_fc_model_names_its_model_part PROPERTIES PASS_REGULAR_EXPRESSION
  "model .*sent per device  the FC shards' all-reduces over the sp group \\(--sp-fc model\\)")
add_test(NAME cli.predict.bad_latency_exits_2
         COMMAND sh -c "$0 predict --model cnn --sp 2 --latency 2xs > ${PX_MODEL_DIR}/lat.txt 2>&1; test $? -eq 2 && grep -q 'e.g. --latency 2us' ${PX_MODEL_DIR}/lat.txt"
                 $<TARGET_FILE:paraxis>)
add_test(NAME cli.predict.bad_bandwidth_exits_2
         COMMAND sh -c "$0 predict --model cnn --bandwidth 6GB/h > ${PX_MODEL_DIR}/bw.txt 2>&1; test $? -eq 2 && grep -q 'e.g. --bandwidth 6GB/s' ${PX_MODEL_DIR}/bw.txt"
                 $<TARGET_FILE:paraxis>)
add_test(NAME cli.predict.sp_on_an_mlp_exits_2
         COMMAND sh -c "$0 predict --model mlp --sp 2 > ${PX_MODEL_DIR}/spmlp.txt 2>&1; test $? -eq 2 && grep -q 'no convolutional side' ${PX_MODEL_DIR}/spmlp.txt"
                 $<TARGET_FILE:paraxis>)

# --precision (cost/precision.h): a GPU preset at fp32 is priced at its datasheet FP32 rate and says so; a CPU
# profile prices bf16 only with a measured speedup (train --predict measures it in the run); bad values exit 2.
add_test(NAME cli.predict.precision_fp32_on_gpu
         COMMAND $<TARGET_FILE:paraxis> predict --model gpt-1.3b --preset a100-80gb --dp 8 --global-batch 64
                 --precision fp32)
set_tests_properties(cli.predict.precision_fp32_on_gpu PROPERTIES PASS_REGULAR_EXPRESSION
  "assumed: --precision fp32 on a100-80gb: IEEE fp32 matmuls .*19.5 TFLOP/s, not the bf16 312.*predicted step time")
add_test(NAME cli.predict.bad_precision
         COMMAND ${CMAKE_SOURCE_DIR}/tests/cli/expect_exit.sh 2 "--precision 'fp16' is not a precision: use fp32"
                 $<TARGET_FILE:paraxis> predict --model mlp --precision fp16)
add_test(NAME cli.predict.bf16_needs_a_measured_rate
         COMMAND ${CMAKE_SOURCE_DIR}/tests/cli/expect_exit.sh 2 "no measured bf16 matmul rate.*paraxis calibrate"
                 $<TARGET_FILE:paraxis> predict --model mlp --precision bf16)
add_test(NAME cli.train.predict_bf16_calibrates_in_run
         COMMAND $<TARGET_FILE:paraxis> train ${PX_TRAIN_SMALL} --predict --precision bf16)
set_tests_properties(cli.train.predict_bf16_calibrates_in_run PROPERTIES PASS_REGULAR_EXPRESSION
  "assumed: --precision bf16 on .*every matmul rate x [0-9.]+, the measured bf16 / fp32 .*Linear and convolution passes measured in this run at that precision")
