// A Megatron GPT layer kernel by kernel (transformer.h): the kernel lists' sizes and the activation memory
// against Korthikanti et al. 2022 (Table 2), worked by hand.
#include <gtest/gtest.h>

#include <numeric>

#include "paraxis/cost/transformer.h"

namespace paraxis::cost {
namespace {

// GPT-3 175B's layer (Brown et al. 2020; Megatron's vocabulary 51,200).
const TransformerDims k175b{.hidden = 12288, .heads = 96, .seq = 2048, .ffn = 4 * 12288, .vocab = 51200};

double sum(const std::vector<double>& v) {
  return std::accumulate(v.begin(), v.end(), 0.0);
}
double flops(const PassKernels& k) {
  double f = 0;
  for (const Gemm& g : k.gemms) f += g.flops();
  return f;
}

TEST(Transformer, GemmFlopsAreMegatrons) {
  // Forward: 24·b·s·h² + 4·b·s²·h per layer (Narayanan et al. 2021), divided by tp.
  const MegatronOptions o{.tp = 8};
  const double s = 2048, h = 12288, b = 2;
  EXPECT_NEAR(flops(layer_forward(k175b, b, o, 2)), (24 * b * s * h * h + 4 * b * s * s * h) / 8, 1e3);
  // The input gradient twice the attention products (q·kᵀ and p·v each have two), the weight gradient
  // the four linears once more.
  EXPECT_NEAR(flops(layer_backward_input(k175b, b, o, 2)), (24 * b * s * h * h + 8 * b * s * s * h) / 8, 1e3);
  EXPECT_NEAR(flops(layer_backward_weight(k175b, b, o, 2)), 24 * b * s * h * h / 8, 1e3);
  // Selective recompute adds the attention core's forward to the backward.
  MegatronOptions sel     = o;
  sel.selective_recompute = true;
  EXPECT_NEAR(flops(layer_backward_input(k175b, b, sel, 2)) - flops(layer_backward_input(k175b, b, o, 2)),
              4 * b * s * s * h / 8, 1e3);
}

TEST(Transformer, MemoryKernelsByHand) {
  // The forward's memory-bound kernels at tp 8, b 1, bf16. T = 2048 tokens, h/t = 1536, f/t = 6144,
  // scores z = 12 heads × 2048² per device. Without sequence parallelism every tp rank repeats LayerNorm,
  // dropout and the residual on all T·h elements:
  //   2 LayerNorms 2·T·h·2, 2 bias-dropout-adds T·h·(3·2 + 1), softmax 2·z·2, dropout z·(2·2 + 1),
  //   permute 2·T·(h/t)·2, bias-GELU 2·T·(f/t)·2.
  const double T = 2048, h = 12288, z = 12 * 2048.0 * 2048;
  const double shared = 2 * (2 * T * h * 2) + 2 * (T * h * 7);
  const double rest   = 2 * z * 2 + z * 5 + 2 * T * 1536 * 2 + 2 * T * 6144 * 2;
  EXPECT_NEAR(sum(layer_forward(k175b, 1, {.tp = 8}, 2).memory_kernels), shared + rest, 1);
  // Sequence parallelism splits exactly the shared part over the 8 ranks.
  EXPECT_NEAR(sum(layer_forward(k175b, 1, {.tp = 8, .sequence_parallel = true}, 2).memory_kernels),
              shared / 8 + rest, 1);
}

TEST(Transformer, CollectivesAllReduceOrGatherAndScatter) {
  const double bytes = 2048.0 * 12288 * 2;  // T·h in bf16
  PassKernels f      = layer_forward(k175b, 1, {.tp = 8}, 2);
  EXPECT_EQ(f.all_reduce, std::vector<double>(2, bytes));
  EXPECT_TRUE(f.all_gather.empty() && f.reduce_scatter.empty());
  const MegatronOptions sp{.tp = 8, .sequence_parallel = true};
  f = layer_forward(k175b, 1, sp, 2);
  EXPECT_TRUE(f.all_reduce.empty());
  EXPECT_EQ(f.all_gather.size(), 2u);
  EXPECT_EQ(f.reduce_scatter.size(), 2u);
  // The backward gathers the two LayerNorm outputs once more for the weight gradients.
  const PassKernels bwd = layer_backward_input(k175b, 1, sp, 2);
  EXPECT_EQ(bwd.all_gather, std::vector<double>(4, bytes));
  EXPECT_EQ(bwd.reduce_scatter.size(), 2u);
  EXPECT_TRUE(layer_forward(k175b, 1, {.tp = 1, .sequence_parallel = true}, 2).all_gather.empty());
}

TEST(Transformer, ActivationMemoryIsKorthikantisTable2) {
  // s·b·h = 2048 · 1 · 12288; 5·a·s/h = 5·96·2048/12288 = 80.
  const double sbh = 2048.0 * 12288;
  EXPECT_NEAR(layer_activation_bytes(k175b, 1, {.tp = 1}, false), sbh * (34 + 80), 1);
  EXPECT_NEAR(layer_activation_bytes(k175b, 1, {.tp = 8}, false), sbh * (10 + 24.0 / 8 + 80.0 / 8), 1);
  EXPECT_NEAR(layer_activation_bytes(k175b, 1, {.tp = 8, .sequence_parallel = true}, false),
              sbh * (34.0 / 8 + 80.0 / 8), 1);
  EXPECT_NEAR(layer_activation_bytes(k175b, 1, {.tp = 8, .selective_recompute = true}, false),
              sbh * (10 + 24.0 / 8), 1);
  EXPECT_NEAR(layer_activation_bytes(
                  k175b, 1, {.tp = 8, .sequence_parallel = true, .selective_recompute = true}, false),
              sbh * 34.0 / 8, 1);
  EXPECT_NEAR(layer_activation_bytes(k175b, 1, {.tp = 8}, true), 2 * sbh, 1);
  EXPECT_NEAR(layer_activation_bytes(k175b, 1, {.tp = 8, .sequence_parallel = true}, true), 2 * sbh / 8, 1);
  EXPECT_NEAR(layer_activation_bytes(k175b, 4, {.tp = 8, .sequence_parallel = true}, true), 8 * sbh / 8, 1);
}

}  // namespace
}  // namespace paraxis::cost
