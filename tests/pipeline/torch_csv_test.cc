#include "paraxis/pipeline/torch_csv.h"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "paraxis/pipeline/dry_run.h"
#include "paraxis/pipeline/generators.h"
#include "paraxis/pipeline/lower.h"
#include "paraxis/pipeline/validate.h"
#include "test_support/paths.h"
#include "test_support/user_error.h"

using namespace paraxis::pipeline;

namespace {

// Fixtures in tests/pipeline/data/ (see its README.md). The two torch artifacts are copied unchanged from
// pytorch/pytorch (BSD-3-Clause): test/distributed/pipelining/artifacts/zb1p_2rank_2stagep_compute.csv and
// test/distributed/pipelining/artifacts/dualpipev_4rank_10mb.csv.
std::string read_fixture(const char* name) {
  std::ifstream in(paraxis::testing::source_dir() + "/tests/pipeline/data/" + name);
  EXPECT_TRUE(in.good()) << name;
  std::stringstream buf;
  buf << in.rdbuf();
  return buf.str();
}

}  // namespace

TEST(TorchCsv, ZeroBubbleArtifactRoundTripsValidatesAndDryRuns) {
  const std::string text = read_fixture("zb1p_2rank_2stagep_compute.csv");
  ASSERT_TRUE(is_torch_csv(text));
  const TorchCsvSchedule t = parse_torch_csv(text);
  EXPECT_EQ(format_torch_csv(t), text);
  const Schedule& s = t.schedule;
  EXPECT_EQ(s.num_devices, 2);
  EXPECT_EQ(s.num_stages, 4);
  EXPECT_EQ(s.num_microbatches, 8);
  EXPECT_EQ(s.stage_device, (std::vector<int>{0, 1, 0, 1}));
  EXPECT_EQ(t.idle_cells, (std::vector<std::vector<int>>{{3}, {0}}));
  EXPECT_EQ(s.actions[0].size(), 48u);                               // 2 stages x 8 micro-batches x (F, I, W)
  EXPECT_EQ(s.actions[0][3], (Action{2, ActionKind::kForward, 1}));  // the cell after the idle slot
  EXPECT_EQ(s.actions[1][0], (Action{1, ActionKind::kForward, 0}));
  validate_schedule(s);
  // F = I = W = 1: 48 units of work per rank, and the dry-run takes exactly torch's grid of 49 time steps
  // (one idle slot per rank: rank 1's fill, rank 0 waiting for 1F1's output at step 3).
  const DryRunResult r = dry_run(s, {.forward = 1, .backward_input = 1, .backward_weight = 1});
  EXPECT_EQ(r.busy, (std::vector<double>{48, 48}));
  EXPECT_EQ(r.makespan, 49);
  // Lowered, it still validates and keeps the makespan; torch's form of it has no idle cells.
  const Schedule lowered = lower_send_recv(s);
  validate_schedule(lowered);
  EXPECT_EQ(dry_run(lowered, {.forward = 1, .backward_input = 1, .backward_weight = 1}).makespan, r.makespan);
  EXPECT_EQ(parse_torch_csv(format_torch_csv(lowered)).schedule, lowered);
}

TEST(TorchCsv, DualPipeVOverlappedPairsBecomeTwoActions) {
  const std::string text = read_fixture("dualpipev_4rank_10mb.csv");
  ASSERT_TRUE(is_torch_csv(text));
  const TorchCsvSchedule t = parse_torch_csv(text);
  EXPECT_EQ(format_torch_csv(t), text);
  const Schedule& s = t.schedule;
  EXPECT_EQ(s.stage_device, (std::vector<int>{0, 1, 2, 3, 3, 2, 1, 0}));  // the V
  EXPECT_EQ(s.num_microbatches, 10);
  // Row 0, column 18 is (0F7;7B3)OVERLAP_F_B: the 18th and 19th actions of rank 0.
  ASSERT_FALSE(t.overlaps[0].empty());
  EXPECT_EQ(t.overlaps[0][0], 17);
  EXPECT_EQ(s.actions[0][17], (Action{0, ActionKind::kForward, 7}));
  EXPECT_EQ(s.actions[0][18], (Action{7, ActionKind::kFullBackward, 3}));
  EXPECT_EQ(t.overlaps[3].size(), 11u);
  for (const auto& idle : t.idle_cells) EXPECT_TRUE(idle.empty());
  validate_schedule(s);
  // F = 1, B = 2, I = W = 1: 2 stages x 10 micro-batches x 3 units per rank, 3 units idle on each.
  const DryRunResult r = dry_run(s);
  EXPECT_EQ(r.busy, (std::vector<double>{60, 60, 60, 60}));
  EXPECT_EQ(r.makespan, 63);
}

TEST(TorchCsv, OurSchedulesWriteOneActionPerCell) {
  for (const Schedule& s : {generate_1f1b(3, 5), generate_zb_h1(4, 8), generate_interleaved_1f1b(2, 4, 2),
                            lower_send_recv(generate_1f1b(4, 8))}) {
    const std::string csv = format_torch_csv(s);
    EXPECT_EQ(csv, format_schedule_csv(s));
    EXPECT_FALSE(is_torch_csv(csv));  // no idle cell: our parser reads it the same
    EXPECT_EQ(parse_torch_csv(csv).schedule, s);
  }
  Schedule with_reduce = generate_1f1b(2, 2);
  with_reduce.actions[0].push_back({0, ActionKind::kReduceGrad, -1});
  EXPECT_EQ(format_torch_csv(with_reduce), "0F0,0F1,0B0,0B1,0REDUCE_GRAD\n1F0,1B0,1F1,1B1\n");
}

