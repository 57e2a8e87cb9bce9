#include "paraxis/nn/transformer.h"

#include "paraxis/nn/activation.h"
#include "paraxis/nn/attention.h"
#include "paraxis/nn/dropout.h"
#include "paraxis/nn/layernorm.h"

namespace paraxis {

TransformerBlock::TransformerBlock(int64_t width, int64_t heads, std::string name, float dropout)
    : Sequential(std::move(name)) {
  auto attn_branch = std::make_unique<Sequential>(join_name(name_, "attn"));
  attn_branch->add(std::make_unique<LayerNorm>(width, join_name(name_, "ln1")));
  attn_branch->add(std::make_unique<CausalSelfAttention>(width, heads, join_name(name_, "attn")));
  if (dropout > 0.0f) attn_branch->add(std::make_unique<Dropout>(dropout, join_name(name_, "attn.drop")));
  add(std::make_unique<Residual>(std::move(attn_branch)));

  auto mlp_branch = std::make_unique<Sequential>(join_name(name_, "mlp"));
  mlp_branch->add(std::make_unique<LayerNorm>(width, join_name(name_, "ln2")));
  mlp_branch->add(std::make_unique<NormalInitLinear>(width, 4 * width, join_name(name_, "mlp.fc1")));
  mlp_branch->add(std::make_unique<GELU>(join_name(name_, "mlp.gelu")));
  mlp_branch->add(std::make_unique<NormalInitLinear>(4 * width, width, join_name(name_, "mlp.fc2")));
  if (dropout > 0.0f) mlp_branch->add(std::make_unique<Dropout>(dropout, join_name(name_, "mlp.drop")));
  add(std::make_unique<Residual>(std::move(mlp_branch)));
}

}  // namespace paraxis
