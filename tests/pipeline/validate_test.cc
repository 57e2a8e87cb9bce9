#include "paraxis/pipeline/validate.h"

#include <gtest/gtest.h>

#include "paraxis/pipeline/generators.h"
#include "paraxis/pipeline/lower.h"
#include "test_support/user_error.h"

using namespace paraxis::pipeline;

namespace {
Schedule from_text(const char* text) {
  return parse_schedule_text(text);
}
}  // namespace

TEST(PipelineValidate, GeneratedSchedulesPass) {
  EXPECT_NO_THROW(validate_schedule(generate_gpipe(3, 5)));
  EXPECT_NO_THROW(validate_schedule(lower_send_recv(generate_zb_h1(4, 6))));
  EXPECT_NO_THROW(validate_schedule(lower_send_recv(generate_interleaved_1f1b(2, 4, 3))));
  // Two stages on one device (v = 1, p = 1 style): the hand-off is local.
  EXPECT_NO_THROW(validate_schedule(from_text("0: 0F0 1F0 1B0 0B0\n")));
}

TEST(PipelineValidate, MissingForwardMarksTheEndOfTheList) {
  EXPECT_USER_ERROR(validate_schedule(from_text("0: 0F0 0B0 0B1\n1: 1F0 1B0 1F1 1B1\n")),
                    "micro-batch 1 is never forwarded on stage 0", ">(end)<", "step");
}

TEST(PipelineValidate, DuplicateMarksBothCells) {
  EXPECT_USER_ERROR(validate_schedule(from_text("0: 0F0 0F0 0B0\n1: 1F0 1B0\n")), "0F0 appears twice",
                    ">0F0<");
}

TEST(PipelineValidate, FullBackwardIsIPlusWNotBoth) {
  EXPECT_USER_ERROR(validate_schedule(from_text("0: 0F0 0B0 0W0\n")), "full backward", ">0B0<", ">0W0<");
  EXPECT_USER_ERROR(validate_schedule(from_text("0: 0F0 0I0\n")), "lacks its backward", ">0I0<");
}

TEST(PipelineValidate, OrderFThenIThenW) {
  EXPECT_USER_ERROR(validate_schedule(from_text("0: 0B0 0F0\n")), "0B0 runs before its forward", ">0B0<");
  EXPECT_USER_ERROR(validate_schedule(from_text("0: 0F0 0W0 0I0\n")), "0W0 runs before 0I0", ">0W0<");
}

TEST(PipelineValidate, OneDevicePerStage) {
  EXPECT_USER_ERROR(validate_schedule(from_text("0: 0F0 1F0 0B0\n1: 1B0\n")),
                    "1B0 runs on device 1 but stage 1 belongs to device 0", ">1B0<");
}

TEST(PipelineValidate, SameDeviceDependencies) {
  EXPECT_USER_ERROR(validate_schedule(from_text("0: 0F0 0B0 1F0 1B0\n1:\n")), "runs before", ">0B0<");
  Schedule s     = from_text("0: 1F0 0F0 1B0 0B0\n");
  s.stage_device = {0, 0};
  EXPECT_USER_ERROR(validate_schedule(s), "1F0 runs before 0F0", ">1F0<");
}

TEST(PipelineValidate, OutOfRangeIndices) {
  Schedule s                 = generate_1f1b(2, 2);
  s.actions[1][0].microbatch = 5;
  EXPECT_USER_ERROR(validate_schedule(s), "1F5 is out of range", ">1F5<");
}

TEST(PipelineValidate, LoweredTransfersArePairedAndOrdered) {
  const Schedule good = lower_send_recv(generate_1f1b(2, 2));
  // 0: 0F0 0SEND_F0 0F1 0SEND_F1 0RECV_B0 0B0 0RECV_B1 0B1   1: 1RECV_F0 1F0 1B0 1SEND_B0 1RECV_F1 ...
  Schedule missing = good;
  missing.actions[1].erase(missing.actions[1].begin());  // drop 1RECV_F0
  EXPECT_USER_ERROR(validate_schedule(missing), "missing 1RECV_F0 on device 1");

  Schedule late = good;
  std::swap(late.actions[0][0], late.actions[0][1]);  // 0SEND_F0 before 0F0
  EXPECT_USER_ERROR(validate_schedule(late), "0SEND_F0 runs before the pass that makes its data",
                    ">0SEND_F0<");

  Schedule crossed = good;
  // Receive micro-batch 1 before micro-batch 0 although they were sent 0 then 1.
  crossed = parse_schedule_text(
      "0: 0F0 0SEND_F0 0F1 0SEND_F1 0RECV_B0 0B0 0RECV_B1 0B1\n"
      "1: 1RECV_F1 1RECV_F0 1F0 1B0 1SEND_B0 1F1 1B1 1SEND_B1\n");
  EXPECT_USER_ERROR(validate_schedule(crossed), "in the order they are sent", ">1RECV_F1<");

  EXPECT_USER_ERROR(validate_schedule(from_text("0: 0F0 0SEND_F0 1F0 1B0 0B0\n")), "has no peer");
}

TEST(PipelineValidate, StepLevelActions) {
  Schedule s = generate_1f1b(2, 2);
  s.actions[0].push_back({0, ActionKind::kReduceGrad, -1});
  s.actions[0].push_back({-1, ActionKind::kOptStep, -1});
  EXPECT_NO_THROW(validate_schedule(s));
  s.actions[1].insert(s.actions[1].begin(), {-1, ActionKind::kReduceGrad, -1});
  EXPECT_USER_ERROR(validate_schedule(s), "REDUCE_GRAD runs before the weight gradients it needs",
                    ">REDUCE_GRAD<");
  Schedule t = generate_1f1b(2, 2);
  t.actions[0].insert(t.actions[0].begin(), {-1, ActionKind::kOptStep, -1});
  EXPECT_USER_ERROR(validate_schedule(t), "runs after OPT_STEP on device 0");
}
