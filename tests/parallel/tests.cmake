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

# `paraxis schedule` prints any layout's whole step (parallel/step_plan.h): buckets where they become ready,
# ZeRO-1's reduce-scatter and all-gather, clipping's GRAD_NORM before OPT_STEP, deferred weight gradients.
add_test(NAME cli.schedule.step_dp2_buckets
         COMMAND $<TARGET_FILE:paraxis> schedule --dp 2 --pp 1 -m 1 --bucket-mb 0.5 --mlp-sizes 784,512,512,10
                 --format text)
set_tests_properties(cli.schedule.step_dp2_buckets PROPERTIES PASS_REGULAR_EXPRESSION
  "0: 0F0 0B0 REDUCE_GRAD0 REDUCE_GRAD1 REDUCE_GRAD2 OPT_STEP GRAD_NORM")
add_test(NAME cli.schedule.step_pp2_zero_defer_clip
         COMMAND $<TARGET_FILE:paraxis> schedule --dp 2 --pp 2 -m 2 --zero 1 --defer-wgrad --clip 1 --format text)
set_tests_properties(cli.schedule.step_pp2_zero_defer_clip PROPERTIES PASS_REGULAR_EXPRESSION
  "0: 0F0 0SEND_F0 0F1 0SEND_F1 0RECV_B0 0B0 0RECV_B1 0B1 0FLUSH_W REDUCE_SCATTER GRAD_NORM OPT_STEP ALL_GATHER\n1: 1RECV_F0 1F0 1B0 1SEND_B0 1RECV_F1 1F1 1B1 1SEND_B1 1FLUSH_W REDUCE_SCATTER GRAD_NORM OPT_STEP ALL_GATHER")
add_test(NAME cli.schedule.step_grid_names_buckets
         COMMAND $<TARGET_FILE:paraxis> schedule --dp 2 --pp 2 -m 4 --mlp-sizes 784,1024,1024,10)
set_tests_properties(cli.schedule.step_grid_names_buckets PROPERTIES PASS_REGULAR_EXPRESSION
  "device 0 REDUCE_GRAD0: 3.07 MB of gradients \\(fc1\\).*device 1 REDUCE_GRAD0: 4.04 MB of gradients \\(fc3, fc2\\).*the whole step")
add_test(NAME cli.schedule.step_tp_must_divide
         COMMAND ${PARAXIS_TP_EXPECT_EXIT} 2 "--tp 3 does not divide"
                 $<TARGET_FILE:paraxis> schedule --tp 3 --pp 1 -m 1)
add_test(NAME cli.schedule.step_not_with_from
         COMMAND ${PARAXIS_TP_EXPECT_EXIT} 2 "--from reads a schedule; the whole-step flags"
                 $<TARGET_FILE:paraxis> schedule --dp 2 --from nothing.csv)

# Domain parallelism (--sp, docs/domain-parallelism.md) through `paraxis train` / `describe` / `schedule`: each
# rule's exit 2 and message, a dp2 x sp2 run, AlexNet's parameter count and splits.
add_test(NAME cli.train.sp_no_conv_side
         COMMAND ${PARAXIS_TP_EXPECT_EXIT} 2 "--sp 2 splits images along their height, but the model mlp"
                 $<TARGET_FILE:paraxis> train --devices 2 --sp 2 --mlp-sizes 784,64,10 --data synthetic --steps 1)
add_test(NAME cli.train.sp_too_few_rows
         COMMAND ${PARAXIS_TP_EXPECT_EXIT} 2 "--sp 8: block flatten \\(flatten\\) gets 7 rows, fewer than the 8 devices.*use --sp 7 or fewer, or a taller image, e.g. --image 1,32,28"
                 $<TARGET_FILE:paraxis> train --devices 8 --sp 8 --model cnn --data synthetic --steps 1 --batch 16)
add_test(NAME cli.train.sp_batch_not_divisible
         COMMAND ${PARAXIS_TP_EXPECT_EXIT} 2 "--sp 3 does not divide the 16 samples of a micro-batch.*use --batch 18"
                 $<TARGET_FILE:paraxis> train --devices 3 --sp 3 --model cnn --data synthetic --steps 1 --batch 16)
add_test(NAME cli.train.sp_with_tp_refused
         COMMAND ${PARAXIS_TP_EXPECT_EXIT} 2 "--sp 2 with --tp 2 is not supported.*use --sp 2 --sp-fc model with --tp 1"
                 $<TARGET_FILE:paraxis> train --devices 4 --sp 2 --tp 2 --model cnn --data synthetic --steps 1
                 --batch 16)
add_test(NAME cli.train.sp_not_dividing_devices
         COMMAND ${PARAXIS_TP_EXPECT_EXIT} 2 "--sp 2 does not divide --devices 3"
                 $<TARGET_FILE:paraxis> train --devices 3 --sp 2 --model cnn --data synthetic --steps 1)
