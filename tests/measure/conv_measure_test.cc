// The convolution calls' measurements (measure.h): one time per call and pass, the rounds' convolution rates
// beside the Linear ones, and an in-run calibration of a CNN putting them into the profile its prediction uses.
#include <gtest/gtest.h>

#include "paraxis/cost/conv.h"
#include "paraxis/measure/measure.h"

using namespace paraxis;
using namespace paraxis::cost;
using namespace paraxis::measure;

TEST(Measure, ConvTimesHaveOneTimePerCallAndPass) {
  const Conv2dShape s{2, 3, 8, 8, 4, 3, 1, 1};
  int synced        = 0;
  const PassTimes t = measure_conv_times(s, 4, [&] { ++synced; });
  EXPECT_DOUBLE_EQ(t.rows, 2);
  EXPECT_DOUBLE_EQ(t.flops, 2.0 * 2 * 4 * 8 * 8 * 3 * 3 * 3);  // 2 · N · Cout · OH · OW · Cin · K²
  EXPECT_DOUBLE_EQ(conv_call_flops({1, 1, 9, 9, 2, 3, 2, 0}), 2.0 * 2 * 4 * 4 * 9);  // OH = OW = 4
  for (const auto& pass : t.pass) {
    ASSERT_EQ(pass.size(), 4u);
    for (double sec : pass) EXPECT_GT(sec, 0);
  }
  EXPECT_EQ(synced, 15);  // before every call: 3 passes × (warm-up + 4 timed)
}

TEST(Measure, RoundsMeasureConvCallsBesideTheLinearOnes) {
  const std::vector<Conv2dShape> convs = {{2, 3, 8, 8, 4, 3, 1, 1}, {2, 4, 8, 8, 4, 3, 2, 1}};
  ShapeRateRounds m({{16, 32}}, {4}, 2, nullptr, 0, convs,
                    [](const Conv2dShape& c) { return c.stride == 2; });
  m.measure_round();
  const ShapeRates r = m.result();
  ASSERT_EQ(r.points.size(), 1u);
  ASSERT_EQ(r.convs.size(), 2u);
  EXPECT_EQ(r.measurements, 3u * 2 + 2);  // alone and at once each; in turns the Linear and the stride-2 conv
  for (size_t i = 0; i < 2; ++i) {
    EXPECT_EQ(r.convs[i].call, convs[i]);
    EXPECT_GT(r.convs[i].alone.backward_weight, 0);
    EXPECT_GT(r.convs[i].together.backward_input, 0);
  }
  EXPECT_EQ(r.convs[0].turns.forward, 0);
  EXPECT_GT(r.convs[1].turns.forward, 0);
  const ShapeRates only = measure_shape_rates({}, {}, 1, 1, convs);  // calibrate --model: convolutions only
  EXPECT_TRUE(only.points.empty());
  ASSERT_EQ(only.convs.size(), 2u);
  EXPECT_EQ(only.convs[1].together.forward, 0);  // one device: nothing at once
}

TEST(Measure, RunCalibrationOfACnnMeasuresItsConvCalls) {
  ModelSpec spec = ModelSpec::cnn(4, 8, 16, 10);
  spec.image     = {1, 12, 12};
  Layout one;
  const ModelDesc cnn = describe_model(spec);
  RunCalibration cal(linear_calls(cnn, one, 2), 1);
  cal.measure_round();
  std::string unsteady;
  const HardwareProfile hw = cal.profile(hardware_preset("cpu-this-machine"), false, "a test", unsteady);
  ASSERT_EQ(hw.conv_rates.size(), 2u);
  EXPECT_EQ(hw.conv_rates[0].call, conv_calls(cnn, one, 2)[0]);
  for (const Conv2dShape& c : conv_calls(cnn, one, 2))
    EXPECT_GT(hw.conv_rate(PassKind::kBackwardInput, c, false), 0);
}
