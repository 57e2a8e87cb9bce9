// The memory model by hand and against the bytes a real run holds (Tensor's per-device accounting).
#include <gtest/gtest.h>

#include "paraxis/core/error.h"
#include "paraxis/cost/memory.h"
#include "paraxis/cost/planner.h"
#include "paraxis/nn/model.h"
#include "paraxis/pipeline/dry_run.h"
#include "paraxis/pipeline/generators.h"

namespace paraxis::cost {
namespace {

HardwareProfile fp32_profile() {
  HardwareProfile hw   = hardware_preset("cpu-this-machine");
  hw.bytes_per_element = 4;
  return hw;
}

TEST(Memory, ModelStateByHand) {
  // mlp 4-8-2: 4·8 + 8 + 8·2 + 2 = 58 parameters.
  ModelDesc d = describe_model(ModelSpec::mlp({4, 8, 2}));
  Layout l;
  std::vector<int> cuts = {0, static_cast<int>(d.blocks.size())};
  MemoryEstimate m      = estimate_memory(d, l, /*micro_batch=*/1, cuts, {1}, fp32_profile());
  EXPECT_DOUBLE_EQ(m.params, 58 * 4);
  EXPECT_DOUBLE_EQ(m.grads, 58 * 4);
  EXPECT_DOUBLE_EQ(m.optimizer, 58 * 8);  // AdamW m and v in fp32
  l.optimizer = "sgd";
  EXPECT_DOUBLE_EQ(estimate_memory(d, l, 1, cuts, {1}, fp32_profile()).optimizer, 58 * 4);
  // Mixed precision (bf16 preset): 2 + 2 + 12 = 16 bytes per parameter (ZeRO's 16Ψ).
  l.optimizer      = "adamw";
  MemoryEstimate h = estimate_memory(d, l, 1, cuts, {1}, hardware_preset("h100-sxm"));
  EXPECT_DOUBLE_EQ(h.params + h.grads + h.optimizer, 58 * 16);
  // ZeRO-1 shards the optimizer state over dp.
  l.dp    = 4;
  l.zero1 = true;
  EXPECT_DOUBLE_EQ(estimate_memory(d, l, 1, cuts, {1}, hardware_preset("h100-sxm")).optimizer, 58 * 12 / 4.0);
}

TEST(Memory, StashFollowsTheSchedule) {
  ModelDesc d = describe_model(ModelSpec::mlp({64, 64, 64, 64, 10}));
  const int p = 2, m = 8;
  auto stash = [&](pipeline::ScheduleKind k) {
    return pipeline::dry_run(pipeline::generate_schedule({k, p, m})).peak_stash;
  };
  EXPECT_EQ(stash(pipeline::ScheduleKind::kGPipe), (std::vector<int>{m, m}));
  EXPECT_EQ(stash(pipeline::ScheduleKind::k1F1B), (std::vector<int>{2, 1}));  // p − r on stage r
  Layout l;
  l.pp                  = p;
  std::vector<int> cuts = {0, 4, static_cast<int>(d.blocks.size())};
  const double gpipe =
      estimate_memory(d, l, 16, cuts, stash(pipeline::ScheduleKind::kGPipe), fp32_profile()).activations;
  const double ofob =
      estimate_memory(d, l, 16, cuts, stash(pipeline::ScheduleKind::k1F1B), fp32_profile()).activations;
  EXPECT_NEAR(gpipe / ofob, m / 2.0, 1e-9);  // stage 0 is the larger holder: 8 vs 2 micro-batches
  l.recompute = true;
  const double reco =
      estimate_memory(d, l, 16, cuts, stash(pipeline::ScheduleKind::kGPipe), fp32_profile()).activations;
  EXPECT_LT(reco, gpipe / 2);
}

// Runs m forwards of a real mlp on one device, stashing every micro-batch (GPipe's peak), and compares the
// bytes held with the model's prediction.
TEST(Memory, AgreesWithMeasuredPeakBytes) {
  ModelSpec spec  = ModelSpec::mlp({784, 512, 512, 10});
  const int64_t b = 32;
  const int m     = 4;
  set_current_device(0);
  reset_peak_memory(0);
  const int64_t before = memory_stats(0).current_bytes;
  int64_t state_bytes = 0, stash_peak = 0;
  {
    auto model = build_model(spec);
    model->init(1);
    state_bytes        = memory_stats(0).current_bytes - before;  // params + grads
    const int64_t base = memory_stats(0).current_bytes;
    reset_peak_memory(0);
    std::vector<Tensor> inputs;  // the micro-batches a stage holds until their backward (fc1 keeps them)
    for (int k = 0; k < m; ++k) inputs.push_back(Tensor::zeros({b, 784}));
    std::vector<std::vector<Ctx>> ctx(m);
    std::vector<Tensor> outs;
    for (int k = 0; k < m; ++k) outs.push_back(model->forward(ctx[k], inputs[k]));
    stash_peak = memory_stats(0).peak_bytes - base;
  }
  set_current_device(-1);
  ModelDesc d = describe_model(spec);
  Layout l;
  l.optimizer           = "sgd";
  std::vector<int> cuts = {0, static_cast<int>(d.blocks.size())};
  MemoryEstimate est    = estimate_memory(d, l, b, cuts, {m}, fp32_profile());
  EXPECT_DOUBLE_EQ(static_cast<double>(state_bytes), est.params + est.grads);
  // Stashed activations (inputs included) plus the logits kept: within 15% of the prediction.
  const double predicted = est.activations + m * d.blocks.back().out_bytes_per_sample * b;
  EXPECT_NEAR(static_cast<double>(stash_peak) / predicted, 1.0, 0.15)
      << "measured " << stash_peak << " predicted " << predicted;
}

}  // namespace
}  // namespace paraxis::cost
