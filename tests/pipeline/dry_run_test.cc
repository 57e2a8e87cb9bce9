#include "paraxis/pipeline/dry_run.h"

#include <gtest/gtest.h>

#include "paraxis/pipeline/generators.h"
#include "paraxis/pipeline/lower.h"
#include "test_support/user_error.h"

using namespace paraxis::pipeline;

namespace {
double min_idle(const DryRunResult& r) {
  return *std::min_element(r.idle.begin(), r.idle.end());
}
double max_idle(const DryRunResult& r) {
  return *std::max_element(r.idle.begin(), r.idle.end());
}
}  // namespace

// Unit time, F = 1 and B = 2 per stage (I = W = 1): the closed forms of docs/architecture.md, reference
// facts.
TEST(PipelineDryRun, GridOfScheduleSizesMatchesTheClosedForms) {
  const Durations unit{};  // F=1 B=2 I=1 W=1, transfers free
  for (int p = 2; p <= 8; ++p) {
    for (int m = 1; m <= 32; ++m) {
      SCOPED_TRACE(testing::Message() << "p " << p << ", m " << m);
      const DryRunResult gpipe = dry_run(generate_gpipe(p, m), unit);
      const DryRunResult ofob  = dry_run(generate_1f1b(p, m), unit);
      const DryRunResult zb    = dry_run(generate_zb_h1(p, m), unit);
      for (const DryRunResult* r : {&gpipe, &ofob}) {
        EXPECT_DOUBLE_EQ(r->makespan, 3.0 * (m + p - 1));
        EXPECT_DOUBLE_EQ(r->idle_fraction(), double(p - 1) / (m + p - 1));
        EXPECT_DOUBLE_EQ(min_idle(*r), 3.0 * (p - 1));  // every device idles the same
        EXPECT_DOUBLE_EQ(max_idle(*r), 3.0 * (p - 1));
      }
      for (int r = 0; r < p; ++r) {
        EXPECT_EQ(gpipe.peak_stash[r], m);
        EXPECT_EQ(ofob.peak_stash[r], std::min(p - r, m));  // 1F1B: at most p - r on stage r
        EXPECT_LE(zb.peak_stash[r], p);                     // ZB-H1: no more than 1F1B's worst stage
      }
      if (m >= p) {
        EXPECT_LT(zb.idle_fraction(), ofob.idle_fraction());
        // Qi et al. 2024: ZB-H1 bubble (p-1)(T_F + T_I - T_W) = p-1 per device when F = I = W = 1.
        EXPECT_DOUBLE_EQ(max_idle(zb), p - 1.0);
        EXPECT_DOUBLE_EQ(zb.makespan, 3.0 * m + p - 1);
      }
      for (int v = 2; v <= 4 && m % p == 0; ++v) {
        SCOPED_TRACE(testing::Message() << "v " << v);
        const DryRunResult il = dry_run(generate_interleaved_1f1b(p, m, v), unit);
        // The bubble time shrinks by v: 3(p-1) per device against 3vm of work.
        EXPECT_DOUBLE_EQ(max_idle(il), 3.0 * (p - 1));
        EXPECT_DOUBLE_EQ(il.idle_fraction(), double(p - 1) / (v * m + p - 1));
      }
    }
  }
}

TEST(PipelineDryRun, LoweredSchedulesKeepTheMakespan) {
  const Durations costly{.forward = 1, .backward = 3, .backward_input = 2, .backward_weight = 1};
  for (int p = 2; p <= 5; ++p)
    for (int m = p; m <= 3 * p; m += p) {
      SCOPED_TRACE(testing::Message() << "p " << p << ", m " << m);
      for (const Schedule& s : {generate_gpipe(p, m), generate_1f1b(p, m), generate_zb_h1(p, m),
                                generate_interleaved_1f1b(p, m, 2), generate_interleaved_1f1b(p, m, 3)}) {
        const Schedule lowered = lower_send_recv(s);
        EXPECT_DOUBLE_EQ(dry_run(lowered, costly).makespan, dry_run(s, costly).makespan);
        // With a transfer cost the lowered run still completes (no deadlock) and can only get longer.
        Durations slow_links = costly;
        slow_links.recv      = 0.5;
        EXPECT_GT(dry_run(lowered, slow_links).makespan, dry_run(s, costly).makespan);
      }
    }
}

