// The measurements behind `paraxis calibrate`'s shape rates: which shapes a model's layers and their tensor-
// parallel shards have, how many calls a measurement makes, and that the measured figures come back for every
// shape, rows and pass (alone and at once), on tiny shapes.
#include "paraxis/measure/measure.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <mutex>
#include <thread>

#include "paraxis/comm/launch.h"
#include "paraxis/core/error.h"

using namespace paraxis::cost;
using namespace paraxis::measure;
using Shapes = std::vector<std::pair<int64_t, int64_t>>;

TEST(Measure, LinearShapesOfAnMlpAndItsShards) {
  // tp 2: fc1 column-parallel (outputs halved), fc2 row-parallel (inputs halved), fc3 column, fc4 row.
  EXPECT_EQ(mlp_linear_shapes({784, 3584, 4096, 4096, 10}, {1, 2}), (Shapes{{784, 3584},
                                                                            {3584, 4096},
                                                                            {4096, 4096},
                                                                            {4096, 10},
                                                                            {784, 1792},
                                                                            {1792, 4096},
                                                                            {4096, 2048},
                                                                            {2048, 10}}));
  // Three Linears: the odd last one stays whole under tp; each shape once.
  EXPECT_EQ(mlp_linear_shapes({784, 256, 256, 10}, {2}), (Shapes{{784, 128}, {128, 256}, {256, 10}}));
  EXPECT_EQ(mlp_linear_shapes({64, 64, 64}, {1}), (Shapes{{64, 64}}));
}

TEST(Measure, CallsGrowForSmallCallsOnly) {
  EXPECT_EQ(calls_for(2.0 * 256 * 4096 * 4096), 3);  // 8.6 Gflop: the median of 3 is steady
  EXPECT_EQ(calls_for(2.0 * 32 * 4096 * 4096), 4);   // 1.07 Gflop
  EXPECT_EQ(calls_for(2.0 * 32 * 2048 * 2048), 15);  // 268 Mflop: capped
  EXPECT_EQ(calls_for(0), 15);
  for (double f = 1e6; f < 1e11; f *= 1.7) EXPECT_GE(calls_for(f), calls_for(2 * f));
}

TEST(Measure, LayerTimesHaveOneTimePerCallAndPass) {
  int synced        = 0;
  const PassTimes t = measure_layer_times(8, 16, 24, 4, [&] { ++synced; });
  EXPECT_DOUBLE_EQ(t.rows, 8);
  EXPECT_DOUBLE_EQ(t.flops, 2.0 * 8 * 16 * 24);
  for (const auto& pass : t.pass) {
    ASSERT_EQ(pass.size(), 4u);
    for (double s : pass) EXPECT_GT(s, 0);
  }
  EXPECT_EQ(synced, 15);  // before every call: 3 passes × (warm-up + 4 timed)
  EXPECT_EQ(measure_layer_times(8, 16, 24).pass[0].size(), static_cast<size_t>(calls_for(2.0 * 8 * 16 * 24)));
}

TEST(Measure, ShapeRatesForEveryShapeAndRowsAloneAndAtOnce) {
  const Shapes shapes  = {{16, 32}, {32, 8}};
  const ShapeRates two = measure_shape_rates(shapes, {4, 8}, 2, 2);
  ASSERT_EQ(two.points.size(), 4u);
  EXPECT_EQ(two.measurements, 12u);  // alone, in turns, at once
  // Tiny calls (< 50 Mflop) never make the unsteady list, however much they swing.
  EXPECT_TRUE(two.unsteady.empty());
  size_t k = 0;
  for (auto [in, out] : shapes)
    for (int64_t rows : {4, 8}) {
      const ShapeRatePoint& p = two.points[k++];
      EXPECT_EQ(p.rows, rows);
      EXPECT_EQ(p.in, in);
      EXPECT_EQ(p.out, out);
      for (const RowRatePoint& r : {p.alone, p.together, p.turns}) {
        EXPECT_GT(r.forward, 0);
        EXPECT_GT(r.backward_input, 0);
        EXPECT_GT(r.backward_weight, 0);
      }
    }
  const ShapeRates one = measure_shape_rates(shapes, {4}, 1, 1);  // one device: no "at once" figures
  ASSERT_EQ(one.points.size(), 2u);
  EXPECT_EQ(one.measurements, 2u);
  EXPECT_GT(one.points[0].alone.forward, 0);
  EXPECT_EQ(one.points[0].together.forward, 0);
  EXPECT_EQ(one.points[0].turns.forward, 0);
}

