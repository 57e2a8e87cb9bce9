# `paraxis demo --quick`: the table, the verdicts (placement -> workload partitioning, 1F1B -> pipeline, never workload partitioning),
# equal final losses, report.html and the traces (tests/demo/check_demo.sh).
add_test(NAME cli_demo_quick
         COMMAND sh ${CMAKE_CURRENT_LIST_DIR}/check_demo.sh $<TARGET_FILE:paraxis>
                 ${CMAKE_BINARY_DIR}/demo-quick)
# Serial: the verdicts are read from wall-clock traces, so the demo gets the machine to itself.
set_tests_properties(cli_demo_quick PROPERTIES TIMEOUT 180 RUN_SERIAL TRUE)
add_test(NAME cli_demo_rounds
         COMMAND sh ${CMAKE_CURRENT_LIST_DIR}/check_demo_rounds.sh $<TARGET_FILE:paraxis>
                 ${CMAKE_BINARY_DIR}/demo-rounds)
set_tests_properties(cli_demo_rounds PROPERTIES TIMEOUT 180 RUN_SERIAL TRUE)
add_test(NAME cli_demo_bad_rounds
         COMMAND ${CMAKE_SOURCE_DIR}/tests/cli/expect_exit.sh 2 "--rounds 0: must be between 1 and 20"
                 $<TARGET_FILE:paraxis> demo --rounds 0 --out ${CMAKE_BINARY_DIR}/demo-never)
add_test(NAME cli_demo_calibrate_not_with_accelerator
         COMMAND ${CMAKE_SOURCE_DIR}/tests/cli/expect_exit.sh 2 "--calibrate measures this machine's rates"
                 $<TARGET_FILE:paraxis> demo --calibrate --preset h100-sxm --out ${CMAKE_BINARY_DIR}/demo-never)
