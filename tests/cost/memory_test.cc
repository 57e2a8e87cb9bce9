// The memory model by hand and against the bytes a real run holds (Tensor's per-device accounting).
#include <gtest/gtest.h>

#include "paraxis/core/error.h"
#include "paraxis/cost/memory.h"
#include "paraxis/cost/planner.h"
#include "paraxis/cost/precision.h"
#include "paraxis/nn/model.h"
#include "paraxis/pipeline/dry_run.h"
#include "paraxis/pipeline/generators.h"

namespace paraxis::cost {
namespace {

// One device, one micro-batch: the stash holds one micro-batch.
const pipeline::Schedule kOne = pipeline::generate_schedule({pipeline::ScheduleKind::kGPipe, 1, 1});

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
  MemoryEstimate m      = estimate_memory(d, l, /*micro_batch=*/1, cuts, kOne, fp32_profile());
  EXPECT_DOUBLE_EQ(m.params, 58 * 4);
  EXPECT_DOUBLE_EQ(m.grads, 58 * 4);
  EXPECT_DOUBLE_EQ(m.optimizer, 58 * 8);  // AdamW m and v in fp32
  l.optimizer = "sgd";
  EXPECT_DOUBLE_EQ(estimate_memory(d, l, 1, cuts, kOne, fp32_profile()).optimizer, 58 * 4);
  // bf16 on a CPU: fp32 weights and the 2-byte rounded copy the matmuls read.
  HardwareProfile cpu_bf16     = fp32_profile();
  cpu_bf16.bf16_matmul_speedup = 1.5;
  EXPECT_DOUBLE_EQ(estimate_memory(d, l, 1, cuts, kOne, at_precision(cpu_bf16, "bf16").hw).params, 58 * 6);
  // Mixed precision (bf16 preset): bf16 weights, fp32 gradients (Megatron-LM's main_grad), fp32 master + m + v:
  // 2 + 4 + 12 = 18 bytes per parameter (Korthikanti et al. 2022, Fig. 1).
  l.optimizer      = "adamw";
  MemoryEstimate h = estimate_memory(d, l, 1, cuts, kOne, hardware_preset("h100-sxm"));
  EXPECT_DOUBLE_EQ(h.params + h.grads + h.optimizer, 58 * 18);
  // ZeRO-1 shards the optimizer state over dp.
  l.dp    = 4;
  l.zero1 = true;
  EXPECT_DOUBLE_EQ(estimate_memory(d, l, 1, cuts, kOne, hardware_preset("h100-sxm")).optimizer,
                   58 * 12 / 4.0);
}

TEST(Memory, StashFollowsTheSchedule) {
  ModelDesc d = describe_model(ModelSpec::mlp({64, 64, 64, 64, 10}));
  const int p = 2, m = 8;
  auto stash = [&](pipeline::ScheduleKind k) { return pipeline::generate_schedule({k, p, m}); };
  EXPECT_EQ(pipeline::dry_run(stash(pipeline::ScheduleKind::kGPipe)).peak_stash, (std::vector<int>{m, m}));
  EXPECT_EQ(pipeline::dry_run(stash(pipeline::ScheduleKind::k1F1B)).peak_stash,
            (std::vector<int>{2, 1}));  // p − r on stage r
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
  MemoryEstimate est    = estimate_memory(d, l, b, cuts, pipeline::generate_gpipe(1, m), fp32_profile());
  EXPECT_DOUBLE_EQ(static_cast<double>(state_bytes), est.params + est.grads);
  // Stashed activations (inputs included) plus the logits kept: within 15% of the prediction.
  const double predicted = est.activations + m * d.blocks.back().out_bytes_per_sample * b;
  EXPECT_NEAR(static_cast<double>(stash_peak) / predicted, 1.0, 0.15)
      << "measured " << stash_peak << " predicted " << predicted;
}

}  // namespace
}  // namespace paraxis::cost