// Three devices taking turns: the calls run one at a time, in device order, round after round, and the
// devices that made their last call wait for the others (no device leaves while another is at a barrier).
TEST(Measure, DevicesTakeTurnsOneCallAtATime) {
  constexpr int kCalls = 4;
  std::atomic<int> active{0}, overlaps{0};
  std::mutex m;
  std::vector<int> order;
  paraxis::run_devices(3, {}, [&](paraxis::Communicator& comm) {
    TakeTurns turns(comm);
    for (int i = 0; i < kCalls; ++i) {
      turns.before_call();
      if (active.fetch_add(1) != 0) ++overlaps;
      {
        std::lock_guard<std::mutex> lock(m);
        order.push_back(comm.rank());
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(2));  // a call: the others must be waiting
      active.fetch_sub(1);
    }
    turns.finish(kCalls);
  });
  EXPECT_EQ(overlaps.load(), 0);
  ASSERT_EQ(order.size(), 3u * kCalls);
  for (size_t k = 0; k < order.size(); ++k) EXPECT_EQ(order[k], static_cast<int>(k % 3)) << "call " << k;
}

TEST(Measure, OnlyTheSelectedCallsAreMeasuredInTurns) {
  ShapeRateRounds m({{16, 32}, {32, 8}}, {4, 8}, 2,
                    [](int64_t in, int64_t, int64_t rows) { return in == 32 && rows == 8; });
  m.measure_round();
  m.measure_round();
  const ShapeRates r = m.result();
  ASSERT_EQ(r.points.size(), 4u);
  EXPECT_EQ(r.measurements, 9u);  // 4 alone, 4 at once, 1 in turns
  for (const ShapeRatePoint& p : r.points) {
    EXPECT_GT(p.together.forward, 0);
    if (p.in == 32 && p.rows == 8)
      EXPECT_GT(p.turns.backward_weight, 0);
    else
      EXPECT_EQ(p.turns.forward, 0) << p.in << " " << p.rows;
  }
}

TEST(Measure, RoundsSpacedByTheCaller) {
  ShapeRateRounds m({{16, 32}}, {4}, 2);
  EXPECT_ANY_THROW(m.result());  // no round yet
  m.measure_round();
  m.measure_round();
  EXPECT_EQ(m.rounds(), 2);
  const ShapeRates r = m.result();
  ASSERT_EQ(r.points.size(), 1u);
  EXPECT_GT(r.points[0].alone.backward_weight, 0);
  EXPECT_GT(r.points[0].together.backward_weight, 0);
  EXPECT_GT(r.points[0].turns.backward_weight, 0);
}

TEST(Measure, ThreadsLinkFromSmallestAndLargestMessage) {
  int sizes              = 0;
  const LinkProfile link = measure_threads_link([&](const MessagePoint& p2p, const MessagePoint& ar) {
    ++sizes;
    EXPECT_EQ(p2p.bytes, ar.bytes);
    EXPECT_GT(p2p.seconds, 0);
    EXPECT_GT(ar.seconds, 0);
  });
  EXPECT_EQ(sizes, 6);
  ASSERT_EQ(link.p2p_measured.size(), 6u);
  EXPECT_EQ(link.p2p_measured.front().bytes, 64);
  EXPECT_EQ(link.p2p_measured.back().bytes, 64.0 * (1 << 20));
  EXPECT_DOUBLE_EQ(link.latency_s, link.p2p_measured.front().seconds);
  EXPECT_GT(link.bandwidth, 0);
  EXPECT_TRUE(link.rendezvous);
  EXPECT_TRUE(link.shares_compute_core);
}

