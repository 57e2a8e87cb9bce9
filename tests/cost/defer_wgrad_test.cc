// Deferred weight gradients (Layout::defer_wgrad) in the simulator, the step prediction and the memory model,
// by hand: the per-micro-batch W of the Linear layers leaves the backward and comes back as one flush per
// stage at K = m·b rows, with the dp buckets of those blocks behind it and their kept rows in the stash.
#include <gtest/gtest.h>

#include "paraxis/cost/planner.h"
#include "paraxis/cost/simulator.h"
#include "paraxis/pipeline/generators.h"
#include "paraxis/pipeline/lower.h"

namespace paraxis::cost {
namespace {

using pipeline::ScheduleKind;

std::vector<trace::Event> events_of(const SimResult& r, int device, trace::Kind kind) {
  std::vector<trace::Event> out;
  for (const trace::Event& e : r.trace.events[device])
    if (e.kind == kind) out.push_back(e);
  return out;
}

// The lowered 1F1B p 2 m 4 with `tail0` and `tail1` (text) after each device's list.
pipeline::Schedule with_tails(const std::string& tail0, const std::string& tail1) {
  pipeline::Schedule s = pipeline::lower_send_recv(pipeline::generate_schedule({ScheduleKind::k1F1B, 2, 4}));
  std::string text     = pipeline::format_schedule_text(s);
  const size_t nl      = text.find('\n');
  text.insert(nl, " " + tail0);
  text.insert(text.size() - 1, " " + tail1);
  return pipeline::parse_schedule_text(text);
}

TEST(DeferWgrad, SimulatorReplacesPerMicroBatchWByOneFlushPerStage) {
  // 1F1B p 2 m 4 with F 1 and B 1 (the Linear W gone from B): (m + p − 1)(F + B) = 10; device 1's last B
  // ends at 9, device 0's at 10. Each stage then flushes for 2 units: device 0 10 → 12, device 1 9 → 11.
  pipeline::Schedule s = with_tails("OPT_STEP", "OPT_STEP");
  SimInput in          = SimInput::unit(s, {.forward = 1, .backward = 1});
  EXPECT_DOUBLE_EQ(simulate(s, in).step_time, 10.0);
  s           = with_tails("0FLUSH_W OPT_STEP", "1FLUSH_W OPT_STEP");
  in.flush    = {2.0, 2.0};
  SimResult r = simulate(s, in);
  EXPECT_DOUBLE_EQ(r.step_time, 12.0);
  EXPECT_DOUBLE_EQ(r.busy[0], 4 * 2.0 + 2.0);  // 4 (F + B) + the flush
  const auto w0 = events_of(r, 0, trace::Kind::kBackwardWeight);
  const auto w1 = events_of(r, 1, trace::Kind::kBackwardWeight);
  ASSERT_EQ(w0.size(), 1u);
  ASSERT_EQ(w1.size(), 1u);
  EXPECT_EQ(w0[0].microbatch, -1);  // all micro-batches, as the engine traces it
  EXPECT_EQ(w0[0].stage, 0);
  EXPECT_EQ(w0[0].t_begin_ns, 10);
  EXPECT_EQ(w0[0].t_end_ns, 12);
  EXPECT_EQ(w1[0].stage, 1);
  EXPECT_EQ(w1[0].t_begin_ns, 9);
  EXPECT_EQ(w1[0].t_end_ns, 11);

  // Buckets of stage 0, 1 unit each: one of a block that did not defer, ready at the end of the last B
  // (10 → 11), and one behind the flush (12 → 13), which now ends the step.
  s               = with_tails("REDUCE_GRAD0 0FLUSH_W REDUCE_GRAD1 OPT_STEP", "1FLUSH_W OPT_STEP");
  in.bucket_time  = {{1.0, 1.0}, {}};
  in.bucket_ready = {{1.0, 1.0}, {}};
  r               = simulate(s, in);
  EXPECT_DOUBLE_EQ(r.step_time, 13.0);
  const auto buckets = events_of(r, 0, trace::Kind::kAllReduce);
  ASSERT_EQ(buckets.size(), 2u);
  EXPECT_EQ(buckets[0].t_begin_ns, 10);
  EXPECT_EQ(buckets[1].t_begin_ns, 12);
  // Ready halfway through the flush (11): the stream is free at 11, so 11 → 12 and the step ends with the
  // flush.
  in.bucket_ready = {{1.0, 0.5}, {}};
  EXPECT_DOUBLE_EQ(simulate(s, in).step_time, 12.0);
}

TEST(DeferWgrad, PredictionTradesMicroBatchWeightPassesForOneFlush) {
  HardwareProfile hw = hardware_preset("cpu-this-machine");
  ModelDesc d        = describe_model(ModelSpec::mlp({784, 256, 10}));
  const int m        = 4;
  const double b     = 16;  // batch 64 over 4 micro-batches
  Layout plain{.microbatches = m};
  Layout deferred       = plain;
  deferred.defer_wgrad  = true;
  const PredictedStep p = predict_step(d, plain, 64, hw);
  const PredictedStep q = predict_step(d, deferred, 64, hw);
  // Off, the prediction is the default layout's.
  EXPECT_DOUBLE_EQ(predict_step(d, Layout{.microbatches = m}, 64, hw).step_s, p.step_s);

  // Each Linear: m weight passes at b rows out, one at m·b rows and the copy of its rows (read + write) in.
  double change = 0, kept = 0;
  for (const BlockDesc& blk : d.blocks) {
    if (blk.kind != "linear") continue;
    const double in = static_cast<double>(blk.gemm_in), out = static_cast<double>(blk.gemm_out);
    const Cost one = blk.at_batch(b), all = blk.at_batch(m * b);
    const double per_mb = pass_time(one.bwd_weight_flops, one.bwd_weight_bytes, 1, hw, 1, 1,
                                    PassKind::kBackwardWeight, b, in, out);
    const double flush  = pass_time(all.bwd_weight_flops, all.bwd_weight_bytes, 1, hw, 1, 1,
                                    PassKind::kBackwardWeight, m * b, in, out) +
                         2.0 * m * b * (in + out) * 4.0 / hw.memory_bandwidth;
    change += flush - m * per_mb;
    kept += m * b * (in + out) * hw.bytes_per_element;
  }
  EXPECT_NEAR(q.step_s - p.step_s, change, 1e-12);
  EXPECT_NE(change, 0.0);

  // Memory: every micro-batch's (rows, in) inputs and (rows, out) gradients of both Linears stay to the
  // flush: 4·16·((784 + 256) + (256 + 10)) elements; the flush's copy of fc1 is the largest work buffer.
  EXPECT_DOUBLE_EQ(kept, 4 * 16 * (1040 + 266) * hw.bytes_per_element);
  EXPECT_DOUBLE_EQ(q.memory.activations - p.memory.activations, kept);
  EXPECT_DOUBLE_EQ(q.memory.workspace, 4 * 16 * 1040 * hw.bytes_per_element);
  EXPECT_EQ(q.layout.describe(), "dp1 tp1 pp1 1f1b m4 defer-wgrad");
}

TEST(DeferWgrad, PipelinedBucketsLaunchAfterTheirStagesFlush) {
  HardwareProfile hw = hardware_preset("cpu-this-machine");
  ModelDesc d        = describe_model(ModelSpec::mlp({256, 512, 512, 512, 10}));
  Layout l{.dp = 2, .pp = 2, .schedule = ScheduleKind::k1F1B, .microbatches = 4};
  l.defer_wgrad   = true;
  PredictedStep p = predict_step(d, l, 64, hw);
  for (int dev = 0; dev < 2; ++dev) {
    int64_t flush_begin = -1;
    int weight_passes   = 0;
    for (const trace::Event& e : p.trace.events[dev])
      if (e.kind == trace::Kind::kBackwardWeight) {
        ++weight_passes;
        EXPECT_EQ(e.microbatch, -1);
        flush_begin = e.t_begin_ns;
      }
    EXPECT_EQ(weight_passes, 1) << "device " << dev;  // one flush per stage, no per-micro-batch W
    int buckets = 0;
    for (const trace::Event& e : p.trace.events[dev])
      if (e.kind == trace::Kind::kAllReduce) {
        ++buckets;
        EXPECT_GE(e.t_begin_ns, flush_begin) << "device " << dev;
      }
    EXPECT_GT(buckets, 0) << "device " << dev;
  }
}

}  // namespace
}  // namespace paraxis::cost
