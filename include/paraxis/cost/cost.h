// paraxis/cost/cost.h — what each piece of a training step costs: collectives by α–β, blocks by their flops
// and bytes, and the model as a list of blocks whose costs come from the layers themselves.
//
//   LinkProfile nv = link_preset("nvlink4");
//   double t = allreduce_time(64e6, 8, nv);                 // ring: 2(n−1)/n · S/β + 2(n−1)α
//   ModelDesc m = describe_model(ModelSpec::mlp({784, 256, 10}));   // Layer::cost of every block
//   ModelDesc g = gpt_symbolic({.layers = 96, .hidden = 12288, .heads = 96, .seq = 2048, .vocab = 51200});
//   Cost c = m.blocks[0].at_batch(32);                      // flops/bytes of fc1 on a micro-batch of 32
//   double s = pass_time(c.fwd_flops, c.fwd_bytes, m.blocks[0].matmuls, hw, /*threads=*/1);
//
// Collectives (docs/architecture.md, reference facts; Thakur, Rabenseifner & Gropp 2005 for ring and
// binomial-tree forms):
//   ring  all-reduce  2(n−1)/n · S/β + 2(n−1)α      tree all-reduce 2⌈log2 n⌉ (α + S/β)
//   ring  reduce-scatter = all-gather = (n−1)/n · S/β + (n−1)α;  p2p α + S/β
// Gholami et al. 2018 (arXiv 1712.04432), fully connected layers i with weights |W_i| and widths d_i, batch
// B:
//   batch-parallel (P devices)   2 Σ_i (α⌈log2 P⌉ + β (P−1)/P |W_i|)
//   model-parallel (P devices)   3 Σ_i (α⌈log2 P⌉ + β B (P−1)/P d_i)
//   integrated Pr × Pc grid      model-parallel over Pc on B/Pr rows + batch-parallel over Pr on |W_i|/Pc
// (β here is seconds per byte = 1 / bandwidth).
//
// The cost model keeps no second copy of the layers' formulas: describe_model reads Layer::cost at batch 1
// and 2 and stores cost(b) = fixed + b · per_sample, exact for costs affine in the batch (all of ours are).
// Only models too big to build (hundreds of billions of parameters) use gpt_symbolic, whose per-layer terms
// are Megatron's (Narayanan et al. 2021: 24·b·s·h² + 4·b·s²·h forward flops per transformer layer); a test
// checks it against Layer::cost on a small GPT.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "paraxis/cost/hardware.h"
#include "paraxis/cost/transformer.h"
#include "paraxis/nn/layer.h"
#include "paraxis/nn/model.h"

