// Golden action lists, written by hand from each algorithm's definition (see the comments), p 2, m 4.
#include "paraxis/pipeline/generators.h"

#include <gtest/gtest.h>

#include "paraxis/pipeline/lower.h"
#include "test_support/user_error.h"

using namespace paraxis::pipeline;

namespace {
std::string device_line(const Schedule& s, int d) {
  std::string out;
  for (const Action& a : s.actions[d]) out += (out.empty() ? "" : " ") + to_string(a);
  return out;
}
}  // namespace

TEST(PipelineGolden, GPipe) {
  // All forwards, then all backwards, micro-batches in order.
  const Schedule s = generate_gpipe(2, 4);
  EXPECT_EQ(device_line(s, 0), "0F0 0F1 0F2 0F3 0B0 0B1 0B2 0B3");
  EXPECT_EQ(device_line(s, 1), "1F0 1F1 1F2 1F3 1B0 1B1 1B2 1B3");
}

TEST(PipelineGolden, OneFOneB) {
  // Stage 0 warms up with p-1-0 = 1 forward, stage 1 with none; then F/B alternate; stage 0 drains one B.
  const Schedule s = generate_1f1b(2, 4);
  EXPECT_EQ(device_line(s, 0), "0F0 0F1 0B0 0F2 0B1 0F3 0B2 0B3");
  EXPECT_EQ(device_line(s, 1), "1F0 1B0 1F1 1B1 1F2 1B2 1F3 1B3");
}

TEST(PipelineGolden, Interleaved1F1B) {
  // v 2: device 0 owns stages 0 and 2, device 1 stages 1 and 3. Forward i runs chunk (i mod 4) / 2 on
  // micro-batch (i / 4) * 2 + i mod 2: (c0,0) (c0,1) (c1,0) (c1,1) (c0,2) (c0,3) (c1,2) (c1,3); backward i
  // the same with the chunk reversed. Warm-up: device 0 2(2-0-1) + (2-1)2 = 4 forwards, device 1 0 + 2 = 2.
  const Schedule s = generate_interleaved_1f1b(2, 4, 2);
  EXPECT_EQ(device_line(s, 0), "0F0 0F1 2F0 2F1 0F2 2B0 0F3 2B1 2F2 0B0 2F3 0B1 2B2 2B3 0B2 0B3");
  EXPECT_EQ(device_line(s, 1), "1F0 1F1 3F0 3B0 3F1 3B1 1F2 1B0 1F3 1B1 3F2 3B2 3F3 3B3 1B2 1B3");
  EXPECT_EQ(s.stage_device, (std::vector<int>{0, 1, 0, 1}));
}

TEST(PipelineGolden, ZBH1) {
  // 1F1B with B = I + W; stage r holds back r weight passes (stage 1: W0 after I1), the rest run after each
  // I.
  const Schedule s = generate_zb_h1(2, 4);
  EXPECT_EQ(device_line(s, 0), "0F0 0F1 0I0 0W0 0F2 0I1 0W1 0F3 0I2 0W2 0I3 0W3");
  EXPECT_EQ(device_line(s, 1), "1F0 1I0 1F1 1I1 1W0 1F2 1I2 1W1 1F3 1I3 1W2 1W3");
}

TEST(PipelineGolden, Lowered1F1B) {
  // Each SEND right after the pass making its data; each RECV right before the pass needing it.
  const Schedule s = lower_send_recv(generate_1f1b(2, 4));
  EXPECT_EQ(
      device_line(s, 0),
      "0F0 0SEND_F0 0F1 0SEND_F1 0RECV_B0 0B0 0F2 0SEND_F2 0RECV_B1 0B1 0F3 0SEND_F3 0RECV_B2 0B2 0RECV_B3 "
      "0B3");
  EXPECT_EQ(device_line(s, 1),
            "1RECV_F0 1F0 1B0 1SEND_B0 1RECV_F1 1F1 1B1 1SEND_B1 1RECV_F2 1F2 1B2 1SEND_B2 1RECV_F3 1F3 1B3 "
            "1SEND_B3");
}

TEST(PipelineGolden, PlacementIsGPipeWithOneMicroBatch) {
  const Schedule s = generate_schedule({ScheduleKind::kGPipe, 3, 1});
  EXPECT_EQ(device_line(s, 0), "0F0 0B0");
  EXPECT_EQ(device_line(s, 2), "2F0 2B0");
}

TEST(PipelineGolden, InterleavedWithOneChunkIsOneFOneB) {
  EXPECT_EQ(generate_schedule({ScheduleKind::kInterleaved1F1B, 3, 5, 1}), generate_1f1b(3, 5));
}

TEST(PipelineSpec, KindNamesRoundTrip) {
  for (ScheduleKind k :
       {ScheduleKind::kGPipe, ScheduleKind::k1F1B, ScheduleKind::kInterleaved1F1B, ScheduleKind::kZBH1})
    EXPECT_EQ(parse_schedule_kind(schedule_kind_name(k)), k);
  EXPECT_USER_ERROR(parse_schedule_kind("pipedream"), "--schedule pipedream",
                    "gpipe, 1f1b, interleaved-1f1b or zb-h1");
}

TEST(PipelineSpec, EachBadInputRuleSuggestsAValidValue) {
  using K = ScheduleKind;
  EXPECT_USER_ERROR(generate_schedule({K::kInterleaved1F1B, 4, 6, 2}), "--microbatches 6",
                    "not a multiple of --pp 4", "use --microbatches 8");
  EXPECT_USER_ERROR(generate_schedule({K::kInterleaved1F1B, 1, 4, 2}), "--virtual 2 with --pp 1",
                    "use --pp 2");
  EXPECT_USER_ERROR(generate_schedule({K::k1F1B, 2, 4, 2}), "--virtual 2",
                    "use --schedule interleaved-1f1b, or --virtual 1");
  EXPECT_USER_ERROR(generate_schedule({K::kGPipe, 2, 0}), "--microbatches 0", "use --microbatches 2 or more");
  EXPECT_USER_ERROR(generate_schedule({K::kGPipe, 0, 4}), "--pp 0", "use --pp 1 or more");
  EXPECT_USER_ERROR(generate_schedule({K::kZBH1, 2, 4, 0}), "--virtual 0", "use --virtual 1");
  EXPECT_USER_ERROR(generate_schedule({K::k1F1B, 1000, 100000}), "use fewer micro-batches");
}

TEST(PipelineSpec, FewerMicroBatchesThanStagesIsValidForGPipeAnd1F1B) {
  for (ScheduleKind kind : {ScheduleKind::kGPipe, ScheduleKind::k1F1B, ScheduleKind::kZBH1}) {
    const Schedule s = generate_schedule({kind, 4, 2});
    EXPECT_EQ(s.num_stages, 4);
    for (const auto& list : s.actions) EXPECT_EQ(list.size(), kind == ScheduleKind::kZBH1 ? 6u : 4u);
  }
}