TEST(PipelineDryRun, PlacementLeavesDevicesIdle) {
  // Workload partitioning = GPipe with one micro-batch: each device works 3 of 3p time units.
  const DryRunResult r = dry_run(generate_gpipe(4, 1));
  EXPECT_DOUBLE_EQ(r.makespan, 12);
  EXPECT_DOUBLE_EQ(r.idle_fraction(), 0.75);
}

TEST(PipelineDryRun, CircularOrderDeadlocksWithTheStuckCellsMarked) {
  // Device 0 waits for 1B0, which needs 1F0, which device 1 runs after 1F1, which needs 0F1 from after 0B0.
  const Schedule s = parse_schedule_text("0: 0F0 0B0 0F1 0B1\n1: 1F1 1F0 1B0 1B1\n");
  EXPECT_USER_ERROR(dry_run(s), "deadlocks", ">0B0<", ">1F1<");
  EXPECT_USER_ERROR(lower_send_recv(s), "cannot lower", ">0B0<", ">1F1<");
}

TEST(PipelineDryRun, ReceiveWithoutSendDeadlocks) {
  // Valid transfer pairs, but device 1 blocks on the RECV of micro-batch 1 before sending the gradient that
  // device 0 needs in order to run 0F1.
  const Schedule s = parse_schedule_text(
      "0: 0F0 0SEND_F0 0RECV_B0 0B0 0F1 0SEND_F1 0RECV_B1 0B1\n"
      "1: 1RECV_F0 1F0 1RECV_F1 1F1 1B0 1SEND_B0 1B1 1SEND_B1\n");
  EXPECT_USER_ERROR(dry_run(s), "deadlocks", ">0RECV_B0<", ">1RECV_F1<");
}

TEST(PipelineDryRun, DurationsParseAndTimelineShowsIdle) {
  const Durations d = parse_durations("F=2,B=4.5,SEND=0.25");
  EXPECT_EQ(d.forward, 2);
  EXPECT_EQ(d.backward, 4.5);
  EXPECT_EQ(d.send, 0.25);
  EXPECT_EQ(d.backward_input, 1);  // untouched
  EXPECT_USER_ERROR(parse_durations("X=1"), "key 'X' is unknown");
  EXPECT_USER_ERROR(parse_durations("F=-1"), "number >= 0");
  EXPECT_USER_ERROR(parse_durations("F"), "lacks '='");
  const Schedule s       = generate_gpipe(2, 1);
  const DryRunResult r   = dry_run(s);
  const std::string line = format_timeline(s, r);
  // time 0: device 1 idle; time 1: device 1 forwards; backward of stage 1 covers times 2 and 3.
  EXPECT_NE(line.find("   0  0F0    ."), std::string::npos) << line;
  EXPECT_NE(line.find("   3  .      1B0"), std::string::npos) << line;
}

// A device's stash is the sum over its stages at each point of its list. Interleaved 1F1B holds Megatron-LM's
// warm-up plus one chunk on device 0 (Korthikanti et al. 2022, §4.2.3: L(1 + (p−1)/(pm)) layers' worth over
// m interleaved chunks of L/(pm) layers), not the sum of each chunk's own peak; one stage per device keeps
// peak_stash × bytes.
TEST(PipelineDryRun, PeakStashBytesSumsTheStagesOfADeviceAtEachMoment) {
  for (int p = 2; p <= 6; ++p)
    for (int v = 2; v <= 3; ++v) {
      const int m                      = 2 * p;
      const Schedule il                = generate_interleaved_1f1b(p, m, v);
      const std::vector<double> b      = peak_stash_bytes(il, std::vector<double>(p * v, 1.0));
      const std::vector<int> per_stage = dry_run(il).peak_stash;
      for (int d = 0; d < p; ++d) {
        SCOPED_TRACE(testing::Message() << "p " << p << " v " << v << " device " << d);
        EXPECT_DOUBLE_EQ(b[d], 2 * (p - d - 1) + (v - 1) * p + 1);
        int summed = 0;
        for (int c = 0; c < v; ++c) summed += per_stage[c * p + d];
        EXPECT_LT(b[d], summed);
      }
    }
  const Schedule ofob             = generate_1f1b(4, 8);
  const std::vector<double> bytes = {4, 3, 2, 1};
  const std::vector<double> held  = peak_stash_bytes(ofob, bytes);
  const std::vector<int> count    = dry_run(ofob).peak_stash;
  for (int r = 0; r < 4; ++r) EXPECT_DOUBLE_EQ(held[r], count[r] * bytes[r]);
}
