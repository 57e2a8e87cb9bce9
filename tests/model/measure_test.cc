// The measurements behind `paraxis calibrate`'s shape rates: which shapes a model's layers and their tensor-
// parallel shards have, how many calls a measurement makes, and that the measured figures come back for every
// shape, rows and pass (alone and at once), on tiny shapes.
#include "paraxis/model/measure.h"

#include <gtest/gtest.h>

using namespace paraxis::model;
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
  EXPECT_EQ(synced, 12);  // before every timed call, not the warm-ups
  EXPECT_EQ(measure_layer_times(8, 16, 24).pass[0].size(), static_cast<size_t>(calls_for(2.0 * 8 * 16 * 24)));
}

TEST(Measure, ShapeRatesForEveryShapeAndRowsAloneAndAtOnce) {
  const Shapes shapes  = {{16, 32}, {32, 8}};
  const ShapeRates two = measure_shape_rates(shapes, {4, 8}, 2, 2);
  ASSERT_EQ(two.points.size(), 4u);
  EXPECT_EQ(two.measurements, 8u);
  // Tiny calls (< 50 Mflop) never make the unsteady list, however much they swing.
  EXPECT_TRUE(two.unsteady.empty());
  size_t k = 0;
  for (auto [in, out] : shapes)
    for (int64_t rows : {4, 8}) {
      const ShapeRatePoint& p = two.points[k++];
      EXPECT_EQ(p.rows, rows);
      EXPECT_EQ(p.in, in);
      EXPECT_EQ(p.out, out);
      for (const RowRatePoint& r : {p.alone, p.together}) {
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
