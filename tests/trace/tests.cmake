# CLI checks of `paraxis analyze` and `paraxis report`: verdicts on example traces, exit code 2 on bad input.
set(PX_TRACE_DIR ${CMAKE_BINARY_DIR}/trace_cli_test)
file(MAKE_DIRECTORY ${PX_TRACE_DIR})
file(WRITE ${PX_TRACE_DIR}/not_json.json "this is not json")
file(WRITE ${PX_TRACE_DIR}/not_trace.json "{\"hello\": 1}")

add_test(NAME cli.trace.placement_is_partitioning
         COMMAND sh -c "$0 example-trace --layout placement --devices 2 -o ${PX_TRACE_DIR}/placement.json && \
$0 analyze ${PX_TRACE_DIR}/placement.json" $<TARGET_FILE:paraxis>)
set_tests_properties(cli.trace.placement_is_partitioning PROPERTIES
  PASS_REGULAR_EXPRESSION "verdict: +workload partitioning: at most one device computed at a time.*stream 8 micro-batches with 1F1B: utilization")

add_test(NAME cli.trace.1f1b_is_parallel
         COMMAND sh -c "$0 example-trace --layout 1f1b --devices 4 -m 8 --comm-ms 0 -o ${PX_TRACE_DIR}/1f1b.json && \
$0 analyze ${PX_TRACE_DIR}/1f1b.json --one-device-ms 96" $<TARGET_FILE:paraxis>)
set_tests_properties(cli.trace.1f1b_is_parallel PROPERTIES
  PASS_REGULAR_EXPRESSION "pipeline bubble: +27.3%.*speedup: +2.91× over one device.*verdict: +pipeline \\(1F1B, m = 8\\): two or more devices")

foreach(bad missing.json not_json.json not_trace.json)
  add_test(NAME cli.trace.analyze_rejects_${bad}
           COMMAND sh -c "$0 analyze ${PX_TRACE_DIR}/${bad}; test $? -eq 2" $<TARGET_FILE:paraxis>)
  add_test(NAME cli.trace.report_rejects_${bad}
           COMMAND sh -c "$0 report ${PX_TRACE_DIR}/${bad} -o ${PX_TRACE_DIR}/bad.html; test $? -eq 2"
                   $<TARGET_FILE:paraxis>)
endforeach()

# --steps A:B: a 10-step run, its figures over steps 3..5, and each bad value (exit 2, the value, the rule and
# a valid alternative) on both commands.
add_test(NAME cli.trace.long_trace
         COMMAND $<TARGET_FILE:paraxis> example-trace --layout 1f1b --devices 4 -m 8 --comm-ms 0 --steps 10
                 -o ${PX_TRACE_DIR}/long10.json)
set_tests_properties(cli.trace.long_trace PROPERTIES FIXTURES_SETUP px_long_trace
  PASS_REGULAR_EXPRESSION "10 steps, [0-9]+ events")
add_test(NAME cli.trace.analyze_steps
         COMMAND $<TARGET_FILE:paraxis> analyze ${PX_TRACE_DIR}/long10.json --steps 3:5)
set_tests_properties(cli.trace.analyze_steps PROPERTIES FIXTURES_REQUIRED px_long_trace
  PASS_REGULAR_EXPRESSION "long10.json \\(steps 3–5 of 10\\).*\\(mean of 3 steps\\).*pipeline bubble: +27.3%")
add_test(NAME cli.trace.report_steps
         COMMAND ${PARAXIS_EXPECT_EXIT} 0 "wrote .*long10.html \\(1 trace, [0-9]+ KB\\)"
                 $<TARGET_FILE:paraxis> report ${PX_TRACE_DIR}/long10.json --steps 3:5 -o ${PX_TRACE_DIR}/long10.html)
set_tests_properties(cli.trace.report_steps PROPERTIES FIXTURES_REQUIRED px_long_trace)
set(PX_BAD_STEPS_after "5:3" "--steps 5:3 starts after it ends \\(5 > 3\\).*use --steps 3:5")
set(PX_BAD_STEPS_range "0:10" "--steps 0:10 is out of range: .*long10.json marks 10 steps, numbered 0..9; use --steps 0:9")
set(PX_BAD_STEPS_text "x:2" "--steps 'x:2' is not a step range: give A:B.*e.g. --steps 0:2")
foreach(bad after range text)
  list(GET PX_BAD_STEPS_${bad} 0 value)
  list(GET PX_BAD_STEPS_${bad} 1 message)
  add_test(NAME cli.trace.analyze_rejects_steps_${bad}
           COMMAND ${PARAXIS_EXPECT_EXIT} 2 "${message}"
                   $<TARGET_FILE:paraxis> analyze ${PX_TRACE_DIR}/long10.json --steps ${value})
  add_test(NAME cli.trace.report_rejects_steps_${bad}
           COMMAND ${PARAXIS_EXPECT_EXIT} 2 "${message}"
                   $<TARGET_FILE:paraxis> report ${PX_TRACE_DIR}/long10.json --steps ${value} -o ${PX_TRACE_DIR}/bad.html)
  set_tests_properties(cli.trace.analyze_rejects_steps_${bad} cli.trace.report_rejects_steps_${bad}
                       PROPERTIES FIXTURES_REQUIRED px_long_trace)
endforeach()

