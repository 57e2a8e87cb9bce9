// predict_step composes the pieces as documented; the planner rejects what does not divide or fit, with the
// reason, and ranks the rest by predicted step time.
#include <gtest/gtest.h>

#include "paraxis/core/error.h"
#include "paraxis/cost/planner.h"
#include "test_support/user_error.h"

namespace paraxis::cost {
namespace {

using pipeline::ScheduleKind;

TEST(Predict, OneDeviceIsTheSumOfItsPasses) {
  HardwareProfile hw = hardware_preset("cpu-this-machine");
  ModelDesc d        = describe_model(ModelSpec::mlp({784, 256, 10}));
  Layout l;
  PredictedStep p = predict_step(d, l, 64, hw);
  double passes   = 0;
  for (size_t i = 0; i < d.blocks.size(); ++i) {
    const BlockDesc& b = d.blocks[i];
    Cost c             = b.at_batch(64);
    passes += pass_time(c.fwd_flops, c.fwd_bytes, b.matmuls, hw) +
              pass_time(c.bwd_weight_flops, c.bwd_weight_bytes, b.matmuls, hw);
    if (i > 0)  // the first Linear computes no input gradient (the data needs none)
      passes += pass_time(c.bwd_input_flops, c.bwd_input_bytes, b.matmuls, hw);
  }
  // + the loss (memory-bound) and the fused AdamW step: p, g, m, v read, p, m, v, g written (8 passes).
  const double logits = 4.0 * 10 * 64;  // bytes of the logits
  const double loss   = pass_time(5.0 * logits / 4.0, 3.0 * logits, 0, hw);
  const double opt = static_cast<double>(d.num_params()) * 4 * 8 / hw.memory_bandwidth + hw.kernel_overhead_s;
  EXPECT_NEAR(p.step_s, passes + loss + opt, 1e-12);
  // Clipping reads the gradients once more for their norm; SGD with momentum is 6 passes.
  Layout clip{.clip = true};
  EXPECT_NEAR(predict_step(d, clip, 64, hw).step_s - p.step_s,
              static_cast<double>(d.num_params()) * 4 / hw.memory_bandwidth, 1e-12);
  Layout sgd{.optimizer = "sgd"};
  EXPECT_NEAR(p.step_s - predict_step(d, sgd, 64, hw).step_s,
              static_cast<double>(d.num_params()) * 4 * 2 / hw.memory_bandwidth, 1e-12);
  EXPECT_DOUBLE_EQ(p.compute_s, p.step_s);  // one device, nothing to wait for
  EXPECT_NEAR(p.bubble, 0.0, 1e-12);
  EXPECT_EQ(p.micro_batch, 64);
  EXPECT_EQ(p.trace.num_devices(), 1);
}

TEST(Predict, PipeliningShortensTheStepAndPlacementDoesNot) {
  HardwareProfile hw = hardware_preset("cpu-this-machine");
  ModelDesc d        = describe_model(ModelSpec::mlp({784, 1024, 1024, 1024, 10}));
  Layout one;
  Layout placement{.pp = 2};  // m = 1: the stages take turns
  Layout ofob{.pp = 2, .schedule = ScheduleKind::k1F1B, .microbatches = 8};
  const double t1 = predict_step(d, one, 2048, hw).step_s;
  const double tp = predict_step(d, placement, 2048, hw).step_s;
  const double to = predict_step(d, ofob, 2048, hw).step_s;
  EXPECT_GT(tp, t1 * 0.95);  // placement: no speedup (and a transfer)
  EXPECT_LT(to, tp * 0.8);   // 1F1B m 8 overlaps the two stages
  PredictedStep p = predict_step(d, ofob, 2048, hw);
  EXPECT_NEAR(p.bubble, 1.0 / 9.0, 0.15);  // near (p−1)/(m+p−1) with balanced stages
}

TEST(Predict, GradientBucketsAreTheEnginesAndLaunchWhenTheirBlocksAreFinal) {
  // The engine lays the parameters out last block first (fc3.w, fc3.b, fc2.w, fc2.b, fc1.w, fc1.b) and
  // opens a new bucket when the current one holds 1 MiB: [fc3.w 2 MiB] [fc3.b fc2.w 4 MiB] [fc2.b fc1.w
  // fc1.b].
  HardwareProfile hw = hardware_preset("cpu-this-machine");
  ModelDesc d        = describe_model(ModelSpec::mlp({256, 512, 1024, 512}));
  Layout l{.dp = 2};
  l.bucket_bytes  = 1024.0 * 1024;
  PredictedStep p = predict_step(d, l, 64, hw);
  std::vector<int64_t> bytes;
  for (const trace::Event& e : p.trace.events[0])
    if (e.kind == trace::Kind::kAllReduce) bytes.push_back(e.bytes);
  // The weight passes run last block first: fc3 completes the first bucket, fc2 the second, fc1 the third.
  const std::vector<int64_t> want = {4 * (1024 * 512), 4 * (512 + 512 * 1024), 4 * (1024 + 256 * 512 + 512)};
  EXPECT_EQ(bytes, want);
  // ZeRO-1: the engine reduce-scatters the whole gradient once, after the backward.
  l.zero1 = true;
  p       = predict_step(d, l, 64, hw);
  bytes.clear();
  for (const trace::Event& e : p.trace.events[0])
    if (e.kind == trace::Kind::kAllReduce || e.kind == trace::Kind::kReduceScatter) bytes.push_back(e.bytes);
  EXPECT_EQ(bytes, (std::vector<int64_t>{4 * d.num_params()}));
}

TEST(Predict, LayoutsThatDoNotDivideAreUserErrors) {
  HardwareProfile hw = hardware_preset("h100-sxm");
  ModelDesc g        = gpt_symbolic({.layers = 4, .hidden = 256, .heads = 8, .seq = 64, .vocab = 1000});
  auto message       = [&](Layout l, int64_t batch) {
    return ::paraxis::testing::user_error([&] { predict_step(g, l, batch, hw, false); });
  };
  EXPECT_NE(message({.dp = 3}, 32).find("not divisible by dp·m"), std::string::npos);
  EXPECT_NE(message({.tp = 3}, 32).find("tp 3 does not divide 8 attention heads"), std::string::npos);
  EXPECT_NE(message({.pp = 8}, 32).find("exceed the model's 7 blocks"), std::string::npos);
  EXPECT_NE(
      message({.pp = 2, .schedule = ScheduleKind::kInterleaved1F1B, .microbatches = 3, .virtual_stages = 2},
              48)
          .find("m a multiple of pp"),
      std::string::npos);
}

TEST(Planner, RejectsWhatDoesNotFitOrDivideWithTheReason) {
  HardwareProfile hw = hardware_preset("h100-sxm");
  ModelDesc g        = gpt_symbolic(parse_gpt_size("gpt-13b"));
  PlanOptions opt;
  opt.devices           = 8;
  opt.global_batch      = 24;
  opt.memory_per_device = 1e9;  // 1 GB: nothing holds 13B parameters
  PlanResult none       = make_plan(g, opt, hw);
  EXPECT_TRUE(none.ranked.empty());
  ASSERT_FALSE(none.rejected.empty());
  bool fit = false, divide = false;
  for (const Rejection& r : none.rejected) {
    fit    = fit || r.reason.find("does not fit: needs") != std::string::npos;
    divide = divide || r.reason.find("does not divide: global batch 24") != std::string::npos;
  }
  EXPECT_TRUE(fit);
  EXPECT_TRUE(divide);  // dp 8 × micro-batch 4 = 32 does not divide 24
  EXPECT_NE(format_plan(none).find("no layout fits"), std::string::npos);

  opt.memory_per_device = 0;  // the preset's 80 GB
  PlanResult plan       = make_plan(g, opt, hw);
  ASSERT_GE(plan.ranked.size(), 2u);
  for (size_t i = 1; i < plan.ranked.size(); ++i) EXPECT_LE(plan.ranked[i - 1].step_s, plan.ranked[i].step_s);
  for (const auto& p : plan.ranked) {
    EXPECT_LE(p.memory.total(), 80e9);
    EXPECT_EQ(p.layout.devices(), 8);
    EXPECT_EQ(24 % (p.layout.dp * p.layout.microbatches), 0);
  }
  EXPECT_NE(plan.why.find("wins"), std::string::npos);
  const std::string text = format_plan(plan);
  EXPECT_NE(text.find("predicted"), std::string::npos);
  EXPECT_NE(text.find("rejected:"), std::string::npos);
}

TEST(Planner, TensorParallelismMustDivideTheHeads) {
  HardwareProfile hw = hardware_preset("a100-80gb");
  ModelDesc g        = gpt_symbolic({.layers = 4, .hidden = 384, .heads = 6, .seq = 128, .vocab = 1000});
  PlanOptions opt;
  opt.devices      = 4;
  opt.global_batch = 16;
  PlanResult plan  = make_plan(g, opt, hw);
  for (const auto& p : plan.ranked) EXPECT_NE(p.layout.tp, 4);
  bool said = false;
  for (const Rejection& r : plan.rejected)
    said = said || r.reason == "does not divide: tp 4 does not divide 6 attention heads";
  EXPECT_TRUE(said);
}

}  // namespace
}  // namespace paraxis::cost
