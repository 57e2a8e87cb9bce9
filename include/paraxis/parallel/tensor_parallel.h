// paraxis/parallel/tensor_parallel.h — tensor (model) parallelism built from conjugate collectives.
//
//   TpInfo tp{tp_comm, rank, size};
//   auto fc1 = column_parallel_linear(784, 4096, "fc1", tp);   // fc1.weight rows [rank*2048, +2048): (N,
//   2048) auto fc2 = row_parallel_linear(4096, 4096, "fc2", tp);     // consumes the (N, 2048) shard,
//   all-reduces Tensor h = fc1->forward(c1, x);                            // x (N, 784) replicated -> h (N,
//   4096/tp) Tensor y = fc2->forward(c2, h);                            // y (N, 4096) replicated (+ bias
//   once) LossResult r = vocab_parallel_cross_entropy(tp, logits_shard, labels);   // no gather of full
//   logits
//
// The conjugate pairs (Megatron-LM, Shoeybi et al. 2019, §3; each is a no-op when tp.size is 1):
//   copy_to_region      forward identity              backward all-reduce
//   reduce_from_region  forward all-reduce            backward identity
//   scatter_to_region   forward keep my last-dim slice backward all-gather along the last dim
//   gather_from_region  forward all-gather last dim    backward keep my slice
// Column-parallel = copy_to_region then the local layer (weight rows / output channels split, shard_dim 0):
// the all-reduce of its input gradient belongs to backward_input. Row-parallel = the local layer over the
// split input (weight columns / input channels, shard_dim 1) then reduce_from_region, and the bias
// (replicated) added once after the reduce. An MLP block fc1 (column) -> activation -> fc2 (row) costs one
// all-reduce forward and one backward.
//
// Sharded parameters keep their PyTorch name and record full_shape / shard_dim / shard_begin / shard_groups,
// and every shard initialises itself as its slice of the full tensor (init_param_uniform / _normal).
#pragma once

#include <memory>
#include <string>

#include "paraxis/nn/layer.h"
#include "paraxis/nn/model.h"
#include "paraxis/nn/tp_info.h"

namespace paraxis {

// ---- conjugate mappings (in place where the data allows) ----
void copy_to_region_backward(const TpInfo& tp, Tensor& dx);     // all-reduce (sum) in place
void reduce_from_region_forward(const TpInfo& tp, Tensor& y);   // all-reduce (sum) in place
Tensor scatter_last_dim(const TpInfo& tp, const Tensor& full);  // (..., K) -> (..., K / tp), my slice
Tensor gather_last_dim(const TpInfo& tp, const Tensor& shard);  // (..., K / tp) -> (..., K)

// How a split layer initialises itself (always as the slice of the single-device initialisation).
enum class TpInit {
  kUniformFanIn,  // torch.nn.Linear / Conv2d default: weight and bias U(-1/sqrt(fan_in), 1/sqrt(fan_in))
  kNormal002,     // GPT-2: weight N(0, 0.02), bias zeros
};

// A local layer whose outputs are split across tp (its parameters marked as shards along dim 0); the input is
// replicated. gather_output: all-gather the output's last dimension back to the full width.
class ColumnParallel : public Layer {
 public:
  ColumnParallel(std::unique_ptr<Layer> local, const TpInfo& tp, bool gather_output = false);
  const char* kind() const override { return "column_parallel"; }
  Tensor forward(Ctx& ctx, const Tensor& x) override;
  Tensor backward_input(Ctx& ctx, const Tensor& dy) override;  // local input grad, then all-reduce
  void backward_weight(Ctx& ctx, const Tensor& dy) override;
  Shape output_shape(const Shape& in) const override;
  Cost cost(const Shape& in) const override;
  void collect_params(std::vector<Param*>& out) override { local_->collect_params(out); }
  void init(uint64_t seed) override { local_->init(seed); }
  Layer& local() { return *local_; }

 private:
  std::unique_ptr<Layer> local_;
  TpInfo tp_;
  bool gather_output_;
};

// A local layer (no bias) over an input split across tp; its partial outputs are summed by one all-reduce,
// then the replicated bias is added along bias_dim (-1: last, 1: channels of (N, C, H, W)).
class RowParallel : public Layer {
 public:
  RowParallel(std::unique_ptr<Layer> local, Param bias, TpInit bias_init, float bias_bound, const TpInfo& tp);
  const char* kind() const override { return "row_parallel"; }
  Tensor forward(Ctx& ctx, const Tensor& x) override;
  Tensor backward_input(Ctx& ctx, const Tensor& dy) override;  // local, no communication
  void backward_weight(Ctx& ctx, const Tensor& dy) override;
  Shape output_shape(const Shape& in) const override { return local_->output_shape(in); }
  Cost cost(const Shape& in) const override;
  void collect_params(std::vector<Param*>& out) override;
  void init(uint64_t seed) override;
  Layer& local() { return *local_; }

