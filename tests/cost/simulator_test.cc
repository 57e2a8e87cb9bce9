// The simulator in unit-time mode reproduces the closed-form bubbles exactly; transfers, gradient buckets and
// the optimizer step land where hand computation puts them; the predicted trace reads back.
#include <gtest/gtest.h>

#include "paraxis/core/error.h"
#include "paraxis/cost/simulator.h"
#include "paraxis/pipeline/dry_run.h"
#include "paraxis/pipeline/generators.h"
#include "paraxis/pipeline/lower.h"
#include "paraxis/trace/chrome_trace.h"

namespace paraxis::cost {
namespace {

using pipeline::ScheduleKind;

SimResult run_unit(ScheduleKind kind, int p, int m, int v = 1, StageDurations d = {}) {
  pipeline::Schedule s = pipeline::lower_send_recv(pipeline::generate_schedule({kind, p, m, v}));
  return simulate(s, SimInput::unit(s, d));
}

TEST(Simulator, UnitTimeGPipeAnd1F1BBubbleIsClosedForm) {
  for (ScheduleKind kind : {ScheduleKind::kGPipe, ScheduleKind::k1F1B})
    for (int p : {1, 2, 3, 4, 8})
      for (int m : {1, 2, 4, 7, 16}) {
        SimResult r = run_unit(kind, p, m);
        // (m + p − 1)(T_F + T_B) with F 1, B 2; idle fraction (p − 1)/(m + p − 1) (docs/architecture.md,
        // reference facts).
        EXPECT_DOUBLE_EQ(r.step_time, 3.0 * (m + p - 1)) << "p " << p << " m " << m;
        EXPECT_NEAR(r.bubble, static_cast<double>(p - 1) / (m + p - 1), 1e-12) << "p " << p << " m " << m;
      }
}

TEST(Simulator, UnitTimeInterleavedBubbleIsClosedForm) {
  for (int p : {2, 4})
    for (int v : {2, 3, 4})
      for (int m : {p, 2 * p, 4 * p}) {
        // v chunks of 1/v of the work: F 1/v, B 2/v per chunk; the bubble time is (p − 1)(F + B)/v.
        StageDurations d{.forward = 1.0 / v, .backward = 2.0 / v};
        SimResult r = run_unit(ScheduleKind::kInterleaved1F1B, p, m, v, d);
        EXPECT_NEAR(r.step_time, 3.0 * m + 3.0 * (p - 1) / v, 1e-9) << "p " << p << " v " << v << " m " << m;
        const double want = pipeline::theoretical_idle_fraction({ScheduleKind::kInterleaved1F1B, p, m, v});
        EXPECT_NEAR(r.bubble, want, 1e-9) << "p " << p << " v " << v << " m " << m;
      }
}

TEST(Simulator, AgreesWithTheDryRunOnEverySchedule) {
  for (ScheduleKind kind :
       {ScheduleKind::kGPipe, ScheduleKind::k1F1B, ScheduleKind::kZBH1, ScheduleKind::kInterleaved1F1B})
    for (int p : {2, 4})
      for (int m : {4, 8}) {
        const int v                = kind == ScheduleKind::kInterleaved1F1B ? 2 : 1;
        pipeline::Schedule s       = pipeline::lower_send_recv(pipeline::generate_schedule({kind, p, m, v}));
        pipeline::DryRunResult dry = pipeline::dry_run(s);
        SimResult sim              = simulate(s, SimInput::unit(s));
        EXPECT_DOUBLE_EQ(sim.step_time, dry.makespan) << pipeline::schedule_kind_name(kind) << " p" << p;
        EXPECT_NEAR(sim.bubble, dry.idle_fraction(), 1e-12);
      }
  // ZB-H1 with F = I = W = 1: bubble (p − 1)(T_F + T_I − T_W) = p − 1 units (Qi et al. 2024).
  SimResult zb = run_unit(ScheduleKind::kZBH1, 4, 8);
  EXPECT_DOUBLE_EQ(zb.step_time, 3.0 * 8 + 3);
}

TEST(Simulator, TransfersAreOnTheCriticalPath) {
  // 2 stages, 1 micro-batch: F0, send c, F1, B1, send c, B0 = 1 + c + 1 + 2 + c + 2.
  pipeline::Schedule s = pipeline::lower_send_recv(pipeline::generate_schedule({ScheduleKind::k1F1B, 2, 1}));
  SimInput in          = SimInput::unit(s);
  in.send_forward      = {0.25, 0.25};
  in.send_backward     = {0.25, 0.25};
  EXPECT_DOUBLE_EQ(simulate(s, in).step_time, 6.5);
  in.rendezvous = true;  // the receiver is already waiting: same times
  EXPECT_DOUBLE_EQ(simulate(s, in).step_time, 6.5);
  in.rendezvous     = false;
  in.gather_forward = {0.25, 0.0};  // stage 1 all-gathers stage 0's output after receiving it: + 0.25
  EXPECT_DOUBLE_EQ(simulate(s, in).step_time, 6.75);
}

TEST(Simulator, InPassExchangesDrawWholeAndDelayOnlyByWhatIsNotHidden) {
  // One device, F 1, B 2 (the durations already hold what the exchanges expose); one halo in F at half its
  // compute, 0.5 long of which 0.375 runs beside the compute, and a sum of final gradients in B's weight
  // pass (B = I 1 + W 1), 0.25 long, which lengthens that action.
  pipeline::Schedule s        = pipeline::generate_schedule({ScheduleKind::k1F1B, 1, 1});
  SimInput in                 = SimInput::unit(s);
  in.stages[0].backward_input = in.stages[0].backward_weight = 1.0;
  in.forward_comm  = {{{.after = 0.5, .time = 0.5, .hidden = 0.375, .bytes = 8, .kind = trace::Kind::kHalo}}};
  in.backward_comm = {{}};
  in.final_comm    = {{{.after = 0.5, .time = 0.25, .bytes = 4, .kind = trace::Kind::kAllReduce}}};
  const SimResult r = simulate(s, in);
  EXPECT_DOUBLE_EQ(r.step_time, 1 + 2 + 0.25);
  const double ns = in.time_unit_ns;
  int seen        = 0;
  for (const trace::Event& e : r.trace.events[0]) {
    if (e.kind == trace::Kind::kHalo) {  // starts after (1 - 0.125) / 2 of F's compute, drawn whole
      EXPECT_EQ(e.t_begin_ns, std::llround(0.4375 * ns));
      EXPECT_EQ(e.t_end_ns, std::llround(0.9375 * ns));
      ++seen;
    }
    if (e.kind == trace::Kind::kAllReduce) {  // after B's input pass and half its weight pass
      EXPECT_EQ(e.t_begin_ns, std::llround((1 + 1 + 0.5) * ns));
      EXPECT_EQ(e.t_end_ns, std::llround((1 + 1 + 0.5 + 0.25) * ns));
      ++seen;
    }
  }
  EXPECT_EQ(seen, 2);
}

TEST(Simulator, ABlockingSenderComputesOnlyAfterItsTransfer) {
  // 1F1B, 2 stages, 2 micro-batches, F 1, B 2, every transfer 0.5.
  pipeline::Schedule s = pipeline::lower_send_recv(pipeline::generate_schedule({ScheduleKind::k1F1B, 2, 2}));
  SimInput in          = SimInput::unit(s);
  in.send_forward      = {0.5, 0.5};
  in.send_backward     = {0.5, 0.5};
  // Overlapped: device 0 runs F(0) [0,1], F(1) [1,2] while sending; device 1 F(0) [1.5,2.5], B(0) [2.5,4.5],
  // F(1) [4.5,5.5], B(1) [5.5,7.5]; device 0's B(0) [5,7], B(1) waits for the gradient sent [7.5,8]: [8,10].
  EXPECT_DOUBLE_EQ(simulate(s, in).step_time, 10.0);
  // Blocking: device 0's F(1) starts after its first send [1,1.5]; device 1 sends B(0)'s gradient [4.5,5]
  // before F(1) [5,6], B(1) [6,8], its gradient [8,8.5]; device 0's B(1) [8.5,10.5].
  in.blocking_sends = true;
  EXPECT_DOUBLE_EQ(simulate(s, in).step_time, 10.5);
}

TEST(Simulator, GradientBucketsOverlapTheLastBackward) {
  pipeline::Schedule s = pipeline::parse_schedule_text("0: 0F0 0B0 REDUCE_GRAD0 OPT_STEP\n");
  SimInput in          = SimInput::unit(s);
  in.opt_step          = {0.1};
  // One bucket ready at the end of B (1 + 2 = 3), 0.5 long: the optimizer waits for it.
  in.bucket_time  = {{0.5}};
  in.bucket_ready = {{1.0}};
  EXPECT_DOUBLE_EQ(simulate(s, in).step_time, 3.0 + 0.5 + 0.1);
  // Two buckets ready halfway and at the end: the first (1 + 1 → 2.5) hides behind B; the second 3 → 3.5.
  s               = pipeline::parse_schedule_text("0: 0F0 0B0 REDUCE_GRAD0 REDUCE_GRAD1 OPT_STEP\n");
  in.bucket_time  = {{0.5, 0.5}};
  in.bucket_ready = {{0.5, 1.0}};
  EXPECT_DOUBLE_EQ(simulate(s, in).step_time, 3.5 + 0.1);
  // A long first bucket delays the second (one stream): 2 + 2 = 4, then 4 + 0.5.
  in.bucket_time = {{2.0, 0.5}};
  SimResult r    = simulate(s, in);
  EXPECT_DOUBLE_EQ(r.step_time, 4.5 + 0.1);
  EXPECT_DOUBLE_EQ(r.comm[0], 2.5);
  EXPECT_DOUBLE_EQ(r.busy[0], 3.1);
}

TEST(Simulator, BucketsSharingTheCoreSlowTheBackwardByTheirOverlap) {
  pipeline::Schedule s = pipeline::parse_schedule_text("0: 0F0 0B0 REDUCE_GRAD0 OPT_STEP\n");
  SimInput in          = SimInput::unit(s);
  in.opt_step          = {0.1};
  in.bucket_time       = {{0.5}};
  in.bucket_ready      = {{0.5}};                          // B runs [1, 3]; the bucket is ready at 2
  EXPECT_DOUBLE_EQ(simulate(s, in).step_time, 3.0 + 0.1);  // own core: hidden behind B
  in.buckets_share_core = true;
  // One core shared: both at half speed for the bucket's 0.5 of work (1 of time): B ends 3.5, bucket 3.0.
  EXPECT_DOUBLE_EQ(simulate(s, in).step_time, 3.5 + 0.1);
  // A bucket longer than the rest of B: B's remaining 1 takes 2 (ends 4), by then the bucket did 1 of its 3;
  // alone again, it ends at 4 + 2 = 6.
  in.bucket_time = {{3.0}};
  SimResult r    = simulate(s, in);
  EXPECT_DOUBLE_EQ(r.step_time, 6.0 + 0.1);
  EXPECT_DOUBLE_EQ(r.compute_end, 4.0);
  EXPECT_DOUBLE_EQ(r.busy[0], 3.1);  // the work itself is unchanged
}

TEST(Simulator, OverlapIsTheShareOfComputeBesideAnotherDevice) {
  // Placement (m 1): the two stages take turns, nothing overlaps.
  pipeline::Schedule one =
      pipeline::lower_send_recv(pipeline::generate_schedule({ScheduleKind::kGPipe, 2, 1}));
  SimInput in        = SimInput::unit(one);
  in.measure_overlap = true;
  SimResult r        = simulate(one, in);
  ASSERT_EQ(r.overlap.size(), 2u);
  EXPECT_DOUBLE_EQ(r.overlap[0], 0.0);
  EXPECT_DOUBLE_EQ(r.overlap[1], 0.0);
  // 1F1B p 2 m 8: a brute-force count over the trace's compute events agrees with the sweep.
  pipeline::Schedule s = pipeline::lower_send_recv(pipeline::generate_schedule({ScheduleKind::k1F1B, 2, 8}));
  in                   = SimInput::unit(s);
  in.measure_overlap   = true;
  r                    = simulate(s, in);
  for (int d = 0; d < 2; ++d) {
    double busy = 0, shared = 0;
    for (const trace::Event& a : r.trace.events[d]) {
      if (a.track != trace::Track::kCompute) continue;
      busy += static_cast<double>(a.t_end_ns - a.t_begin_ns);
      for (const trace::Event& b : r.trace.events[1 - d])
        if (b.track == trace::Track::kCompute)
          shared += std::max<double>(0, static_cast<double>(std::min(a.t_end_ns, b.t_end_ns) -
                                                            std::max(a.t_begin_ns, b.t_begin_ns)));
    }
    EXPECT_NEAR(r.overlap[d], shared / busy, 1e-12) << "device " << d;
    EXPECT_GT(r.overlap[d], 0.5);
  }
}

TEST(Simulator, PredictedTraceReadsBackWithMatchedFlows) {
  pipeline::Schedule s = pipeline::lower_send_recv(pipeline::generate_schedule({ScheduleKind::k1F1B, 4, 8}));
  SimInput in          = SimInput::unit(s);
  in.send_forward.assign(4, 0.1);
  in.send_backward.assign(4, 0.1);
  in.time_unit_ns = 1e6;  // 1 unit = 1 ms
  SimResult r     = simulate(s, in);
  ASSERT_EQ(r.trace.num_devices(), 4);
  EXPECT_EQ(r.trace.source, "simulated");
  trace::TraceSet back = trace::from_chrome_json(trace::to_chrome_json(r.trace));
  EXPECT_EQ(back.source, "simulated");
  trace::FlowMatch flows = trace::match_flows(back);
  EXPECT_EQ(flows.unmatched_sends, 0);
  EXPECT_EQ(flows.unmatched_recvs, 0);
  EXPECT_EQ(flows.flows.size(), 2u * 3 * 8);  // forward and backward over 3 boundaries, 8 micro-batches
  int computes = 0;
  for (const auto& e : back.events[1]) computes += trace::is_compute(e.kind);
  EXPECT_EQ(computes, 16);  // 8 F + 8 B
}

TEST(Simulator, UnloweredMultiDeviceScheduleIsRejected) {
  pipeline::Schedule s = pipeline::generate_schedule({ScheduleKind::k1F1B, 2, 2});
  EXPECT_THROW(simulate(s, SimInput::unit(s)), Error);
}

}  // namespace
}  // namespace paraxis::cost
