// The tensor-parallel layouts of the three model families (tensor_parallel.h, docs/tensor-parallel.md): the
// blocks and names of nn's builders (nn/models/), with the layers that the tp group splits.
#include <fmt/format.h>

#include "paraxis/core/error.h"
#include "paraxis/nn/activation.h"
#include "paraxis/nn/flatten.h"
#include "paraxis/nn/layernorm.h"
#include "paraxis/nn/linear.h"
#include "paraxis/nn/maxpool2d.h"
#include "paraxis/nn/model.h"
#include "paraxis/parallel/tensor_parallel.h"

namespace paraxis {

namespace {

// The GPT's logits split by vocabulary: loss and arg-max all-reduce across the tp group.
class VocabParallelLogits : public ShardedLogits {
 public:
  explicit VocabParallelLogits(const TpInfo& tp) : tp_(tp) {}
  LossResult loss(const Tensor& logits_shard, const Tensor& labels, float scale) const override {
    return vocab_parallel_cross_entropy(tp_, logits_shard, labels, scale);
  }
  Tensor argmax(const Tensor& logits_shard) const override {
    return vocab_parallel_argmax(tp_, logits_shard);
  }

 private:
  TpInfo tp_;
};

// Consecutive Linears pair up column -> row (one all-reduce forward, one backward); an unpaired last Linear
// (784-4096-4096-10's 10-class head) stays whole on every rank: it is tiny, and replicating it needs no
// collective and no divisibility of the classes.
std::unique_ptr<Layer> mlp_linear(const std::vector<int64_t>& sizes, size_t i, const TpInfo& tp) {
  const size_t linears = sizes.size() - 1;
  std::string name     = fmt::format("fc{}", i + 1);
  if (i % 2 == 0 && i + 1 < linears) return column_parallel_linear(sizes[i], sizes[i + 1], name, tp);
  if (i % 2 == 1) return row_parallel_linear(sizes[i], sizes[i + 1], name, tp);
  return std::make_unique<Linear>(sizes[i], sizes[i + 1], name);
}

void build_tp_mlp(Model& m, const TpInfo& tp) {
  const auto& sizes = m.spec.mlp_sizes;
  for (size_t i = 0; i + 1 < sizes.size(); ++i) {
    m.blocks.push_back(mlp_linear(sizes, i, tp));
    if (i + 2 < sizes.size()) m.blocks.push_back(std::make_unique<ReLU>(fmt::format("relu{}", i + 1)));
  }
}

// Filter parallelism: conv1 keeps c1/tp output channels, relu1 and pool1 work on them, conv2 consumes them
// (row-parallel: one all-reduce of its output); fc1 column, fc2 row.
void build_tp_cnn(Model& m, const TpInfo& tp) {
  const ModelSpec& s = m.spec;
  auto& b            = m.blocks;
  const int64_t k    = s.cnn_kernel;
  const auto f       = cnn_feature_shape(s);
  b.push_back(column_parallel_conv2d(s.image[0], s.cnn_c1, k, s.cnn_stride, k / 2, "conv1",
                                     tp));  // (N, c1/tp, 28, 28)
  b.push_back(std::make_unique<ReLU>("relu1"));
  b.push_back(std::make_unique<MaxPool2d>(2, 2, "pool1"));                         // (N, c1/tp, 14, 14)
  b.push_back(row_parallel_conv2d(s.cnn_c1, s.cnn_c2, k, 1, k / 2, "conv2", tp));  // (N, c2, 14, 14) full
  b.push_back(std::make_unique<ReLU>("relu2"));
  b.push_back(std::make_unique<MaxPool2d>(2, 2, "pool2"));                       // (N, c2, 7, 7)
  b.push_back(std::make_unique<Flatten>("flatten"));                             // (N, c2 * 49)
  b.push_back(column_parallel_linear(f[0] * f[1] * f[2], s.cnn_fc, "fc1", tp));  // (N, fc/tp)
  b.push_back(std::make_unique<ReLU>("relu3"));
  b.push_back(row_parallel_linear(s.cnn_fc, s.classes, "fc2", tp));  // (N, classes) full
}

// Every block boundary carries the full (B, T, C) tensor except the logits, which stay split over the
// vocabulary for the vocab-parallel cross-entropy.
void build_tp_gpt(Model& m, const TpInfo& tp) {
  const ModelSpec& s = m.spec;
  m.blocks.push_back(vocab_parallel_embedding(s.vocab, s.context, s.width, tp));
  for (int64_t i = 0; i < s.layers; ++i)
    m.blocks.push_back(
        parallel_transformer_block(s.width, s.heads, fmt::format("blocks.{}", i), s.dropout, tp));
  m.blocks.push_back(std::make_unique<LayerNorm>(s.width, "ln_f"));
  m.blocks.push_back(
      column_parallel_linear(s.width, s.vocab, "lm_head", tp, TpInit::kNormal002, /*bias=*/false));
  m.sharded_logits = std::make_unique<VocabParallelLogits>(tp);
}

}  // namespace

std::vector<FcSplit> fc_side_splits(const Model& m, size_t first) {
  std::vector<size_t> linears;
  for (size_t b = first; b < m.blocks.size(); ++b)
    if (std::string(m.blocks[b]->kind()) == "linear") linears.push_back(b);
  std::vector<FcSplit> out(m.blocks.size(), FcSplit::kWhole);
  // The mlp's pairing: Linears 0, 2, ... column when a partner follows, 1, 3, ... row; between a pair the
  // activations are split by feature.
  for (size_t i = 0; i + 1 < linears.size(); i += 2) {
    out[linears[i]] = FcSplit::kColumn, out[linears[i + 1]] = FcSplit::kRow;
    for (size_t b = linears[i] + 1; b < linears[i + 1]; ++b) out[b] = FcSplit::kSplitActivation;
  }
  return out;
}

void split_fc_side(Model& m, size_t first, const TpInfo& tp) {
  const std::vector<FcSplit> split = fc_side_splits(m, first);
  for (size_t b = first; b < m.blocks.size(); ++b) {
    if (split[b] != FcSplit::kColumn && split[b] != FcSplit::kRow) continue;
    auto& l                = static_cast<Linear&>(*m.blocks[b]);
    const bool bias        = l.bias().value.defined();
    const std::string name = l.name();
    m.blocks[b] =
        split[b] == FcSplit::kColumn
            ? column_parallel_linear(l.in_features(), l.out_features(), name, tp, TpInit::kUniformFanIn, bias)
            : row_parallel_linear(l.in_features(), l.out_features(), name, tp, TpInit::kUniformFanIn, bias);
  }
}

std::unique_ptr<Model> build_model(const ModelSpec& spec, const TpInfo& tp) {
  PX_CHECK(tp.size >= 1 && tp.rank >= 0 && tp.rank < tp.size, "build_model: bad tp context rank {} of {}",
           tp.rank, tp.size);
  if (!tp.active()) {
    auto m = build_model(spec);
    m->tp  = tp;
    return m;
  }
  validate_tensor_parallel(spec, tp.size);
  check_model_spec(spec);
  auto m  = std::make_unique<Model>();
  m->spec = spec;
  m->tp   = tp;
  if (spec.kind == "mlp") build_tp_mlp(*m, tp);
  if (spec.kind == "cnn") build_tp_cnn(*m, tp);
  if (spec.kind == "gpt") build_tp_gpt(*m, tp);
  return m;
}

}  // namespace paraxis
