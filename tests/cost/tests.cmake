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