namespace paraxis::cost {

enum class CollectiveAlgo { kRing, kTree };

double p2p_time(double bytes, const LinkProfile& link);
// Ring on two devices of a link with a measured all-reduce table: that table (LinkProfile).
double allreduce_time(double bytes, int n, const LinkProfile& link,
                      CollectiveAlgo algo = CollectiveAlgo::kRing);
double reduce_scatter_time(double bytes, int n, const LinkProfile& link);  // S = the full (unsharded) buffer
double all_gather_time(double bytes, int n, const LinkProfile& link);      // S = the full (gathered) buffer
// Bytes one device sends in a ring all-reduce of S bytes: 2(n−1)/n · S.
double allreduce_bytes_sent(double bytes, int n);

// Gholami's communication model for a chain of fully connected layers (widths d_0 .. d_L, batch B, elements
// of `bytes_per_element`). Returns seconds per iteration.
struct GholamiCost {
  double batch_parallel = 0, model_parallel = 0, total = 0;
};
GholamiCost gholami_integrated(const std::vector<int64_t>& widths, int64_t batch, int pr, int pc,
                               const LinkProfile& link, int bytes_per_element = 4);

// One block of the model (a pipeline stage holds a contiguous run of them).
struct BlockDesc {
  std::string name, kind;               // "fc1", "linear"
  Cost fixed;                           // batch-independent part (weight traffic, parameter bytes)
  Cost per_sample;                      // added per sample of the micro-batch
  int matmuls            = 0;           // matmul calls per pass (0: elementwise, memory-bound)
  double rows_per_sample = 0;           // rows of each matmul call per sample (0: unknown; mlp 1, gpt seq)
  std::vector<int64_t> param_sizes;     // each parameter's elements, in Layer::params order (dp buckets)
  int64_t gemm_in = 0, gemm_out = 0;    // a Linear's in and out features (0: not a Linear)
  std::optional<Conv2dShape> conv;      // a convolution's call on one sample (n = 1; cost/conv.h)
  double out_bytes_per_sample = 0;      // the activation handed to the next block (a pipeline send)
  int64_t params              = 0;      // parameter count (unsharded)
  bool tp_split               = false;  // flops, bytes and parameters divide by tp
  int tp_allreduce_fwd = 0, tp_allreduce_bwd = 0;  // Megatron all-reduces per pass under tp > 1
  double tp_allreduce_bytes_per_sample = 0;        // size of each of them
  // A symbolic GPT's embedding, transformer layers and LM head: priced kernel by kernel (transformer.h)
  // from these sizes, not from the aggregate flops and bytes above (which stay for the stage cuts).
  TransformerDims dims;
  Cost at_batch(double b) const;  // fixed + b · per_sample
};

struct ModelDesc {
  std::string name;  // "mlp 784-256-10", "gpt L96 H12288 NH96 T2048 V51200 (symbolic)"
  std::vector<BlockDesc> blocks;
  std::vector<int64_t> tp_divides;  // sizes tp must divide (heads, hidden widths)
  double input_bytes_per_sample = 0;
  bool symbolic                 = false;  // built from formulas, not from layers
  std::vector<int64_t> fc_widths;         // mlp: the layer widths (for Gholami's Pr × Pc model)
  // What the engine's stage partitioner balances (Model::partition_costs of the built model; partition_cost
  // of each block for a symbolic one) and its input-pass rule: the cuts are the same function of the same
  // numbers on both sides.
  std::vector<double> partition_costs;
  bool first_block_skips_input_pass = false;
  std::optional<ModelSpec> spec;  // what it was built from (a model built from layers; none if symbolic)
  int64_t num_params() const;
};

// Builds the model (cheap for our mlp/cnn/gpt sizes) and reads Layer::cost of every block. Megatron tensor
// parallelism: mlp Linears pair up column- then row-parallel (one all-reduce forward after the row-parallel
// layer, one backward before the column-parallel one); gpt blocks split heads and the MLP (2 + 2
// all-reduces).
ModelDesc describe_model(const ModelSpec& spec);
// The same for a model already built (a tensor-parallel or spatial member's), read at `unit` and 2·unit
// samples: the costs per sample of the whole group when a member computes 1/unit of some blocks' samples
// (domain parallelism's batch side). Leaves partition_costs empty.
ModelDesc describe_built(const Model& model, const ModelSpec& spec, int64_t unit = 1);

struct GptSize {
  int64_t layers = 96, hidden = 12288, heads = 96, seq = 2048, vocab = 51200;
};
// Analytic description of a GPT too large to build (no tensors are allocated).
ModelDesc gpt_symbolic(const GptSize& size);
// "gpt-175b", "gpt-13b", "gpt-6.7b", "gpt-1.3b" (GPT-3 paper, Table 2.1, with Megatron-LM's padded
// vocabulary of 51,200) or "gpt:L,H,NH,T,V"; user error otherwise.
GptSize parse_gpt_size(const std::string& text);

// Time of one pass of one block: the larger of compute (flops at the matmul rate of this call size, or at
// peak/8 for elementwise work) and memory traffic (bytes / bandwidth), plus a fixed overhead per kernel call.
// The matmul rate is the measured rate of this very Linear shape (shape_rates: gemm_in × gemm_out on
// rows_per_call rows) where the profile has it; else the rate of this pass kind on rows_per_call rows where
// the profile measured it (row_rates: the layer kernels on a large weight; a skinny call streams its weight),
// else the rate by call size (matmul_rates, square calls). concurrent_devices > 1: every device of the node
// computes at once (the concurrent rates and bandwidth). bytes are in the layer's own fp32 units and scaled
// to the profile's element size.
double pass_time(double flops, double bytes, int matmuls, const HardwareProfile& hw,
                 int threads_per_device = 1, int concurrent_devices = 1, PassKind kind = PassKind::kForward,
                 double rows_per_call = 0, double gemm_in = 0, double gemm_out = 0);

}  // namespace paraxis::cost