 private:
  std::unique_ptr<Layer> local_;
  Param bias_;  // undefined value when there is none
  TpInit bias_init_;
  float bias_bound_;
  TpInfo tp_;
};

// Builders: parameter names and full shapes as the single-device layer's ("fc1.weight" (out, in)).
// groups > 1 (column only): the output features are `groups` stacked parts each split alike (GPT qkv: 3).
std::unique_ptr<Layer> column_parallel_linear(int64_t in, int64_t out, const std::string& name,
                                              const TpInfo& tp, TpInit init = TpInit::kUniformFanIn,
                                              bool bias = true, int groups = 1, bool gather_output = false);
std::unique_ptr<Layer> row_parallel_linear(int64_t in, int64_t out, const std::string& name, const TpInfo& tp,
                                           TpInit init = TpInit::kUniformFanIn, bool bias = true);
// Filter parallelism: output channels split (conv1 of the CNN).
std::unique_ptr<Layer> column_parallel_conv2d(int64_t cin, int64_t cout, int64_t k, int64_t stride,
                                              int64_t pad, const std::string& name, const TpInfo& tp);
// Input channels split, outputs all-reduced (conv2 of the CNN, consuming conv1's channel shard).
std::unique_ptr<Layer> row_parallel_conv2d(int64_t cin, int64_t cout, int64_t k, int64_t stride, int64_t pad,
                                           const std::string& name, const TpInfo& tp);

// GPT's token + position embedding with the vocabulary split: rank r holds wte rows [r V/tp, (r+1) V/tp),
// looks up the ids in its range (zeros elsewhere), all-reduces, then adds the replicated wpe.
std::unique_ptr<Layer> vocab_parallel_embedding(int64_t vocab, int64_t context, int64_t width,
                                                const TpInfo& tp);
// Causal self-attention with NH / tp heads per rank: qkv column-parallel (3 groups), proj row-parallel.
std::unique_ptr<Layer> parallel_self_attention(int64_t width, int64_t heads, const std::string& name,
                                               const TpInfo& tp);
// The pre-LN GPT block (same parameter names as TransformerBlock) with split attention and MLP.
std::unique_ptr<Layer> parallel_transformer_block(int64_t width, int64_t heads, const std::string& name,
                                                  float dropout, const TpInfo& tp);

// Cross-entropy over logits whose last dimension (the vocabulary) is split: logits_shard (..., V / tp) holds
// columns [rank V/tp, (rank+1) V/tp); labels (...) i32 are global ids. Max, sum of exponentials and the
// target logit are all-reduced (two all-reduces of rows floats); the full logits never exist on one device.
// Same loss (mean over rows) and gradient scale as softmax_cross_entropy; dlogits is the local shard.
LossResult vocab_parallel_cross_entropy(const TpInfo& tp, const Tensor& logits_shard, const Tensor& labels,
                                        float scale = 1.0f);
// Arg-max over the split last dimension (ties: the lowest index, as std::max_element): rows i32.
Tensor vocab_parallel_argmax(const TpInfo& tp, const Tensor& logits_shard);

// This rank's tensor-parallel shard of the model (docs/tensor-parallel.md): the same blocks with the same
// names as build_model(spec) (so pipeline cuts are unchanged), split layers holding their slice of each
// parameter, the GPT's logits split by vocabulary (Model::sharded_logits). tp.size 1 is build_model(spec).
// tp.comm may be null for a shard built for its shapes only (running it would need the group).
std::unique_ptr<Model> build_model(const ModelSpec& spec, const TpInfo& tp);

// The fully connected side from block `first` on, split over a group as the mlp is (domain parallelism's
// `--sp-fc model`, parallel/spatial.h): per block, a Linear paired with the next one is column-parallel, its
// partner row-parallel, the blocks between them see feature-split activations; an unpaired last Linear and
// everything else stay whole. split_fc_side replaces the paired Linears by their tp shards (same names,
// parameters initialised as the single-device layers' slices).
enum class FcSplit { kWhole, kColumn, kRow, kSplitActivation };
std::vector<FcSplit> fc_side_splits(const Model& m, size_t first);
void split_fc_side(Model& m, size_t first, const TpInfo& tp);

// Checks that tp divides every size the tp model splits (heads, hidden, ffn, vocabulary, channels). Throws a
// user error (exit 2) with the value, the rule and the valid --tp values, e.g.
// "--tp 3 does not divide 8 attention heads; use --tp 1, 2, 4 or 8."
void validate_tensor_parallel(const ModelSpec& spec, int tp);

}  // namespace paraxis