// What an in-run calibration measures: the very lookups predict_step makes in shape_rates.
TEST(Measure, LinearCallsAreThePredictionsLookups) {
  const std::vector<int64_t> sizes = {784, 3584, 4096, 4096, 10};
  const ModelDesc mlp              = describe_model(paraxis::ModelSpec::mlp(sizes));
  using paraxis::pipeline::ScheduleKind;
  Layout one;
  LinearCalls c = linear_calls(mlp, one, 256);
  EXPECT_EQ(c.shapes, mlp_linear_shapes(sizes, {1}));
  EXPECT_EQ(c.rows, (std::vector<int64_t>{256}));
  Layout tp2;
  tp2.tp = 2;
  c      = linear_calls(mlp, tp2, 256);
  EXPECT_EQ(c.shapes, mlp_linear_shapes(sizes, {2}));  // the Megatron shards
  Layout dp2;
  dp2.dp = 2;
  EXPECT_EQ(linear_calls(mlp, dp2, 256).rows, (std::vector<int64_t>{128}));
  Layout pipe;
  pipe.pp = 2, pipe.schedule = ScheduleKind::k1F1B, pipe.microbatches = 8;
  EXPECT_EQ(linear_calls(mlp, pipe, 256).rows, (std::vector<int64_t>{32}));
  pipe.defer_wgrad = true;  // the deferred weight gradient: one call over all micro-batches' rows
  EXPECT_EQ(linear_calls(mlp, pipe, 256).rows, (std::vector<int64_t>{32, 256}));
  // Only a pipeline's devices compute while the others wait: its calls are the ones measured in turns.
  EXPECT_EQ(linear_calls(mlp, pipe, 256).turn_shapes, mlp_linear_shapes(sizes, {1}));
  EXPECT_EQ(linear_calls(mlp, pipe, 256).turn_rows, (std::vector<int64_t>{32, 256}));
  for (const Layout& l : {one, tp2, dp2}) {
    EXPECT_TRUE(linear_calls(mlp, l, 256).turn_shapes.empty());
    EXPECT_TRUE(linear_calls(mlp, l, 256).turn_rows.empty());
  }
  // The union of layouts: each shape and rows once.
  c = linear_calls(mlp, one, 256);
  c.merge(linear_calls(mlp, tp2, 256));
  c.merge(linear_calls(mlp, pipe, 256));
  EXPECT_EQ(c.shapes, mlp_linear_shapes(sizes, {1, 2}));
  EXPECT_EQ(c.rows, (std::vector<int64_t>{32, 256}));
  EXPECT_EQ(c.turn_shapes, mlp_linear_shapes(sizes, {1}));  // the pipeline's, not the tp shards
  EXPECT_EQ(c.turn_rows, (std::vector<int64_t>{32, 256}));
  // A GPT's Linear blocks run on sequence × batch rows (its head: width → vocabulary).
  const ModelDesc gpt = describe_model(paraxis::ModelSpec::gpt(32, 8, 16, 2, 1));
  c                   = linear_calls(gpt, one, 4);
  ASSERT_FALSE(c.shapes.empty());
  EXPECT_EQ(c.shapes.back(), (std::pair<int64_t, int64_t>{16, 32}));
  EXPECT_EQ(c.rows, (std::vector<int64_t>{32}));
  // A layout that does not divide is the user's error.
  dp2.dp = 3;
  EXPECT_THROW(linear_calls(mlp, dp2, 256), paraxis::Error);
}