# PyTorch profiler traces (scripts/torch-traces wrote the fixtures): one run from its rank files, the verdict
# of its layout; a rank file alone is bad input; `report` shows each run once.
set(PX_TORCH_FIXTURES ${CMAKE_SOURCE_DIR}/tests/trace/fixtures/torch)
# The kinds only: what a run achieved depends on the load of the machine the fixtures were recorded on.
foreach(run_verdict "placement;workload partitioning: " "gpipe;pipeline \\(GPipe, m = 4\\): " "ddp;data parallel: ")
  list(GET run_verdict 0 run)
  list(GET run_verdict 1 verdict)
  add_test(NAME cli.trace.torch_${run}
           COMMAND ${CMAKE_SOURCE_DIR}/tests/cli/expect_exit.sh 0 "verdict: +${verdict}"
                   $<TARGET_FILE:paraxis> analyze ${PX_TORCH_FIXTURES}/${run}.rank0.json
                   ${PX_TORCH_FIXTURES}/${run}.rank1.json)
endforeach()
add_test(NAME cli.trace.torch_rank_file_alone
         COMMAND ${CMAKE_SOURCE_DIR}/tests/cli/expect_exit.sh 2 "is rank 1 of a 2-rank run, but 1 rank file was given"
                 $<TARGET_FILE:paraxis> analyze ${PX_TORCH_FIXTURES}/ddp.rank1.json)
add_test(NAME cli.trace.torch_report
         COMMAND ${CMAKE_SOURCE_DIR}/tests/cli/expect_exit.sh 0 "wrote .*torch.html \\(3 traces,"
                 $<TARGET_FILE:paraxis> report ${PX_TORCH_FIXTURES}/placement.rank0.json
                 ${PX_TORCH_FIXTURES}/placement.rank1.json ${PX_TORCH_FIXTURES}/gpipe.rank0.json
                 ${PX_TORCH_FIXTURES}/gpipe.rank1.json ${PX_TORCH_FIXTURES}/ddp.rank0.json
                 ${PX_TORCH_FIXTURES}/ddp.rank1.json -o ${PX_TRACE_DIR}/torch.html)

# --trace under --backend mpi (ctest label `mpi`): one merged file from every rank (src/trace/merge.cc).
set(PX_TRACE_MPIRUN ${MPIEXEC_EXECUTABLE} --allow-run-as-root --oversubscribe --bind-to none --timeout 120)
add_test(NAME mpi_train_trace_np2
         COMMAND ${CMAKE_SOURCE_DIR}/tests/trace/mpi_trace_check.sh $<TARGET_FILE:paraxis> ${PX_TRACE_MPIRUN} --
                 --pp 2 --microbatches 2 --mlp-sizes 784,64,10 --data synthetic --steps 3 --batch 16)
set_tests_properties(mpi_train_trace_np2 PROPERTIES LABELS mpi TIMEOUT 240)

add_executable(paraxis_mpi_trace_test ${CMAKE_CURRENT_LIST_DIR}/mpi_trace_main.cc)
target_link_libraries(paraxis_mpi_trace_test PRIVATE paraxis_lib)
add_test(NAME mpi_trace_skew_np3 COMMAND ${PX_TRACE_MPIRUN} -np 3 $<TARGET_FILE:paraxis_mpi_trace_test> skew)
set_tests_properties(mpi_trace_skew_np3 PROPERTIES LABELS mpi TIMEOUT 180 PASS_REGULAR_EXPRESSION
                     "skew: all checks passed on 3 ranks")
# A rank that fails, or never arrives, during the gather ends the job instead of hanging it.
add_test(NAME mpi_trace_die_np2 COMMAND ${PX_TRACE_MPIRUN} -np 2 $<TARGET_FILE:paraxis_mpi_trace_test> die)
set_tests_properties(mpi_trace_die_np2 PROPERTIES LABELS mpi TIMEOUT 180 PASS_REGULAR_EXPRESSION
                     "rank 1 failed, aborting the MPI job: .*injected failure in the trace gather"
                     FAIL_REGULAR_EXPRESSION "all checks passed")
add_test(NAME mpi_trace_stall_np2 COMMAND ${PX_TRACE_MPIRUN} -np 2 $<TARGET_FILE:paraxis_mpi_trace_test> stall)
set_tests_properties(mpi_trace_stall_np2 PROPERTIES LABELS mpi TIMEOUT 180 PASS_REGULAR_EXPRESSION
                     "\\[rank 0\\] comm watchdog: waited more than 1 s \\(--comm-timeout\\) in recv #[0-9]+ \\(4 floats from rank 1, tag 31438\\)"
                     FAIL_REGULAR_EXPRESSION "all checks passed")

# A real sp2 run's trace: analyze names it domain parallel, counts its HALO and LAYOUT exchanges as communication and
# prices its recommendation (split the batch instead) with the cost model.
add_test(NAME cli.trace.sp2_run_is_domain_parallel
         COMMAND sh -c "$0 train --model cnn --devices 2 --sp 2 --data synthetic --batch 8 --steps 2 --trace ${PX_TRACE_DIR}/sp2.json > /dev/null && \
$0 analyze ${PX_TRACE_DIR}/sp2.json" $<TARGET_FILE:paraxis>)
set_tests_properties(cli.trace.sp2_run_is_domain_parallel PROPERTIES
  PASS_REGULAR_EXPRESSION "device 1 \\(dp0 tp0 pp0 sp1\\).*domain exchanges: +4.0 HALO \\(halo exchanges\\) and 2.0 LAYOUT events.*verdict: +domain parallel: "
  FAIL_REGULAR_EXPRESSION "error")
