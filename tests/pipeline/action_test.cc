#include "paraxis/pipeline/action.h"

#include <gtest/gtest.h>

#include "paraxis/pipeline/generators.h"
#include "paraxis/pipeline/lower.h"
#include "test_support/user_error.h"

using namespace paraxis::pipeline;

TEST(PipelineAction, TextFormOfEveryKind) {
  const std::pair<Action, const char*> cases[] = {
      {{1, ActionKind::kForward, 0}, "1F0"},
      {{2, ActionKind::kBackwardInput, 3}, "2I3"},
      {{2, ActionKind::kBackwardWeight, 3}, "2W3"},
      {{1, ActionKind::kFullBackward, 2}, "1B2"},
      {{0, ActionKind::kSendForward, 1}, "0SEND_F1"},
      {{1, ActionKind::kRecvForward, 1}, "1RECV_F1"},
      {{12, ActionKind::kSendBackward, 34}, "12SEND_B34"},
      {{11, ActionKind::kRecvBackward, 34}, "11RECV_B34"},
      {{-1, ActionKind::kReduceGrad, -1}, "REDUCE_GRAD"},
      {{3, ActionKind::kReduceGrad, -1}, "3REDUCE_GRAD"},
      {{-1, ActionKind::kOptStep, -1}, "OPT_STEP"},
      {{-1, ActionKind::kReduceGrad, 3}, "REDUCE_GRAD3"},
      {{2, ActionKind::kFlushWeight, -1}, "2FLUSH_W"},
      {{-1, ActionKind::kGradNorm, -1}, "GRAD_NORM"},
      {{-1, ActionKind::kReduceScatter, -1}, "REDUCE_SCATTER"},
      {{-1, ActionKind::kAllGather, -1}, "ALL_GATHER"},
      {{1, ActionKind::kRecompute, 4}, "1R4"},
  };
  for (const auto& [action, text] : cases) {
    EXPECT_EQ(to_string(action), text);
    EXPECT_EQ(parse_action(text), action) << text;
  }
  EXPECT_EQ(parse_action("  7F10 "), (Action{7, ActionKind::kForward, 10}));
}

TEST(PipelineAction, BadTextIsAUserErrorNamingTheForm) {
  EXPECT_USER_ERROR(parse_action("1X0"), "'1X0'", "{stage}{KIND}{micro-batch}");
  EXPECT_USER_ERROR(parse_action("F0"), "needs a stage and a micro-batch");
  EXPECT_USER_ERROR(parse_action("1SEND_F"), "needs a stage and a micro-batch");
  EXPECT_USER_ERROR(parse_action("OPT_STEP3"), "takes no micro-batch");
  EXPECT_USER_ERROR(parse_action(""), "cannot parse action");
}

TEST(PipelineAction, ScheduleTextAndCsvRoundTrip) {
  std::vector<Schedule> schedules = {generate_gpipe(3, 5), generate_1f1b(4, 2), generate_zb_h1(3, 6),
                                     generate_interleaved_1f1b(2, 4, 3), generate_gpipe(1, 1)};
  schedules.push_back(lower_send_recv(generate_interleaved_1f1b(3, 6, 2)));
  Schedule with_step = generate_1f1b(2, 2);
  with_step.actions[0].push_back({0, ActionKind::kReduceGrad, -1});
  with_step.actions[0].push_back({-1, ActionKind::kOptStep, -1});
  with_step.actions[1].push_back({-1, ActionKind::kReduceGrad, -1});
  schedules.push_back(with_step);
  for (const Schedule& s : schedules) {
    const std::string text = format_schedule_text(s), csv = format_schedule_csv(s);
    EXPECT_EQ(parse_schedule_text(text), s) << text;
    EXPECT_EQ(parse_schedule_csv(csv), s) << csv;
    EXPECT_EQ(format_schedule_csv(parse_schedule_csv(csv)), csv);
  }
}

TEST(PipelineAction, CsvAndTextLayout) {
  const Schedule s = generate_1f1b(2, 2);
  EXPECT_EQ(format_schedule_csv(s), "0F0,0F1,0B0,0B1\n1F0,1B0,1F1,1B1\n");
  EXPECT_EQ(format_schedule_text(s), "0: 0F0 0F1 0B0 0B1\n1: 1F0 1B0 1F1 1B1\n");
  // Comments are skipped, so a file can carry figures next to the schedule.
  EXPECT_EQ(parse_schedule_csv("# made by hand\n0F0,0F1,0B0,0B1\n1F0,1B0,1F1,1B1\n"), s);
  const Schedule parsed = parse_schedule_text("0: 0F0 1F0 1B0 0B0\n");  // two stages on one device
  EXPECT_EQ(parsed.num_devices, 1);
  EXPECT_EQ(parsed.num_stages, 2);
  EXPECT_EQ(parsed.stage_device, (std::vector<int>{0, 0}));
}

TEST(PipelineAction, ParseErrorsNameTheLine) {
  EXPECT_USER_ERROR(parse_schedule_text("0F0 0B0\n"), "line 1", "device prefix");
  EXPECT_USER_ERROR(parse_schedule_text("1: 0F0 0B0\n"), "expected 0");
  EXPECT_USER_ERROR(parse_schedule_csv("0F0,,0B0\n"), "empty cell");
  EXPECT_USER_ERROR(parse_schedule_csv("0F0,0B0\n2F0,2B0\n"), "without gaps");
}
