// paraxis/nn/embedding.h — the GPT `embed` block: token plus position embedding.
//
//   Embedding embed(/*vocab=*/256, /*context=*/64, /*width=*/128);   // wte.weight (256, 128), wpe.weight
//   (64, 128) Tensor h = embed.forward(ctx, ids);      // ids (B, T_in) int32, T_in <= context -> h (B, T_in,
//   128) embed.backward(ctx, dh);                 // input gradient is undefined (ids are integers); weights
//   accumulate
//
// init: both tables N(0, 0.02). Parameter names are wte.weight and wpe.weight (no prefix), as in
// docs/model-names.md.
#pragma once

#include "paraxis/nn/layer.h"

namespace paraxis {

// Cost of a token + position embedding over ids `in` (B, T): `table_rows` rows of the token table held here
// (the whole vocabulary, or a vocab-parallel shard's), `context` position rows, `width` columns.
Cost embedding_cost(const Shape& in, int64_t table_rows, int64_t context, int64_t width);

class Embedding : public Layer {
 public:
  Embedding(int64_t vocab, int64_t context, int64_t width, std::string name = "embed");
  const char* kind() const override { return "embedding"; }
  Tensor forward(Ctx& ctx, const Tensor& ids) override;
  Tensor backward_input(Ctx& ctx, const Tensor& dy) override;  // returns an undefined tensor
  void backward_weight(Ctx& ctx, const Tensor& dy) override;
  Shape output_shape(const Shape& in) const override;
  Cost cost(const Shape& in) const override;
  void collect_params(std::vector<Param*>& out) override;
  void init(uint64_t seed) override;

  Param& wte() { return wte_; }
  Param& wpe() { return wpe_; }

 private:
  int64_t vocab_, context_, width_;
  Param wte_, wpe_;
};

}  // namespace paraxis