add_test(NAME cli.train.dp2_sp2_cnn_image
         COMMAND ${PARAXIS_TP_EXPECT_EXIT} 0 "trained cnn c4-c8-fc16-10 image 3x20x24"
                 $<TARGET_FILE:paraxis> train --devices 4 --dp 2 --sp 2 --model cnn --cnn-c1 4 --cnn-c2 8
                 --cnn-fc 16 --image 3,20,24 --data synthetic --steps 3 --batch 8 --progress none)
add_test(NAME cli.train.sp2_pp2_cnn
         COMMAND ${PARAXIS_TP_EXPECT_EXIT} 0 "trained cnn c4-c8-fc16-10 image 1x23x20"
                 $<TARGET_FILE:paraxis> train --devices 4 --sp 2 --pp 2 --microbatches 2 --model cnn --cnn-c1 4
                 --cnn-c2 8 --cnn-fc 16 --image 1,23,20 --data synthetic --steps 2 --batch 8 --progress none)
# A checkpoint of sp x pp (each device its stage's blocks; the FC shards with --sp-fc model) resumes exactly.
add_test(NAME cli.train.sp2_pp2_resume
         COMMAND ${CMAKE_SOURCE_DIR}/tests/parallel/tp_resume.sh $<TARGET_FILE:paraxis> --devices 4 --sp 2 --pp 2
                 --microbatches 2 --sp-fc model --model cnn --cnn-c1 4 --cnn-c2 8 --cnn-fc 16 --image 1,23,20
                 --data synthetic --batch 8 --optimizer adamw)
add_test(NAME cli.schedule.sp2_pp2
         COMMAND ${PARAXIS_TP_EXPECT_EXIT} 0 "conv2 +conv2d +stage 1 +spatial \\(rows\\) +7/7 rows"
                 $<TARGET_FILE:paraxis> schedule --sp 2 --pp 2 -m 2 --model cnn)
add_test(NAME cli.describe.alexnet_params
         COMMAND ${PARAXIS_TP_EXPECT_EXIT} 0 "^total +61100840 "
                 $<TARGET_FILE:paraxis> describe --model alexnet)
add_test(NAME cli.train.alexnet_image_too_small
         COMMAND ${PARAXIS_TP_EXPECT_EXIT} 2
                 "alexnet: --image 3,62,80 is too small.*H and W of at least 63; use --image 3,63,80"
                 $<TARGET_FILE:paraxis> train --model alexnet --image 3,62,80 --data synthetic --steps 1)
add_test(NAME cli.describe.alexnet_small_image_sp2
         COMMAND ${PARAXIS_TP_EXPECT_EXIT} 0 "avgpool +adaptive_avgpool2d +spatial -> batch"
                 $<TARGET_FILE:paraxis> describe --model alexnet --image 3,95,63 --sp 2)
add_test(NAME cli.describe.alexnet_sp2
         COMMAND ${PARAXIS_TP_EXPECT_EXIT} 0 "features.5 +maxpool2d +spatial \\(rows\\) +6/7 rows"
                 $<TARGET_FILE:paraxis> describe --model alexnet --sp 2)
add_test(NAME cli.schedule.sp2
         COMMAND ${PARAXIS_TP_EXPECT_EXIT} 0 "conv2 +conv2d +spatial \\(rows\\) +7/7 rows"
                 $<TARGET_FILE:paraxis> schedule --dp 2 --sp 2 --pp 1 -m 1 --model cnn)
# The spatial layout under mpirun (one process per device) against the threads backend, step by step.
add_test(NAME mpi_train_dp2_sp2_cnn_np4
         COMMAND ${PARAXIS_TP_MPI_CHECK} 4 $<TARGET_FILE:paraxis> ${PARAXIS_TP_MPIRUN} --
                 --dp 2 --sp 2 --model cnn --cnn-c1 4 --cnn-c2 8 --cnn-fc 16 --image 1,20,20 --data synthetic
                 --steps 3 --batch 8)
set_tests_properties(mpi_train_dp2_sp2_cnn_np4 PROPERTIES LABELS mpi TIMEOUT 240)
# sp x pp: each stage split over the same sp processes, slabs of 12 and 11 rows sent between stages.
add_test(NAME mpi_train_sp2_pp2_cnn_np4
         COMMAND ${PARAXIS_TP_MPI_CHECK} 4 $<TARGET_FILE:paraxis> ${PARAXIS_TP_MPIRUN} --
                 --sp 2 --pp 2 --microbatches 2 --model cnn --cnn-c1 4 --cnn-c2 8 --cnn-fc 16 --image 1,23,20
                 --data synthetic --steps 3 --batch 8)
set_tests_properties(mpi_train_sp2_pp2_cnn_np4 PROPERTIES LABELS mpi TIMEOUT 240)
