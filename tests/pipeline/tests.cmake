# CLI checks of `paraxis schedule`: each runs the built binary and checks the exit code and a line of output
# (an extended regular expression: tests/cli/expect_exit.sh).
set(PX_SCHED_EXPECT ${CMAKE_SOURCE_DIR}/tests/cli/expect_exit.sh)
function(px_schedule_test name code pattern)
  add_test(NAME cli_schedule_${name} COMMAND sh ${PX_SCHED_EXPECT} ${code} ${pattern} $<TARGET_FILE:paraxis>
                                             schedule ${ARGN})
endfunction()

# Valid runs: the measured bubble equals theory in unit time (F=1, B=2).
px_schedule_test(gpipe 0 "measured 0\\.2727, theory 0\\.2727" --schedule gpipe --pp 4 --microbatches 8)
px_schedule_test(1f1b 0 "peak stashed micro-batches per stage: 4 3 2 1" --schedule 1f1b --pp 4 --microbatches 8)
px_schedule_test(interleaved 0 "measured 0\\.1579, theory 0\\.1579" --schedule interleaved-1f1b --pp 4
                 --microbatches 8 --virtual 2 --lowered)
px_schedule_test(zbh1 0 "measured 0\\.1111, theory 0\\.1111" --schedule zb-h1 --pp 4 --microbatches 8
                 --timeline)
px_schedule_test(fewer_microbatches 0 "no deadlock" --schedule 1f1b --pp 4 --microbatches 2)
px_schedule_test(csv 0 "0F0,0SEND_F0,0F1" --schedule 1f1b --pp 2 --microbatches 2 --lowered --format csv)
px_schedule_test(json 0 "\"idle_fraction_theory\"" --schedule gpipe --pp 2 --microbatches 2 --format json)
px_schedule_test(partition 0 "cuts 0 1 5 6" --pp 3 --costs 4,1,1,1,1,4)
px_schedule_test(from_file 0 "makespan 12" --from ${CMAKE_CURRENT_LIST_DIR}/data/gpipe_p2_m3.csv)
# PyTorch's own schedule CSV (a real artifact, idle cells included): read, validated, dry-run, written back.
px_schedule_test(from_torch_csv 0 "0F0,0F1,2F0,,2F1,2I0" --format torch-csv --from
                 ${CMAKE_CURRENT_LIST_DIR}/data/zb1p_2rank_2stagep_compute.csv)
px_schedule_test(from_torch_csv_overlap 0 "\\(PyTorch's CSV form\\): 4 devices, 8 stages, 10 microbatches"
                 --from ${CMAKE_CURRENT_LIST_DIR}/data/dualpipev_4rank_10mb.csv)

# Bad input: exit code exactly 2 and a valid alternative in the message.
px_schedule_test(bad_interleaved_m 2 "use --microbatches 8" --schedule interleaved-1f1b --pp 4 --microbatches 6
                 --virtual 2)
px_schedule_test(bad_virtual_p1 2 "use --pp 2 or more" --schedule interleaved-1f1b --pp 1 --microbatches 4
                 --virtual 2)
px_schedule_test(bad_virtual_kind 2 "use --schedule interleaved-1f1b" --schedule 1f1b --pp 2 --microbatches 4
                 --virtual 2)
px_schedule_test(bad_m0 2 "use --microbatches 2 or more" --schedule gpipe --pp 2 --microbatches 0)
px_schedule_test(bad_p0 2 "use --pp 1 or more" --schedule gpipe --pp 0 --microbatches 4)
px_schedule_test(bad_stages_vs_blocks 2 "use at most 3 stages" --pp 4 --costs 1,1,1)
px_schedule_test(bad_name 2 "use gpipe, 1f1b, interleaved-1f1b or zb-h1" --schedule pipedream)
px_schedule_test(bad_format 2 "use grid, csv, torch-csv, json or text" --format xml)
px_schedule_test(bad_file 2 "deadlocks" --from ${CMAKE_CURRENT_LIST_DIR}/data/deadlock.txt)
px_schedule_test(bad_torch_csv_fsdp 2 "row 3, column 1 \\(rank 1, step 0\\): '1UNSHARD' is FSDP's UNSHARD"
                 --from ${CMAKE_CURRENT_LIST_DIR}/data/torch_fsdp_unshard.csv)
