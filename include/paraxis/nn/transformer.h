// paraxis/nn/transformer.h — the pre-LN GPT block, composed from the layers above.
//
//   TransformerBlock blk(/*width=*/256, /*heads=*/4, "blocks.0");
//   // x = x + attn(ln1(x));  x = x + mlp.fc2(gelu(mlp.fc1(ln2(x))))   (dropout after attn and mlp if p > 0)
//   Tensor y = blk.forward(ctx, x);      // x (B, T, 256) -> (B, T, 256)
//
// Parameters, in order: <name>.ln1.{weight,bias}, .attn.qkv.{weight,bias}, .attn.proj.{weight,bias},
// .ln2.{weight,bias}, .mlp.fc1.{weight,bias} (4C, C), .mlp.fc2.{weight,bias} (C, 4C). init: LayerNorm ones
// and zeros, Linear weights N(0, 0.02), biases zeros.
#pragma once

#include "paraxis/nn/sequential.h"

namespace paraxis {

class TransformerBlock : public Sequential {
 public:
  TransformerBlock(int64_t width, int64_t heads, std::string name, float dropout = 0.0f);
  const char* kind() const override { return "transformer_block"; }
};

}  // namespace paraxis
