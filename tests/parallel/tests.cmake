# Tensor parallelism end to end through `paraxis train`: the divisibility rules (exit 2 and message), a tp run
# on the threads backend, and (label mpi) tp runs under mpirun compared step by step with the threads backend.
set(PARAXIS_TP_EXPECT_EXIT ${CMAKE_SOURCE_DIR}/tests/cli/expect_exit.sh)
add_test(NAME cli.train.tp_bad_heads
         COMMAND ${PARAXIS_TP_EXPECT_EXIT} 2 "--tp 3 does not divide 4 attention heads; use --tp 1, 2 or 4\\."
                 $<TARGET_FILE:paraxis> train --devices 3 --tp 3 --model gpt --vocab 32 --context 8 --width 16
                 --heads 4 --layers 1 --data synthetic --steps 1 --batch 3)
add_test(NAME cli.train.tp_bad_hidden
         COMMAND ${PARAXIS_TP_EXPECT_EXIT} 2 "--tp 4 does not divide the hidden size 30 of fc1"
                 $<TARGET_FILE:paraxis> train --devices 4 --tp 4 --mlp-sizes 784,30,10 --data synthetic --steps 1)
add_test(NAME cli.train.tp2_dp2
         COMMAND ${PARAXIS_TP_EXPECT_EXIT} 0 "loss"
                 $<TARGET_FILE:paraxis> train --devices 4 --dp 2 --tp 2 --mlp-sizes 784,64,10 --data synthetic
                 --steps 5 --batch 32 --progress lines)

set(PARAXIS_TP_MPIRUN ${MPIEXEC_EXECUTABLE} --allow-run-as-root --oversubscribe --bind-to none --timeout 120)
set(PARAXIS_TP_MPI_CHECK ${CMAKE_SOURCE_DIR}/tests/parallel/tp_mpi_vs_threads.sh)
add_test(NAME mpi_train_tp2_mlp_np2
         COMMAND ${PARAXIS_TP_MPI_CHECK} 2 $<TARGET_FILE:paraxis> ${PARAXIS_TP_MPIRUN} --
                 --tp 2 --mlp-sizes 784,64,32,10 --data synthetic --steps 6 --batch 32 --clip 1)
add_test(NAME mpi_train_tp2_gpt_np2
         COMMAND ${PARAXIS_TP_MPI_CHECK} 2 $<TARGET_FILE:paraxis> ${PARAXIS_TP_MPIRUN} --
                 --tp 2 --model gpt --vocab 32 --context 8 --width 16 --heads 4 --layers 2 --data synthetic
                 --steps 4 --batch 8)
add_test(NAME mpi_train_tp2_pp2_cnn_np4
         COMMAND ${PARAXIS_TP_MPI_CHECK} 4 $<TARGET_FILE:paraxis> ${PARAXIS_TP_MPIRUN} --
                 --tp 2 --pp 2 --microbatches 2 --model cnn --cnn-c1 4 --cnn-c2 8 --cnn-fc 16 --data synthetic
                 --steps 3 --batch 8)
add_test(NAME mpi_train_tp2_dp2_mlp_np4
         COMMAND ${PARAXIS_TP_MPI_CHECK} 4 $<TARGET_FILE:paraxis> ${PARAXIS_TP_MPIRUN} --
                 --tp 2 --dp 2 --mlp-sizes 784,64,10 --data synthetic --steps 6 --batch 32)
set_tests_properties(mpi_train_tp2_mlp_np2 mpi_train_tp2_gpt_np2 mpi_train_tp2_pp2_cnn_np4
                     mpi_train_tp2_dp2_mlp_np4 PROPERTIES LABELS mpi TIMEOUT 240)

add_test(NAME cli.train.tp2_resume
         COMMAND ${CMAKE_SOURCE_DIR}/tests/parallel/tp_resume.sh $<TARGET_FILE:paraxis> --devices 2 --tp 2
                 --model gpt --vocab 32 --context 8 --width 16 --heads 4 --layers 2 --data synthetic --batch 8)
