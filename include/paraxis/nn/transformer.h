// paraxis/nn/transformer.h — the pre-LN GPT block with its elementwise passes fused.
//
//   TransformerBlock blk(/*width=*/256, /*heads=*/4, "blocks.0");
//   // x = x + attn(ln1(x));  x = x + mlp.fc2(gelu(mlp.fc1(ln2(x))))   (dropout after attn and mlp if p > 0)
//   Tensor y = blk.forward(ctx, x);      // x (B, T, 256) -> (B, T, 256)
//
// Parameters, in order: <name>.ln1.{weight,bias}, .attn.qkv.{weight,bias}, .attn.proj.{weight,bias},
// .ln2.{weight,bias}, .mlp.fc1.{weight,bias} (4C, C), .mlp.fc2.{weight,bias} (C, 4C). init: LayerNorm ones
// and zeros, Linear weights N(0, 0.02), biases zeros.
//
// NOTE [fused block] (docs/layers.md): the forward is ln1 -> attn -> [h = x + drop(attn), ln2(h)] in one
// pass -> fc1 with its GELU as epilogue -> fc2 -> [x + drop(fc2)] in one pass; the backward mirrors it (the
// LayerNorm input gradients add the residual gradient in the same pass, and their weight gradients come from
// that same read; GELU's gradient and fc1's bias gradient are one pass). The unfused composition — Residual
// branches of LayerNorm, attention, Linear, GELU, Linear, Dropout — is the oracle (tests/nn/fused_block_test).
// The tensor-parallel block is this class with split parts (parallel/tp_gpt.cc).
#pragma once

#include <memory>

#include "paraxis/nn/dropout.h"
#include "paraxis/nn/layernorm.h"

namespace paraxis {

// The parts of a block. fc1 ends in the GELU (a Linear with fuse_gelu(), or a split one); the dropouts are
// null when p is 0.
struct BlockParts {
  std::unique_ptr<LayerNorm> ln1, ln2;
  std::unique_ptr<Layer> attn, fc1, fc2;
  std::unique_ptr<Dropout> attn_drop, mlp_drop;
};

class TransformerBlock : public Layer {
 public:
  TransformerBlock(int64_t width, int64_t heads, std::string name, float dropout = 0.0f);
  TransformerBlock(std::string name, BlockParts parts);
  const char* kind() const override { return "transformer_block"; }
  Tensor forward(Ctx& ctx, const Tensor& x) override;
  Tensor backward_input(Ctx& ctx, const Tensor& dy) override;
  void backward_weight(Ctx& ctx, const Tensor& dy) override;
  Shape output_shape(const Shape& in) const override { return in; }
  Cost cost(const Shape& in) const override;
  void collect_params(std::vector<Param*>& out) override;
  void collect_layers(std::vector<Layer*>& out) override;
  void init(uint64_t seed) override;

 private:
  std::vector<Layer*> parts() const;  // ln1, attn, attn_drop, ln2, fc1, fc2, mlp_drop (null where absent)
  BlockParts p_;
};

}  // namespace paraxis
