// The arithmetic of `paraxis calibrate`: rates from timed calls, the lockstep pace of devices measured at
// once (per call the slowest device, then the median), and the median over rounds — hand-computed values.
#include "paraxis/measure/calibration.h"

#include <gtest/gtest.h>

using namespace paraxis::cost;
using namespace paraxis::measure;

TEST(Calibration, RatesAreFlopsOverTheMedianCall) {
  PassTimes t;
  t.rows         = 32;
  t.flops        = 1e9;
  t.pass[0]      = {0.5, 0.1, 0.2};       // median 0.2 s -> 5 GFLOP/s
  t.pass[1]      = {0.25, 0.25, 1.0};     // 0.25 -> 4
  t.pass[2]      = {0.1, 0.4, 0.3, 0.2};  // upper middle of four: 0.3 -> 3.33
  RowRatePoint r = rates_of(t);
  EXPECT_DOUBLE_EQ(r.rows, 32);
  EXPECT_DOUBLE_EQ(r.forward, 5e9);
  EXPECT_DOUBLE_EQ(r.backward_input, 4e9);
  EXPECT_DOUBLE_EQ(r.backward_weight, 1e9 / 0.3);
}

TEST(Calibration, LockstepIsPacedByTheSlowerDeviceOfEachCall) {
  // Device 0 is slow on calls 0 and 1, device 1 on call 2: per call the slower is 0.3, 0.4, 0.5, so the
  // lockstep median is 0.4 s although each device's own median is 0.2 s (mean-of-devices rate 5 GFLOP/s).
  PassTimes a, b;
  a.flops = b.flops = 1e9;
  for (int k = 0; k < 3; ++k) {
    a.pass[k] = {0.3, 0.4, 0.2};
    b.pass[k] = {0.2, 0.2, 0.5};
  }
  RowRatePoint r = lockstep_rates({a, b});
  EXPECT_DOUBLE_EQ(r.forward, 1e9 / 0.4);
  EXPECT_DOUBLE_EQ(r.backward_input, 1e9 / 0.4);
  EXPECT_DOUBLE_EQ(r.backward_weight, 1e9 / 0.4);
  EXPECT_DOUBLE_EQ(rates_of(a).forward, 1e9 / 0.3);
  EXPECT_DOUBLE_EQ(rates_of(b).forward, 1e9 / 0.2);
  EXPECT_EQ(lockstep_seconds({{1, 5}, {3, 2}}), (std::vector<double>{3, 5}));
}

TEST(Calibration, LockstepNeedsTheSameCalls) {
  EXPECT_ANY_THROW(lockstep_seconds({{1, 2}, {1}}));
  EXPECT_ANY_THROW(lockstep_seconds({}));
}

TEST(Calibration, MedianOverRoundsPerPass) {
  RowRatePoint r1{16, 1, 10, 100}, r2{16, 3, 30, 300}, r3{16, 2, 50, 200};
  RowRatePoint m = median_rates({r1, r2, r3});
  EXPECT_DOUBLE_EQ(m.rows, 16);
  EXPECT_DOUBLE_EQ(m.forward, 2);
  EXPECT_DOUBLE_EQ(m.backward_input, 30);
  EXPECT_DOUBLE_EQ(m.backward_weight, 200);
  RowRatePoint e = median_rates({r1, r2});  // even: the mean of the two
  EXPECT_DOUBLE_EQ(e.forward, 2);
  EXPECT_DOUBLE_EQ(e.backward_weight, 200);
}

TEST(Calibration, RoundSpreadIsTheWorstPassRatio) {
  RowRatePoint a{32, 100, 50, 40}, b{32, 110, 25, 40}, c{32, 90, 50, 44};
  EXPECT_DOUBLE_EQ(round_spread({a}), 0);
  EXPECT_DOUBLE_EQ(round_spread({a, b, c}), 1.0);  // input grad 50 vs 25
  EXPECT_NEAR(round_spread({a, c}), 100.0 / 90 - 1, 1e-12);
}

TEST(Calibration, SpreadIsLargestOverSmallest) {
  EXPECT_DOUBLE_EQ(spread_of({}), 0);
  EXPECT_DOUBLE_EQ(spread_of({371.3}), 0);
  EXPECT_NEAR(spread_of({489.3, 872.3, 371.3}), 872.3 / 371.3 - 1, 1e-12);
  EXPECT_DOUBLE_EQ(spread_of({2, 2}), 0);
}

TEST(Calibration, MedianMeanTakesTheMiddleTwoOfAnEvenCount) {
  EXPECT_DOUBLE_EQ(median_mean({3, 1, 2}), 2);
  EXPECT_DOUBLE_EQ(median_mean({4, 1, 3, 2}), 2.5);
  EXPECT_ANY_THROW(median_mean({}));
}
