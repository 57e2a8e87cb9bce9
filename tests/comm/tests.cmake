# MPI runs of the communicator (ctest label `mpi`): one small program, one scenario per entry, each bounded by
# mpirun --timeout so a hang fails the test instead of stalling CI.
add_executable(paraxis_mpi_comm_test ${CMAKE_CURRENT_LIST_DIR}/mpi_comm_main.cc)
target_include_directories(paraxis_mpi_comm_test PRIVATE src tests)
target_link_libraries(paraxis_mpi_comm_test PRIVATE paraxis_lib)

set(PARAXIS_MPIRUN ${MPIEXEC_EXECUTABLE} --allow-run-as-root --oversubscribe --bind-to none --timeout 90)

foreach(np 2 4)
  foreach(mode closed-form vs-threads)
    add_test(NAME mpi_comm_${mode}_np${np}
             COMMAND ${PARAXIS_MPIRUN} -np ${np} $<TARGET_FILE:paraxis_mpi_comm_test> ${mode})
    set_tests_properties(mpi_comm_${mode}_np${np} PROPERTIES LABELS mpi TIMEOUT 120)
  endforeach()
endforeach()

# Failure scenarios pass on their output (mpirun's exit code is non-zero by design).
add_test(NAME mpi_comm_throw_np2 COMMAND ${PARAXIS_MPIRUN} -np 2 $<TARGET_FILE:paraxis_mpi_comm_test> throw)
set_tests_properties(mpi_comm_throw_np2 PROPERTIES LABELS mpi TIMEOUT 120 PASS_REGULAR_EXPRESSION
                     "rank 1 failed, aborting the MPI job: \\[device 1\\] injected failure in layer fc1"
                     FAIL_REGULAR_EXPRESSION "all checks passed")
add_test(NAME mpi_comm_throw_np4 COMMAND ${PARAXIS_MPIRUN} -np 4 $<TARGET_FILE:paraxis_mpi_comm_test> throw)
set_tests_properties(mpi_comm_throw_np4 PROPERTIES LABELS mpi TIMEOUT 120 PASS_REGULAR_EXPRESSION
                     "rank 1 failed, aborting the MPI job: \\[device 1\\] injected failure in layer fc1"
                     FAIL_REGULAR_EXPRESSION "all checks passed")
add_test(NAME mpi_comm_watchdog_np2 COMMAND ${PARAXIS_MPIRUN} -np 2 $<TARGET_FILE:paraxis_mpi_comm_test> watchdog)
set_tests_properties(mpi_comm_watchdog_np2 PROPERTIES LABELS mpi TIMEOUT 120 PASS_REGULAR_EXPRESSION
                     "\\[rank 0\\] comm watchdog: waited more than 1 s \\(--comm-timeout\\) in all_reduce #1 \\(1 floats, max\\)"
                     FAIL_REGULAR_EXPRESSION "all checks passed")
add_test(NAME mpi_comm_check_np2 COMMAND ${PARAXIS_MPIRUN} -np 2 $<TARGET_FILE:paraxis_mpi_comm_test> check)
set_tests_properties(mpi_comm_check_np2 PROPERTIES LABELS mpi TIMEOUT 120 PASS_REGULAR_EXPRESSION
                     "rank 1 called all_reduce #0 \\(16 floats, sum\\)" FAIL_REGULAR_EXPRESSION "all checks passed")

# The benchmark command itself, small and quick: it fails when a result is wrong (#wrong > 0).
foreach(op allreduce reduce_scatter allgather broadcast sendrecv alltoall)
  add_test(NAME cli_bench_comm_${op}
           COMMAND $<TARGET_FILE:paraxis> bench comm --devices 3 --op ${op} --sizes 1K:1M --factor 32 --iters 3
                   --peer none)
  set_tests_properties(cli_bench_comm_${op} PROPERTIES TIMEOUT 120)
endforeach()
add_test(NAME mpi_bench_comm_np2
         COMMAND ${PARAXIS_MPIRUN} -np 2 $<TARGET_FILE:paraxis> bench comm --backend mpi --sizes 1K:1M --factor 32
                 --iters 3)
set_tests_properties(mpi_bench_comm_np2 PROPERTIES LABELS mpi TIMEOUT 120)
