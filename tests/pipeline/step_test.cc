// The whole step as a schedule: the tail actions generate_step adds, where they go, and what the validator
// refuses.
#include "paraxis/pipeline/step.h"

#include <gtest/gtest.h>

#include "paraxis/pipeline/validate.h"
#include "test_support/user_error.h"

namespace paraxis::pipeline {
namespace {

std::string list_of(const Schedule& s, int d) {
  std::string out;
  for (const Action& a : s.actions[d]) out += (out.empty() ? "" : " ") + to_string(a);
  return out;
}

// Blocks 0..n-1 with one parameter of `numel` each, flat order last block first.
std::vector<ParamSlot> slots(int first, int last, int64_t numel) {
  std::vector<ParamSlot> out;
  for (int b = last; b-- > first;) out.push_back({b, numel});
  return out;
}

TEST(PipelineStep, BucketLayoutClosesABucketOnceItIsFull) {
  const auto b = layout_grad_buckets({{3, 4}, {3, 2}, {2, 6}, {1, 1}, {0, 9}}, 6);
  ASSERT_EQ(b.size(), 3u);
  EXPECT_EQ(b[0].begin, 0);
  EXPECT_EQ(b[0].end, 6);
  EXPECT_EQ(b[0].blocks, std::vector<int>{3});
  EXPECT_EQ(b[1].end, 12);
  EXPECT_EQ(b[2].blocks, (std::vector<int>{1, 0}));
  EXPECT_EQ(b[2].params, 2);
}

TEST(PipelineStep, OneDeviceIsOneForwardOneBackwardThenTheUpdate) {
  StepSpec spec;
  spec.cuts = {0, 3};
  EXPECT_EQ(list_of(generate_step(spec), 0), "0F0 0B0 OPT_STEP GRAD_NORM");
  spec.clip = true;
  EXPECT_EQ(list_of(generate_step(spec), 0), "0F0 0B0 GRAD_NORM OPT_STEP");
}

TEST(PipelineStep, DataParallelBucketsFollowTheBackwardThatCompletesThem) {
  StepSpec spec;
  spec.dp      = 2;
  spec.cuts    = {0, 3};
  spec.buckets = {layout_grad_buckets(slots(0, 3, 10), 15)};
  EXPECT_EQ(list_of(generate_step(spec), 0), "0F0 0B0 REDUCE_GRAD0 REDUCE_GRAD1 OPT_STEP GRAD_NORM");
  spec.zero1 = true;  // one reduce-scatter of the whole gradient instead of buckets
  EXPECT_EQ(list_of(generate_step(spec), 0), "0F0 0B0 REDUCE_SCATTER OPT_STEP GRAD_NORM ALL_GATHER");
}

TEST(PipelineStep, PipelineBucketsGoAfterTheStagesLastBackward) {
  StepSpec spec;
  spec.schedule    = {ScheduleKind::k1F1B, 2, 2};
  spec.dp          = 2;
  spec.cuts        = {0, 2, 4};
  spec.buckets     = {layout_grad_buckets(slots(0, 2, 10), 100), layout_grad_buckets(slots(2, 4, 10), 100)};
  const Schedule s = generate_step(spec);
  EXPECT_EQ(list_of(s, 0),
            "0F0 0SEND_F0 0F1 0SEND_F1 0RECV_B0 0B0 0RECV_B1 0B1 REDUCE_GRAD0 OPT_STEP GRAD_NORM");
  EXPECT_EQ(list_of(s, 1),
            "1RECV_F0 1F0 1B0 1SEND_B0 1RECV_F1 1F1 1B1 REDUCE_GRAD0 1SEND_B1 OPT_STEP GRAD_NORM");
}

TEST(PipelineStep, DeferredWeightGradientsFlushLastStageFirstAndCompleteTheirBuckets) {
  StepSpec spec;
  spec.schedule = {ScheduleKind::kInterleaved1F1B, 2, 2, 2};
  spec.dp       = 2;
  spec.cuts     = {0, 1, 2, 3, 4};
  spec.deferred = {1, 0, 1, 0};  // blocks 0 and 2 (stages 0 and 2, device 0) defer
  spec.buckets  = {layout_grad_buckets({{2, 10}, {0, 10}}, 10), layout_grad_buckets({{3, 10}, {1, 10}}, 10)};
  const Schedule s       = generate_step(spec);
  const std::string dev0 = list_of(s, 0);
  EXPECT_NE(dev0.find("2FLUSH_W REDUCE_GRAD0 0FLUSH_W REDUCE_GRAD1 OPT_STEP"), std::string::npos) << dev0;
  EXPECT_EQ(list_of(s, 1).find("FLUSH_W"), std::string::npos);
}

TEST(PipelineStep, ValidatorRefusesAMisplacedTail) {
  EXPECT_USER_ERROR(validate_schedule(parse_schedule_text("0: 0F0 0FLUSH_W 0B0\n")),
                    "0FLUSH_W runs before the weight gradients");
  EXPECT_USER_ERROR(validate_schedule(parse_schedule_text("0: 0F0 0B0 REDUCE_GRAD0 REDUCE_GRAD0\n")),
                    "REDUCE_GRAD0 appears twice");
  EXPECT_USER_ERROR(validate_schedule(parse_schedule_text("0: 0F0 0B0 ALL_GATHER OPT_STEP\n")),
                    "ALL_GATHER on device 0 runs before OPT_STEP");
  EXPECT_USER_ERROR(validate_schedule(parse_schedule_text("0: 0F0 REDUCE_SCATTER 0B0 OPT_STEP\n")),
                    "REDUCE_SCATTER on device 0 must run after every backward");
  EXPECT_USER_ERROR(validate_schedule(parse_schedule_text("0: 0F0 0B0 OPT_STEP REDUCE_GRAD0\n")),
                    "REDUCE_GRAD0 runs after OPT_STEP");
}

}  // namespace
}  // namespace paraxis::pipeline

namespace paraxis::pipeline {
namespace {

TEST(PipelineStep, EvaluationIsAForwardOnlySchedule) {
  const Schedule e = generate_evaluation(2, 2, 1);
  EXPECT_EQ(format_schedule_text(e), "0: 0F0 0SEND_F0 0F1 0SEND_F1\n1: 1RECV_F0 1F0 1RECV_F1 1F1\n");
  // Interleaved: stage s on device s % pp, each micro-batch through all four stages.
  EXPECT_EQ(format_schedule_text(generate_evaluation(2, 1, 2)),
            "0: 0F0 0SEND_F0 2RECV_F0 2F0 2SEND_F0\n1: 1RECV_F0 1F0 1SEND_F0 3RECV_F0 3F0\n");
  EXPECT_NO_THROW(validate_schedule(e));
  EXPECT_USER_ERROR(validate_schedule(parse_schedule_text("0: 0F0 0I0\n")), "lacks its backward");
}

}  // namespace
}  // namespace paraxis::pipeline
