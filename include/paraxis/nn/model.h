// paraxis/nn/model.h — a model is a sequence of blocks; pipeline stages cut between blocks.
//
//   ModelSpec spec = ModelSpec::mlp({784, 256, 10});
//   std::unique_ptr<Model> m = build_model(spec);
//   m->init(/*seed=*/1);
//   std::vector<Ctx> ctx(m->blocks.size());
//   Tensor logits = m->forward(ctx, x);                       // x (N, 784) -> (N, 10)
//   LossResult r = softmax_cross_entropy(logits, labels);     // mean over the batch; r.dlogits
//   m->backward(ctx, r.dlogits);                               // gradients accumulate in params
//
// Block lists (what a pipeline stage may hold):
//   mlp: fc1, relu1, fc2, relu2, ..., fcL                (one block per Linear and per ReLU)
//   cnn: conv1, relu1, pool1, conv2, relu2, pool2, flatten, fc1, relu3, fc2
//   gpt: embed (token + position), blocks.0 .. blocks.{L-1} (pre-LN transformer blocks), ln_f, lm_head
// Inputs: mlp (N, in) f32; cnn (N, 1, 28, 28) f32; gpt (B, T) i32 token ids. Outputs are logits whose last
// dimension is the number of classes (or the vocabulary), for the loss to flatten.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "paraxis/nn/layer.h"
#include "paraxis/nn/tp_info.h"

namespace paraxis {

struct ModelSpec {
  std::string kind = "mlp";  // mlp | cnn | alexnet | gpt
  // mlp: layer widths, input first, classes last (784-256-10 is {784, 256, 10}).
  std::vector<int64_t> mlp_sizes = {784, 256, 10};
  // cnn (28x28 grayscale): conv(1->c1, k5, pad 2) relu pool2, conv(c1->c2, k5, pad 2) relu pool2,
  // fc(c2*7*7->fc) relu, fc(fc->classes).
  int64_t cnn_c1 = 16, cnn_c2 = 32, cnn_fc = 128, classes = 10;
  // cnn: both convolutions' kernel (pad k/2) and the first one's stride (5, 1: the 28x28 model above).
  int64_t cnn_kernel = 5, cnn_stride = 1;
  // cnn and alexnet: the input image (C, H, W); Fashion-MNIST is (1, 28, 28), AlexNet (3, 224, 224).
  std::vector<int64_t> image = {1, 28, 28};
  // gpt
  int64_t vocab = 256, context = 64, width = 128, heads = 4, layers = 2;
  float dropout = 0.0f;

  static ModelSpec mlp(std::vector<int64_t> sizes);
  static ModelSpec gpt(int64_t vocab, int64_t context, int64_t width, int64_t heads, int64_t layers);
  static ModelSpec cnn(int64_t c1 = 16, int64_t c2 = 32, int64_t fc = 128, int64_t classes = 10);
  static ModelSpec alexnet(int64_t classes = 1000);  // torchvision's, on 3x224x224 images
  bool has_images() const { return kind == "cnn" || kind == "alexnet"; }
  std::string describe() const;  // "mlp 784-256-10", "gpt V256 T64 C128 NH4 L2", ...
};

struct LossResult {
  float loss = 0;  // mean cross-entropy over the rows
  Tensor dlogits;  // d loss / d logits, same shape as logits
};

// The loss and arg-max of logits whose last dimension is split across devices (the tensor-parallel GPT's
// vocabulary shards). The builder that splits them (parallel/tensor_parallel.h) supplies it, so nn itself
// runs no collective.
class ShardedLogits {
 public:
  virtual ~ShardedLogits()                                                                     = default;
  virtual LossResult loss(const Tensor& logits_shard, const Tensor& labels, float scale) const = 0;
  virtual Tensor argmax(const Tensor& logits_shard) const                                      = 0;
};

class Model {
 public:
  ModelSpec spec;
  std::vector<std::unique_ptr<Layer>> blocks;
  TpInfo tp;  // the tensor-parallel group this model is a shard for (size 1: whole)
  // Set when the last block's output holds this rank's V / tp columns: loss and argmax go through it.
  std::unique_ptr<const ShardedLogits> sharded_logits;

  // The loss of the last block's output: softmax_cross_entropy, or its vocab-parallel form when the logits
  // are split across tp (identical on every tp rank; dlogits is the local shard).
  LossResult loss(const Tensor& logits, const Tensor& labels, float scale = 1.0f) const;
  // Arg-max of the last dimension per row (rows i32), over the split vocabulary when sharded.
  Tensor argmax(const Tensor& logits) const;

  // ctx has one entry per block (resized if needed). first/last select a contiguous range of blocks [first,
  // last) — a pipeline stage — the whole model by default.
  Tensor forward(std::vector<Ctx>& ctx, const Tensor& x, size_t first = 0, size_t last = SIZE_MAX);
  Tensor backward(std::vector<Ctx>& ctx, const Tensor& dy, size_t first = 0, size_t last = SIZE_MAX);
  std::vector<Param*> params();
  void init(uint64_t seed);
  void zero_grad();
  int64_t num_params();
  Shape input_shape(int64_t batch) const;  // the shape forward expects for a batch of `batch` samples
  // True when the first block computes no input gradient (the data needs none): a Linear, Conv2d or
  // column-parallel first layer; the Engine skips that pass.
  bool first_block_skips_input_pass() const;
  // Per block, the flops of the passes the Engine runs at `batch` samples (the skipped input pass is not
  // work), + 1 so that empty blocks still weigh: what the stage partitioner balances.
  std::vector<double> partition_costs(int64_t batch) const;
  DType input_dtype() const;
};

// One block's weight for the stage partitioner (Model::partition_costs; the cost model's symbolic models use
// it too): the flops of the passes the Engine runs, the skipped input pass not counted, + 1 so that empty
// blocks still weigh.
double partition_cost(const Cost& c, bool skips_input_pass);

// The whole (single-device) model. A tensor-parallel shard is built by build_model(spec, tp) in
// parallel/tensor_parallel.h.
std::unique_ptr<Model> build_model(const ModelSpec& spec);
// Each family's builder; build_model dispatches on spec.kind.
std::unique_ptr<Model> build_mlp(const ModelSpec& spec);
std::unique_ptr<Model> build_cnn(const ModelSpec& spec);
std::unique_ptr<Model> build_alexnet(const ModelSpec& spec);
// The cnn's (C, H, W) after pool2: what its flatten block hands to fc1.
std::vector<int64_t> cnn_feature_shape(const ModelSpec& spec);
std::unique_ptr<Model> build_gpt(const ModelSpec& spec);
// The checks each builder runs on its family's sizes (positive sizes, heads dividing the width, a known
// kind): user errors naming the value and a valid example. For builders of other layouts of the same blocks.
void check_model_spec(const ModelSpec& spec);

// Fused, numerically stable softmax + cross-entropy: logits (..., K) f32, labels (...) i32. scale multiplies
// the gradient (e.g. 1/micro-batches when gradients are accumulated); the loss is always the plain mean.
LossResult softmax_cross_entropy(const Tensor& logits, const Tensor& labels, float scale = 1.0f);

}  // namespace paraxis
