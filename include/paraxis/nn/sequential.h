// paraxis/nn/sequential.h — composites: a chain of layers, and a residual branch around one.
//
//   auto mlp = std::make_unique<Sequential>("blocks.0.mlp");
//   mlp->add(std::make_unique<Linear>(C, 4 * C, "blocks.0.mlp.fc1"));
//   mlp->add(std::make_unique<GELU>("blocks.0.mlp.gelu"));
//   Residual res(std::move(mlp));            // y = x + mlp(x)
//   Tensor y  = res.forward(ctx, x);
//   Tensor dx = res.backward_input(ctx, dy); // children remember their dy in ctx.children[i].dy ...
//   res.backward_weight(ctx, dy);            // ... so the weight pass can run later (zero-bubble schedules)
//
// Children are named by their builder with full parameter prefixes; a composite adds no prefix of its own.
#pragma once

#include <memory>
#include <vector>

#include "paraxis/nn/layer.h"

namespace paraxis {

class Sequential : public Layer {
 public:
  explicit Sequential(std::string name) : Layer(std::move(name)) {}
  Sequential& add(std::unique_ptr<Layer> layer);
  const char* kind() const override { return "sequential"; }
  Tensor forward(Ctx& ctx, const Tensor& x) override;
  Tensor backward_input(Ctx& ctx, const Tensor& dy) override;
  void backward_weight(Ctx& ctx, const Tensor& dy) override;
  Shape output_shape(const Shape& in) const override;
  Cost cost(const Shape& in) const override;
  void collect_params(std::vector<Param*>& out) override;
  void collect_layers(std::vector<Layer*>& out) override;
  void init(uint64_t seed) override;

  size_t size() const { return layers_.size(); }
  Layer& layer(size_t i) { return *layers_.at(i); }

 private:
  std::vector<std::unique_ptr<Layer>> layers_;
};

// y = x + f(x); f must keep the shape.
class Residual : public Layer {
 public:
  explicit Residual(std::unique_ptr<Sequential> f);
  const char* kind() const override { return "residual"; }
  Tensor forward(Ctx& ctx, const Tensor& x) override;
  Tensor backward_input(Ctx& ctx, const Tensor& dy) override;
  void backward_weight(Ctx& ctx, const Tensor& dy) override;
  Shape output_shape(const Shape& in) const override { return in; }
  Cost cost(const Shape& in) const override;
  void collect_params(std::vector<Param*>& out) override { f_->collect_params(out); }
  void collect_layers(std::vector<Layer*>& out) override { f_->collect_layers(out); }
  void init(uint64_t seed) override { f_->init(seed); }

  Sequential& branch() { return *f_; }

 private:
  std::unique_ptr<Sequential> f_;
};

}  // namespace paraxis
