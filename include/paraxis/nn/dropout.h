// paraxis/nn/dropout.h — inverted dropout whose mask is recomputed, never stored.
//
//   Dropout drop(0.1f, "blocks.0.attn.drop");
//   drop.init(seed);
//   ctx.step = 7; ctx.microbatch = 2;
//   Tensor y = drop.forward(ctx, x);     // y = x * keep / (1 - p); identity when p == 0 or !ctx.training
//
// keep_i = uniform draw i of Philox(seed, stream_id("<name>/step<step>/mb<microbatch>")) >= p, so a rerun, a
// different device or the backward pass regenerates the same mask from (name, step, micro-batch) alone.
#pragma once

#include "paraxis/nn/layer.h"

namespace paraxis {

class Dropout : public Layer {
 public:
  Dropout(float p, std::string name);
  const char* kind() const override { return "dropout"; }
  Tensor forward(Ctx& ctx, const Tensor& x) override;
  Tensor backward_input(Ctx& ctx, const Tensor& dy) override;
  Shape output_shape(const Shape& in) const override { return in; }
  Cost cost(const Shape& in) const override;
  void init(uint64_t seed) override { seed_ = seed; }

  float p() const { return p_; }
  Philox mask_rng(const Ctx& ctx) const;  // the generator of the mask for this (step, micro-batch)

 private:
  bool active(const Ctx& ctx) const { return ctx.training && p_ > 0.0f; }
  float p_;
  uint64_t seed_ = 0;
};

}  // namespace paraxis