// The reuse distance an in-run calibration measures at: what one device touches between two calls on the same
// weights. MLP 784-256-10: fc1 200,704 + 256 and fc2 2,560 + 10 parameters (fp32, with their gradients: 8 bytes
// each); activations per sample: the 784 inputs, fc1's and relu1's 256 outputs, fc2's 10 (4 bytes each).
TEST(Measure, ReuseBytesAreADevicesWorkingSet) {
  const ModelDesc mlp = describe_model(paraxis::ModelSpec::mlp({784, 256, 10}));
  Layout one;
  EXPECT_DOUBLE_EQ(linear_calls(mlp, one, 256).reuse_bytes,
                   8.0 * 203530 + 4.0 * (784 + 256 + 256 + 10) * 256);  // 2,965,584
  // pp 2, m 8: rank 0 holds fc1 (the balanced cut: fc1 | relu1 fc2) on micro-batches of 32 samples.
  Layout pipe;
  pipe.pp = 2, pipe.schedule = paraxis::pipeline::ScheduleKind::k1F1B, pipe.microbatches = 8;
  EXPECT_DOUBLE_EQ(linear_calls(mlp, pipe, 256).reuse_bytes, 8.0 * (200704 + 256) + 4.0 * (784 + 256) * 32);
  Layout tp2;  // each device holds half of fc1 and fc2 (their Megatron shards)
  tp2.tp = 2;
  EXPECT_LT(linear_calls(mlp, tp2, 256).reuse_bytes, linear_calls(mlp, one, 256).reuse_bytes);
  LinearCalls c = linear_calls(mlp, pipe, 256);
  c.merge(linear_calls(mlp, one, 256));  // several layouts: the largest
  EXPECT_DOUBLE_EQ(c.reuse_bytes, linear_calls(mlp, one, 256).reuse_bytes);
}

// Buffer sets measure_layer_times cycles through: enough to span the reuse distance; a working set that one
// set covers repeats that set (operands in cache); no reuse distance flushes the last-level cache.
TEST(Measure, BufferSetsSpanTheReuseDistance) {
  EXPECT_EQ(buffer_sets(4e6, 3e6), 1);
  EXPECT_EQ(buffer_sets(1e6, 2.5e6), 3);
  EXPECT_EQ(buffer_sets(1.0, 1e12), 32);
  EXPECT_EQ(buffer_sets(1e6, 0), std::clamp(static_cast<int>(std::ceil(cache_flush_bytes() / 1e6)), 2, 32));
  EXPECT_GE(buffer_sets(1e15, 0), 2);
}

TEST(Measure, RunCalibrationPutsItsRatesIntoTheProfile) {
  const paraxis::ModelSpec spec = paraxis::ModelSpec::mlp({64, 96, 10});
  Layout dp2;
  dp2.dp         = 2;
  const auto hw0 = hardware_preset("cpu-this-machine");
  RunCalibration cal(linear_calls(describe_model(spec), dp2, 16), 2);
  EXPECT_GT(cal.measure_round(), 0);
  EXPECT_EQ(cal.rounds(), 1);
  std::string unsteady     = "not cleared";
  const HardwareProfile hw = cal.profile(hw0, false, "a test", unsteady);
  EXPECT_TRUE(unsteady.empty());         // tiny calls never count as unsteady
  ASSERT_EQ(hw.shape_rates.size(), 2u);  // 64 → 96 and 96 → 10, on 8 rows each
  for (const ShapeRatePoint& p : hw.shape_rates) {
    EXPECT_EQ(p.rows, 8);
    EXPECT_GT(p.alone.forward, 0);
    EXPECT_GT(p.together.backward_weight, 0);
    EXPECT_EQ(p.turns.forward, 0);  // dp2 is no pipeline: nothing measured in turns
  }
  EXPECT_GT(hw.memory_bandwidth, 0);
  EXPECT_GT(hw.memory_bandwidth_concurrent, 0);
  EXPECT_EQ(hw.intra_node.source, hw0.intra_node.source);  // no link measured when not asked
  EXPECT_NE(hw.name.find("measured in this run"), std::string::npos);
  // The prediction looks these rates up: a profile whose Linear rates are halved predicts a slower step.
  HardwareProfile slow = hw;
  for (ShapeRatePoint& p : slow.shape_rates)
    for (RowRatePoint* r : {&p.alone, &p.together})
      r->forward /= 2, r->backward_input /= 2, r->backward_weight /= 2;
  EXPECT_GT(predict_step(spec, dp2, 16, slow).step_s, predict_step(spec, dp2, 16, hw).step_s);
  const HardwareProfile linked = cal.profile(hw0, true, "a test", unsteady);
  EXPECT_NE(linked.intra_node.source.find("measured by a test"), std::string::npos);
}
