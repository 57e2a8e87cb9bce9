// A convolution block priced at the measured rate of its own call (cost/conv.h): the call each conv block
// makes (whole image, a tp shard, each sp member's window), the rate lookup by samples, the pass time against
// hand-computed values, and the profile's conv_rates in JSON (old profiles without them still load).
#include <gtest/gtest.h>

#include <cmath>

#include "paraxis/cost/conv.h"
#include "paraxis/cost/hardware.h"
#include "paraxis/cost/planner.h"
#include "paraxis/nn/model.h"
#include "test_support/user_error.h"

namespace paraxis::cost {
namespace {

// A profile whose only conv rates are for `call` on 4 and 16 samples: 10 and 20 GFLOP/s alone (forward;
// input grad and weight grad a half and a quarter of it), 8 and 30 at once.
HardwareProfile with_conv_rates(Conv2dShape call) {
  HardwareProfile hw   = hardware_preset("cpu-this-machine");
  hw.kernel_overhead_s = 2e-6;
  hw.memory_bandwidth  = 1e15;  // memory never decides here
  auto point           = [&](int64_t n, double alone, double together) {
    call.n = n;
    return ConvRatePoint{call, {double(n), alone, alone / 2, alone / 4}, {double(n), together, 0, 0}, {}};
  };
  hw.conv_rates = {point(4, 10e9, 8e9), point(16, 20e9, 30e9)};
  return hw;
}

TEST(ConvCost, EveryConvBlockHasItsCallPerSample) {
  const ModelDesc cnn =
      describe_model(ModelSpec::cnn());  // 1x28x28: conv1 1->16 k5 p2, conv2 16->32 on 14x14
  ASSERT_TRUE(cnn.blocks[0].conv.has_value());
  EXPECT_EQ(*cnn.blocks[0].conv, (Conv2dShape{1, 1, 28, 28, 16, 5, 1, 2}));
  ASSERT_TRUE(cnn.blocks[3].conv.has_value());
  EXPECT_EQ(*cnn.blocks[3].conv, (Conv2dShape{1, 16, 14, 14, 32, 5, 1, 2}));
  for (int i : {1, 2, 4, 5, 6, 7}) EXPECT_FALSE(cnn.blocks[i].conv.has_value()) << cnn.blocks[i].name;
  // A micro-batch of 8 calls it with n = 8; Megatron's shards: conv1 column-parallel (outputs split), conv2
  // row-parallel (inputs split).
  EXPECT_EQ(device_conv(cnn.blocks[0], 1, 8), (Conv2dShape{8, 1, 28, 28, 16, 5, 1, 2}));
  EXPECT_EQ(device_conv(cnn.blocks[0], 2, 8).cout, 8);
  EXPECT_EQ(device_conv(cnn.blocks[3], 2, 8).cin, 8);
}

TEST(ConvCost, ConvCallsOfALayoutAreWhatTheCalibrationMeasures) {
  const ModelDesc cnn = describe_model(ModelSpec::cnn());
  Layout one;
  EXPECT_EQ(conv_calls(cnn, one, 8),
            (std::vector<Conv2dShape>{{8, 1, 28, 28, 16, 5, 1, 2}, {8, 16, 14, 14, 32, 5, 1, 2}}));
  EXPECT_EQ(linear_calls(cnn, one, 8).convs, conv_calls(cnn, one, 8));
  Layout dp2;
  dp2.dp = 2;
  EXPECT_EQ(linear_calls(cnn, dp2, 8).convs.front().n, 4);
  // sp 2: each member computes 14 of conv1's 28 output rows from an 18-row window (2 + 14 + 2, padding made
  // explicit: width 28 + 2·2, pad 0) and 7 of conv2's 14 from 11 rows (width 14 + 4); both members alike.
  Layout sp2;
  sp2.sp = 2;
  EXPECT_EQ(linear_calls(cnn, sp2, 8).convs,
            (std::vector<Conv2dShape>{{8, 1, 18, 32, 16, 5, 1, 0}, {8, 16, 11, 18, 32, 5, 1, 0}}));
}

TEST(ConvCost, RateInterpolatesInSamplesForThatCallOnly) {
  const Conv2dShape call{1, 3, 32, 32, 8, 3, 1, 1};
  const HardwareProfile hw = with_conv_rates(call);
  Conv2dShape at           = call;
  at.n                     = 8;  // halfway between 4 and 16 in log(n)
  EXPECT_DOUBLE_EQ(hw.conv_rate(PassKind::kForward, at, false), 15e9);
  EXPECT_DOUBLE_EQ(hw.conv_rate(PassKind::kBackwardInput, at, false), 7.5e9);
  EXPECT_DOUBLE_EQ(hw.conv_rate(PassKind::kBackwardWeight, at, false), 3.75e9);
  // At once: never above the rate alone (8 at 4 samples, 20 — not 30 — at 16).
  EXPECT_DOUBLE_EQ(hw.conv_rate(PassKind::kForward, at, true), 14e9);
  at.n = 64;  // clamped at the ends
  EXPECT_DOUBLE_EQ(hw.conv_rate(PassKind::kForward, at, false), 20e9);
  at.n = 8, at.k = 5;  // another call: not measured
  EXPECT_EQ(hw.conv_rate(PassKind::kForward, at, false), 0);
}

TEST(ConvCost, PassTimeAtTheMeasuredRateByHand) {
  BlockDesc blk;
  blk.name = "conv", blk.kind = "conv2d", blk.matmuls = 1;
  blk.conv                 = Conv2dShape{1, 3, 32, 32, 8, 3, 1, 1};
  const HardwareProfile hw = with_conv_rates(*blk.conv);
  // 3 GFLOP forward on 16 samples at 20 GFLOP/s: 0.15 s, plus the 2 us kernel call.
  EXPECT_DOUBLE_EQ(conv_pass_time(blk, 3e9, 0, 16, 1, PassKind::kForward, hw, {}), 0.15 + 2e-6);
  // Weight grad on 4 samples at 2.5 GFLOP/s, two threads: 1e9 / 5e9.
  EXPECT_DOUBLE_EQ(conv_pass_time(blk, 1e9, 0, 4, 1, PassKind::kBackwardWeight, hw, {.threads = 2}),
                   0.2 + 2e-6);
  // Memory-bound when its bytes take longer: 1e6 bytes at 1e9 B/s.
  HardwareProfile slow_memory  = hw;
  slow_memory.memory_bandwidth = 1e9;
  EXPECT_DOUBLE_EQ(conv_pass_time(blk, 1e6, 1e6, 16, 1, PassKind::kForward, slow_memory, {}), 1e-3 + 2e-6);
  // A call the profile has not measured: pass_time's rate by call size, as before.
  blk.conv->k = 5;
  EXPECT_DOUBLE_EQ(conv_pass_time(blk, 3e9, 0, 16, 1, PassKind::kForward, hw, {}),
                   pass_time(3e9, 0, 1, hw, 1, 1, PassKind::kForward));
}

TEST(ConvCost, PredictionUsesTheConvRates) {
  const ModelSpec spec = ModelSpec::cnn();
  const ModelDesc cnn  = describe_model(spec);
  Layout one;
  HardwareProfile hw = hardware_preset("cpu-this-machine");
  for (const Conv2dShape& c : conv_calls(cnn, one, 8))
    hw.conv_rates.push_back({c, {8, 4e9, 4e9, 4e9}, {}, {}});
  HardwareProfile slow = hw;
  for (ConvRatePoint& p : slow.conv_rates) p.alone.forward /= 2;
  // Halving both convolutions' forward rate adds their forward flops once more at 4 GFLOP/s.
  double conv_fwd = 0;
  for (int i : {0, 3}) conv_fwd += cnn.blocks[i].at_batch(8).fwd_flops;
  EXPECT_NEAR(predict_step(cnn, one, 8, slow).step_s - predict_step(cnn, one, 8, hw).step_s, conv_fwd / 4e9,
              1e-9);
}

TEST(ConvCost, ProfilesKeepTheirConvRatesAndOldOnesLoad) {
  const HardwareProfile hw   = with_conv_rates({1, 3, 32, 32, 8, 3, 2, 1});
  const HardwareProfile back = hardware_from_json(to_json(hw));
  ASSERT_EQ(back.conv_rates.size(), 2u);
  EXPECT_EQ(back.conv_rates[1].call, (Conv2dShape{16, 3, 32, 32, 8, 3, 2, 1}));
  EXPECT_DOUBLE_EQ(back.conv_rates[1].alone.backward_weight, 5e9);
  EXPECT_DOUBLE_EQ(back.conv_rates[0].together.forward, 8e9);
  nlohmann::json old = to_json(hw);
  old.erase("conv_rates");  // a profile written before convolutions were measured
  EXPECT_TRUE(hardware_from_json(old).conv_rates.empty());
  nlohmann::json bad   = to_json(hw);
  bad["conv_rates"][0] = {1, 3, 32, 32, 8, 3, 2, 1, 1e9};
  EXPECT_USER_ERROR(hardware_from_json(bad, "m.json"), "m.json", "conv_rates entry", "14 or 17 numbers",
                    "paraxis calibrate --model cnn");
  bad["conv_rates"][0]    = to_json(hw)["conv_rates"][0];
  bad["conv_rates"][0][8] = 0;  // no rate alone
  EXPECT_USER_ERROR(hardware_from_json(bad, "m.json"), "m.json", "positive rates alone");
}

}  // namespace
}  // namespace paraxis::cost
