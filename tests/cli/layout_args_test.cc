// How `plan` spells its winner for Megatron-LM and `paraxis train`, and the human units of predict and plan.
#include "cli/layout_args.h"

#include <gtest/gtest.h>

#include "cli/units.h"
#include "paraxis/core/error.h"
#include "test_support/user_error.h"

using namespace paraxis;
using pipeline::ScheduleKind;

TEST(LayoutArgs, MegatronArgumentsOfAnInterleavedSequenceParallelLayout) {
  cost::Layout l{.dp             = 16,
                 .tp             = 8,
                 .pp             = 8,
                 .schedule       = ScheduleKind::kInterleaved1F1B,
                 .microbatches   = 96,
                 .virtual_stages = 3,
                 .zero1          = true};
  l.sequence_parallel   = true;
  l.selective_recompute = true;
  l.clip                = true;
  const std::string a   = cli::megatron_arguments(cost::parse_gpt_size("gpt-175b"), l, 1, 1536, true);
  for (const char* part :
       {"--num-layers 96 ", "--hidden-size 12288 ", "--num-attention-heads 96 ", "--seq-length 2048 ",
        "--tensor-model-parallel-size 8 ", "--pipeline-model-parallel-size 8 ",
        "--num-layers-per-virtual-pipeline-stage 4 ", "--micro-batch-size 1 ", "--global-batch-size 1536",
        "--sequence-parallel", "--recompute-granularity selective", "--use-distributed-optimizer", "--bf16"})
    EXPECT_NE(a.find(part), std::string::npos) << part << " in " << a;
  EXPECT_EQ(a.find("--clip-grad 0"), std::string::npos) << a;  // it clips, as Megatron-LM does by default
}

TEST(LayoutArgs, MegatronFullRecomputeAndSchedulesItLacks) {
  cost::Layout l{.dp = 1, .tp = 2, .pp = 4, .schedule = ScheduleKind::kGPipe, .microbatches = 8};
  l.recompute         = true;
  const std::string a = cli::megatron_arguments({24, 2048, 16, 2048, 51200}, l, 2, 16, false);
  EXPECT_NE(a.find("--recompute-granularity full --recompute-method uniform --recompute-num-layers 1"),
            std::string::npos)
      << a;
  EXPECT_NE(a.find("--clip-grad 0"), std::string::npos) << a;
  EXPECT_NE(a.find("no gpipe schedule"), std::string::npos) << a;
  EXPECT_EQ(a.find("virtual"), std::string::npos) << a;
}

TEST(LayoutArgs, TrainFlagsCarryTheLayout) {
  cost::Layout l{.dp             = 2,
                 .tp             = 1,
                 .pp             = 2,
                 .schedule       = ScheduleKind::kInterleaved1F1B,
                 .microbatches   = 4,
                 .virtual_stages = 2,
                 .zero1          = true};
  EXPECT_EQ(cli::train_layout_flags(l, 64),
            "--devices 4 --dp 2 --tp 1 --pp 2 --schedule interleaved-1f1b --microbatches 4 --batch 64 "
            "--optimizer adamw --virtual 2 --zero 1");
  // The planner's domain-parallel winners: the spatial group, and where the FC side splits its weights.
  cost::Layout s{.sp = 2};
  EXPECT_EQ(
      cli::train_layout_flags(s, 2),
      "--devices 2 --dp 1 --tp 1 --pp 1 --schedule 1f1b --microbatches 1 --batch 2 --optimizer adamw --sp 2");
  s.sp_fc_model = true;
  EXPECT_EQ(
      cli::train_layout_flags(s, 2),
      "--devices 2 --dp 1 --tp 1 --pp 1 --schedule 1f1b --microbatches 1 --batch 2 --optimizer adamw --sp 2 "
      "--sp-fc model");
}

TEST(Units, BytesWithUnits) {
  EXPECT_DOUBLE_EQ(cli::parse_bytes("--memory-per-device", "80GB"), 80e9);
  EXPECT_DOUBLE_EQ(cli::parse_bytes("--memory-per-device", "80 GiB"), 80.0 * 1024 * 1024 * 1024);
  EXPECT_DOUBLE_EQ(cli::parse_bytes("--memory-per-device", "1.5e6"), 1.5e6);
  EXPECT_DOUBLE_EQ(cli::parse_bytes("--memory-per-device", "512mb"), 512e6);
  EXPECT_USER_ERROR(cli::parse_bytes("--memory-per-device", "80 parsecs"), "--memory-per-device 80 parsecs",
                    "80GB");
  EXPECT_USER_ERROR(cli::parse_bytes("--memory-per-device", "-1GB"), "positive size");
}

TEST(Units, SecondsAndBytesOut) {
  EXPECT_EQ(cli::format_seconds(18.134), "18.13 s");
  EXPECT_EQ(cli::format_seconds(0.01234), "12.34 ms");
  EXPECT_EQ(cli::format_seconds(5e-6), "5 us");
  EXPECT_EQ(cli::format_bytes(48.2e9), "48.2 GB");
  EXPECT_EQ(cli::format_bytes(812), "812 B");
}
