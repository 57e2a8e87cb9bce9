// paraxis/nn/layer.h — the layer contract: explicit forward and two backward entry points, no tape.
//
//   Linear fc(784, 256, "fc1");
//   fc.init(Philox(seed, 0));
//   Ctx ctx;                                   // one per (layer, micro-batch); holds what backward needs
//   Tensor y  = fc.forward(ctx, x);            // x (N, 784) -> y (N, 256)
//   Tensor dx = fc.backward_input(ctx, dy);    // dL/dx; keeps dy if the weight pass still needs it
//   fc.backward_weight(ctx, dy);               // adds dL/dW, dL/db into the gradients (accumulates)
//
// Rules:
//  * backward_weight must follow backward_input on the same ctx (composites remember their inner gradients
//    there); a full backward is backward() = the two in sequence. Zero-bubble schedules run them apart.
//  * gradients accumulate across calls (micro-batches add up); zero_grad() clears them.
//  * after backward_weight the ctx may be dropped: that frees the stashed activations.
//  * cost(input_shape) reports flops and bytes of each pass, parameter bytes and stored-activation bytes; the
//    cost model reads these and keeps no second copy of the formulas.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "paraxis/core/rng.h"
#include "paraxis/core/tensor.h"

namespace paraxis {

// A parameter, or one tensor-parallel rank's shard of it. A shard along shard_dim holds, in each of
// shard_groups equal groups of the full dimension, the range [shard_begin, shard_begin + len) of that group
// (len = value.dim(shard_dim) / shard_groups). One group is a plain slice; GPT's qkv weight (3C, C) uses
// three groups so that a head shard takes its heads' rows of q, of k and of v.
struct Param {
  std::string name;          // PyTorch-style, e.g. "blocks.0.attn.qkv.weight"
  Tensor value;              // this device's shard
  Tensor grad;               // same shape as value
  Shape full_shape;          // shape of the unsharded parameter
  int shard_dim       = -1;  // dimension split across tensor-parallel ranks (-1: not split)
  int64_t shard_begin = 0;   // offset of this shard along shard_dim, within each group
  int shard_groups    = 1;   // the full shard_dim is this many equal groups, each sliced alike
  // True when every tp rank holds the same values and, because their inputs and output gradients are the
  // same, computes the same gradients (LayerNorm, a row-parallel bias, wpe, any unsplit layer): nothing to
  // reduce, and the global gradient norm counts it on tp rank 0 only. False for shards.
  bool tp_replicated = true;
};

// Everything a layer keeps between its forward and backward passes for one micro-batch.
struct Ctx {
  bool training       = true;
  uint64_t step       = 0;  // feeds counter-based dropout masks
  uint64_t microbatch = 0;
  std::vector<Tensor> saved;  // activations the backward passes need
  std::vector<Ctx> children;  // one per sub-layer of a composite
  Tensor dy;                  // output gradient kept between backward_input and backward_weight
  Shape in_shape;             // shape of the forward input
  void clear() {
    Ctx fresh;
    fresh.training   = training;
    fresh.step       = step;
    fresh.microbatch = microbatch;
    *this            = std::move(fresh);
  }
  int64_t stashed_bytes() const;  // bytes held by saved tensors, recursively (shared storage counted once)
};

struct Cost {
  double fwd_flops = 0, bwd_input_flops = 0, bwd_weight_flops = 0;
  double fwd_bytes = 0, bwd_input_bytes = 0, bwd_weight_bytes = 0;  // memory traffic
  int64_t param_bytes      = 0;
  int64_t activation_bytes = 0;  // stored by forward for backward
  Cost& operator+=(const Cost& o);
};

class Layer {
 public:
  explicit Layer(std::string name) : name_(std::move(name)) {}
  virtual ~Layer()               = default;
  Layer(const Layer&)            = delete;
  Layer& operator=(const Layer&) = delete;

  virtual const char* kind() const                          = 0;
  virtual Tensor forward(Ctx& ctx, const Tensor& x)         = 0;
  virtual Tensor backward_input(Ctx& ctx, const Tensor& dy) = 0;
  virtual void backward_weight(Ctx& /*ctx*/, const Tensor& /*dy*/) {}
  Tensor backward(Ctx& ctx, const Tensor& dy) {
    Tensor dx = backward_input(ctx, dy);
    backward_weight(ctx, dy);
    return dx;
  }

  virtual Shape output_shape(const Shape& in) const = 0;
  virtual Cost cost(const Shape& in) const          = 0;

  // Parameters of this layer and its children, in a stable order.
  virtual void collect_params(std::vector<Param*>& /*out*/) {}
  // The leaf layers (composites recurse into their children; a leaf adds itself).
  virtual void collect_layers(std::vector<Layer*>& out) { out.push_back(this); }

  // Deferred weight gradients (pipelines with many micro-batches): while on, backward_weight only keeps
  // what it needs and flush_weight_grads() later computes the gradient of every kept micro-batch at once —
  // one large GEMM instead of m small memory-bound ones, each re-reading and re-writing the whole weight
  // gradient. The sum is the same up to fp32 rounding order. Returns false when the layer cannot defer (it
  // then computes in backward_weight as usual); deferred_bytes() is what the kept tensors hold.
  virtual bool defer_weight_grads(bool /*on*/) { return false; }
  virtual void flush_weight_grads() {}
  virtual int64_t deferred_bytes() const { return 0; }
  // Deterministic initialisation: each parameter draws from Philox(seed, stream_id(param.name)).
  virtual void init(uint64_t /*seed*/) {}

  const std::string& name() const { return name_; }
  std::vector<Param*> params() {
    std::vector<Param*> out;
    collect_params(out);
    return out;
  }
  void zero_grad();

 protected:
  std::string name_;  // prefix of parameter names ("blocks.0.mlp.fc1"); may be empty
};

// Builds a parameter with zero gradient; full_shape defaults to shape.
Param make_param(const std::string& name, const Shape& shape);
// Declares p (already of its local shape) a shard of full_shape along dim (see Param), tp_replicated false.
void mark_shard(Param& p, const Shape& full_shape, int dim, int64_t begin, int groups = 1);

// Initialisation from Philox(seed, stream_id(p.name)): element j of the full tensor gets draw j, and a shard
// fills exactly its slice of it (so any tp layout starts from the single-device values).
void init_param_uniform(Param& p, float lo, float hi, uint64_t seed);
void init_param_normal(Param& p, float mean, float stddev, uint64_t seed);

// Copies between a shard (described by p's shard_dim / shard_begin / shard_groups) and the full tensor.
void copy_full_to_shard(const Param& p, Tensor& shard, const Tensor& full);
void copy_shard_to_full(const Param& p, Tensor& full, const Tensor& shard);
std::string join_name(const std::string& prefix, const std::string& leaf);

}  // namespace paraxis
