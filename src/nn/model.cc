#include "paraxis/nn/model.h"

#include <fmt/format.h>

#include <algorithm>

#include "nn/models/checks.h"
#include "paraxis/core/error.h"

namespace paraxis {

ModelSpec ModelSpec::mlp(std::vector<int64_t> sizes) {
  ModelSpec s;
  s.kind      = "mlp";
  s.mlp_sizes = std::move(sizes);
  return s;
}
ModelSpec ModelSpec::gpt(int64_t vocab, int64_t context, int64_t width, int64_t heads, int64_t layers) {
  ModelSpec s;
  s.kind  = "gpt";
  s.vocab = vocab, s.context = context, s.width = width, s.heads = heads, s.layers = layers;
  return s;
}
ModelSpec ModelSpec::cnn(int64_t c1, int64_t c2, int64_t fc, int64_t classes) {
  ModelSpec s;
  s.kind   = "cnn";
  s.cnn_c1 = c1, s.cnn_c2 = c2, s.cnn_fc = fc, s.classes = classes;
  return s;
}

ModelSpec ModelSpec::alexnet(int64_t classes) {
  ModelSpec s;
  s.kind    = "alexnet";
  s.classes = classes;
  s.image   = {3, 224, 224};
  return s;
}

std::string ModelSpec::describe() const {
  if (kind == "mlp") {
    std::string out = "mlp ";
    for (size_t i = 0; i < mlp_sizes.size(); ++i) out += (i ? "-" : "") + std::to_string(mlp_sizes[i]);
    return out;
  }
  const std::string img = fmt::format("{}x{}x{}", image.at(0), image.at(1), image.at(2));
  if (kind == "cnn") {
    const std::string conv =
        cnn_kernel != 5 || cnn_stride != 1 ? fmt::format(" k{}s{}", cnn_kernel, cnn_stride) : std::string();
    const std::string size = img == "1x28x28" ? std::string() : fmt::format(" image {}", img);
    return fmt::format("cnn c{}-c{}-fc{}-{}{}{}", cnn_c1, cnn_c2, cnn_fc, classes, conv, size);
  }
  if (kind == "alexnet") return fmt::format("alexnet {} image {}", classes, img);
  return fmt::format("gpt V{} T{} C{} NH{} L{}", vocab, context, width, heads, layers);
}

void check_model_spec(const ModelSpec& spec) {
  if (spec.kind == "mlp") return check_mlp_spec(spec);
  if (spec.kind == "cnn") return check_cnn_spec(spec);
  if (spec.kind == "alexnet") return check_alexnet_spec(spec);
  if (spec.kind == "gpt") return check_gpt_spec(spec);
  PX_USER_FAIL("unknown model '{}'; use mlp, cnn, alexnet or gpt", spec.kind);
}

std::unique_ptr<Model> build_model(const ModelSpec& spec) {
  if (spec.kind == "mlp") return build_mlp(spec);
  if (spec.kind == "cnn") return build_cnn(spec);
  if (spec.kind == "alexnet") return build_alexnet(spec);
  if (spec.kind == "gpt") return build_gpt(spec);
  PX_USER_FAIL("unknown model '{}'; use mlp, cnn, alexnet or gpt", spec.kind);
}

LossResult Model::loss(const Tensor& logits, const Tensor& labels, float scale) const {
  if (sharded_logits) return sharded_logits->loss(logits, labels, scale);
  return softmax_cross_entropy(logits, labels, scale);
}

Tensor Model::argmax(const Tensor& logits) const {
  if (sharded_logits) return sharded_logits->argmax(logits);
  const int64_t k = logits.dim(-1), rows = logits.numel() / k;
  Tensor out      = Tensor::empty({rows}, DType::kI32);
  const float* lp = logits.data();
  for (int64_t i = 0; i < rows; ++i) {
    const float* row  = lp + i * k;
    out.data_i32()[i] = static_cast<int32_t>(std::max_element(row, row + k) - row);
  }
  return out;
}

Tensor Model::forward(std::vector<Ctx>& ctx, const Tensor& x, size_t first, size_t last) {
  last = std::min(last, blocks.size());
  if (ctx.size() < blocks.size()) ctx.resize(blocks.size());
  Tensor h = x;
  for (size_t i = first; i < last; ++i) h = blocks[i]->forward(ctx[i], h);
  return h;
}

Tensor Model::backward(std::vector<Ctx>& ctx, const Tensor& dy, size_t first, size_t last) {
  last     = std::min(last, blocks.size());
  Tensor g = dy;
  for (size_t i = last; i-- > first;) g = blocks[i]->backward(ctx[i], g);
  return g;
}

std::vector<Param*> Model::params() {
  std::vector<Param*> out;
  for (auto& b : blocks) b->collect_params(out);
  return out;
}

void Model::init(uint64_t seed) {
  for (auto& b : blocks) b->init(seed);
}

void Model::zero_grad() {
  for (Param* p : params()) p->grad.zero_();
}

int64_t Model::num_params() {
  int64_t n = 0;
  for (Param* p : params()) n += shape_numel(p->full_shape);
  return n;
}

Shape Model::input_shape(int64_t batch) const {
  if (spec.kind == "mlp") return {batch, spec.mlp_sizes.front()};
  if (spec.has_images()) return {batch, spec.image.at(0), spec.image.at(1), spec.image.at(2)};
  return {batch, spec.context};
}

bool Model::first_block_skips_input_pass() const {
  if (blocks.empty()) return false;
  const std::string k0 = blocks[0]->kind();
  return k0 == "linear" || k0 == "conv2d" || k0 == "column_parallel" || k0 == "spatial_conv2d";
}

double partition_cost(const Cost& c, bool skips_input_pass) {
  return c.fwd_flops + (skips_input_pass ? 0.0 : c.bwd_input_flops) + c.bwd_weight_flops + 1.0;
}

std::vector<double> Model::partition_costs(int64_t batch) const {
  std::vector<double> costs;
  Shape s = input_shape(batch);
  for (size_t b = 0; b < blocks.size(); ++b) {
    Cost c                 = blocks[b]->cost(s);
    const bool skips_input = b == 0 && first_block_skips_input_pass();
    costs.push_back(partition_cost(c, skips_input));
    s = blocks[b]->output_shape(s);
  }
  return costs;
}

DType Model::input_dtype() const {
  return spec.kind == "gpt" ? DType::kI32 : DType::kF32;
}

}  // namespace paraxis