TEST(TorchCsv, IdleCellsAnywhereAndPythonLineEndsRoundTrip) {
  // csv.writer ends lines with \r\n and writes a row of one empty cell as "".
  for (const char* text : {"0F0,,,0B0\r\n,1F0,1B0,\r\n", ",0F0,0B0\n\"\"\n", "0F0,0B0\n\n", "0F0,0B0"}) {
    const TorchCsvSchedule t = parse_torch_csv(text);
    std::string expected     = text;
    if (expected.back() != '\n') expected += '\n';
    EXPECT_EQ(format_torch_csv(t), expected);
    EXPECT_EQ(parse_torch_csv(format_torch_csv(t)).idle_cells, t.idle_cells);
  }
  const TorchCsvSchedule t = parse_torch_csv("0F0,,,0B0\r\n,1F0,1B0,\r\n");
  EXPECT_EQ(t.idle_cells, (std::vector<std::vector<int>>{{1, 2}, {0, 3}}));
  EXPECT_EQ(t.line_end, "\r\n");
  EXPECT_EQ(t.schedule, parse_schedule_csv("0F0,0B0\n1F0,1B0\n"));
}

TEST(TorchCsv, DetectionOfTheForm) {
  EXPECT_FALSE(is_torch_csv("0F0,0B0\n1F0,1B0\n"));
  EXPECT_FALSE(is_torch_csv("# a,,b\n0F0,0B0\n"));  // comments are not rows
  EXPECT_FALSE(is_torch_csv("0F0,0B0,OPT_STEP\n"));
  EXPECT_TRUE(is_torch_csv("0F0,,0B0\n"));
  EXPECT_TRUE(is_torch_csv("0F0,0B0\n,1F0,1B0\n"));
  EXPECT_TRUE(is_torch_csv("0F0,(0F1;0B0)OVERLAP_F_B,0B1\n"));
  EXPECT_TRUE(is_torch_csv("0UNSHARD,0F0,0B0\n"));
}

TEST(TorchCsv, BadCellsAreUserErrorsNamingTheCell) {
  EXPECT_USER_ERROR(parse_torch_csv("0F0,0B0\n1UNSHARD,1F0,1B0\n"), "row 2, column 1 (rank 1, step 0)",
                    "'1UNSHARD' is FSDP's UNSHARD", "does not execute", "the torch form accepts");
  EXPECT_USER_ERROR(parse_torch_csv("0F0,,0B0,0RESHARD\n"), "row 1, column 4", "RESHARD");
  EXPECT_USER_ERROR(parse_torch_csv("0F0,,0X0\n"), "row 1, column 3", "'0X0' is not an action",
                    "{stage}{TYPE}{micro-batch}");
  EXPECT_USER_ERROR(parse_torch_csv("0F0,,0B0\n0F0,OPT_STEP\n"), "row 2, column 2", "'OPT_STEP' is not");
  EXPECT_USER_ERROR(parse_torch_csv("0F0,,1R0\n"), "column 3", "'1R0' is not");
  EXPECT_USER_ERROR(parse_torch_csv("0F,,0B0\n"), "row 1, column 1", "needs a stage and a micro-batch");
  EXPECT_USER_ERROR(parse_torch_csv("0F0,,0B0,REDUCE_GRAD\n"), "column 4", "'1REDUCE_GRAD'");
  EXPECT_USER_ERROR(parse_torch_csv("0F0,\"0B0\"\n"), "column 2", "quoted");
  EXPECT_USER_ERROR(parse_torch_csv("(0F0;1B0)OVERLAP\n"), "row 1, column 1", "not an overlapped pair");
  EXPECT_USER_ERROR(parse_torch_csv("(0F0)OVERLAP_F_B\n"), "exactly two actions");
  EXPECT_USER_ERROR(parse_torch_csv("(0F0;1B0;2B0)OVERLAP_F_B\n"), "exactly two actions");
  EXPECT_USER_ERROR(parse_torch_csv(",(1B0;0F0)OVERLAP_F_B\n"), "column 2", "a forward then a full backward");
  EXPECT_USER_ERROR(parse_torch_csv("(0F0;1UNSHARD)OVERLAP_F_B\n"), "column 1", "UNSHARD");
}

TEST(TorchCsv, ParaxisOnlyActionsHaveNoTorchForm) {
  Schedule s = generate_1f1b(2, 2);
  s.actions[1].push_back({-1, ActionKind::kOptStep, -1});
  EXPECT_USER_ERROR(format_torch_csv(s), "device 1, action 4 'OPT_STEP'", "no form in torch's CSV",
                    "--format csv");
  Schedule bucket = generate_1f1b(2, 2);
  bucket.actions[0].push_back({-1, ActionKind::kReduceGrad, 3});
  EXPECT_USER_ERROR(format_torch_csv(bucket), "'REDUCE_GRAD3'");
}
