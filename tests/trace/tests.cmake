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
  PASS_REGULAR_EXPRESSION "pipeline bubble: +27.3%.*speedup: +2.91× over one device.*verdict: +parallel: two or more devices")

foreach(bad missing.json not_json.json not_trace.json)
  add_test(NAME cli.trace.analyze_rejects_${bad}
           COMMAND sh -c "$0 analyze ${PX_TRACE_DIR}/${bad}; test $? -eq 2" $<TARGET_FILE:paraxis>)
  add_test(NAME cli.trace.report_rejects_${bad}
           COMMAND sh -c "$0 report ${PX_TRACE_DIR}/${bad} -o ${PX_TRACE_DIR}/bad.html; test $? -eq 2"
                   $<TARGET_FILE:paraxis>)
endforeach()
