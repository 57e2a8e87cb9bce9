// paraxis/cost/transformer.h — a Megatron-LM GPT layer priced kernel by kernel: its GEMMs at their shapes'
// efficiency (gemm.h), its memory-bound kernels by the bytes they move, its tensor-parallel collectives.
//
//   TransformerDims d{.hidden = 12288, .heads = 96, .seq = 2048, .ffn = 49152, .vocab = 51200};
//   MegatronOptions o{.tp = 8, .sequence_parallel = true, .selective_recompute = true};
//   LayerPassTimes t = layer_pass_times(d, /*micro_batch=*/1, o, hardware_preset("a100-80gb"));
//   t.forward; t.backward_input; t.backward_weight;   // seconds per micro-batch, collectives included
//
// The kernels are those of Megatron-LM's GPT layer (Shoeybi et al. 2019; Narayanan et al. 2021;
// Korthikanti et al. 2022, "Reducing Activation Recomputation in Large Transformer Models", §4): LayerNorm,
// the column-parallel QKV GEMM, q·kᵀ and p·v as batched GEMMs over the device's a/t heads, the fused
// scale-mask-softmax, attention dropout, the context's permute to [s, b, h/t], the row-parallel projection,
// fused bias-dropout-add, LayerNorm, the column-parallel fc1 with fused bias-GELU, the row-parallel fc2 and
// bias-dropout-add. T = b·s tokens, t = tp, elements of e bytes (bf16: 2), dropout masks 1 byte per element.
// LayerNorm, dropout and residual adds run on T·h/t elements with sequence parallelism, on T·h without
// (every tp rank repeats them). Collectives per layer on T·h·e bytes: without sequence parallelism two
// all-reduces forward and two backward; with it an all-gather and a reduce-scatter in place of each, plus two
// all-gathers in the backward that re-gather the LayerNorm outputs the weight gradients need (they are
// stored sharded, Korthikanti et al. §4.2.2). Selective recompute re-runs the attention core (q·kᵀ,
// softmax, dropout, p·v) in the backward; full recompute is the schedule's R action (the forward again).
#pragma once

#include <cstdint>

#include "paraxis/cost/gemm.h"
#include "paraxis/cost/hardware.h"

namespace paraxis::cost {

struct TransformerDims {
  int64_t hidden = 0, heads = 0, seq = 0, ffn = 0, vocab = 0;  // ffn: the MLP's inner width (4·hidden)
  bool known() const { return hidden > 0; }
};

struct MegatronOptions {
  int tp                   = 1;
  bool sequence_parallel   = false;  // Korthikanti et al. §4.2.2 (no effect at tp 1)
  bool selective_recompute = false;  // recompute the attention core in the backward (§5)
};

// One pass of one layer on one device: its GEMMs, its memory-bound kernels (bytes each) and its blocking
// collectives over the tp group (bytes each, the full unsharded buffer).
struct PassKernels {
  std::vector<Gemm> gemms;
  std::vector<double> memory_kernels;
  std::vector<double> all_reduce, all_gather, reduce_scatter;
};

PassKernels layer_forward(const TransformerDims& d, double micro_batch, const MegatronOptions& o, int elem);
PassKernels layer_backward_input(const TransformerDims& d, double micro_batch, const MegatronOptions& o,
                                 int elem);
PassKernels layer_backward_weight(const TransformerDims& d, double micro_batch, const MegatronOptions& o,
                                  int elem);
// The vocabulary-parallel LM head and its cross-entropy (fp32), and the embedding lookup.
PassKernels head_forward(const TransformerDims& d, double micro_batch, const MegatronOptions& o, int elem);
PassKernels head_backward_input(const TransformerDims& d, double micro_batch, const MegatronOptions& o,
                                int elem);
PassKernels head_backward_weight(const TransformerDims& d, double micro_batch, const MegatronOptions& o,
                                 int elem);
PassKernels embedding_forward(const TransformerDims& d, double micro_batch, const MegatronOptions& o,
                              int elem);
PassKernels embedding_backward_weight(const TransformerDims& d, double micro_batch, const MegatronOptions& o,
                                      int elem);

// Seconds: every GEMM (gemm_time), every memory kernel at the achievable bandwidth plus the launch
// overhead, every collective on `link` over o.tp devices (cost.h: ring forms).
double kernels_time(const PassKernels& k, const HardwareProfile& hw, const LinkProfile& link, int tp);

struct LayerPassTimes {
  double forward = 0, backward_input = 0, backward_weight = 0;
};
LayerPassTimes layer_pass_times(const TransformerDims& d, double micro_batch, const MegatronOptions& o,
                                const HardwareProfile& hw);

// Activation bytes one device stores for the backward of one layer and micro-batch (16-bit elements),
// Korthikanti et al. 2022 Table 2: s·b·h·(10 + 24/t + 5·a·s/(h·t)) with tensor parallelism, s·b·h·(34/t +
// 5·a·s/(h·t)) with sequence parallelism too; selective recompute drops the 5·a·s/(h·t) term; full
// recompute keeps only the layer's input, 2·s·b·h (divided by t with sequence parallelism).
double layer_activation_bytes(const TransformerDims& d, double micro_batch, const MegatronOptions& o,
                              bool full_recompute);

}  // namespace paraxis::cost
