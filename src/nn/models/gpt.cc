// GPT: embed, blocks.0 .. blocks.{L-1}, ln_f, lm_head (docs/model-names.md). Each entry is one Layer, so a
// pipeline stage can cut between any two of them.
#include <fmt/format.h>

#include "nn/models/checks.h"
#include "paraxis/core/error.h"
#include "paraxis/nn/attention.h"
#include "paraxis/nn/embedding.h"
#include "paraxis/nn/layernorm.h"
#include "paraxis/nn/model.h"
#include "paraxis/nn/transformer.h"

namespace paraxis {

namespace {
// Head counts that divide the width, to suggest in an error message.
std::string divisors_of(int64_t width) {
  std::string out;
  for (int64_t h = 1; h <= width && h <= 64; ++h)
    if (width % h == 0) out += (out.empty() ? "" : ", ") + std::to_string(h);
  return out;
}
}  // namespace

void check_gpt_spec(const ModelSpec& spec) {
  PX_USER_CHECK(spec.vocab > 0, "gpt vocab {} must be positive; use e.g. 256", spec.vocab);
  PX_USER_CHECK(spec.context > 0, "gpt context {} must be positive; use e.g. 64", spec.context);
  PX_USER_CHECK(spec.width > 0, "gpt width {} must be positive; use e.g. 128", spec.width);
  PX_USER_CHECK(spec.layers > 0, "gpt layers {} must be positive; use e.g. 2", spec.layers);
  PX_USER_CHECK(spec.heads > 0 && spec.width % spec.heads == 0,
                "gpt heads {} must divide the width {}; use one of {}", spec.heads, spec.width,
                divisors_of(spec.width));
  PX_USER_CHECK(spec.dropout >= 0.0f && spec.dropout < 1.0f, "gpt dropout {} must be in [0, 1); use e.g. 0.1",
                spec.dropout);
}

std::unique_ptr<Model> build_gpt(const ModelSpec& spec) {
  check_gpt_spec(spec);
  auto m  = std::make_unique<Model>();
  m->spec = spec;
  m->blocks.push_back(std::make_unique<Embedding>(spec.vocab, spec.context, spec.width, "embed"));
  for (int64_t i = 0; i < spec.layers; ++i)
    m->blocks.push_back(std::make_unique<TransformerBlock>(spec.width, spec.heads,
                                                           fmt::format("blocks.{}", i), spec.dropout));
  m->blocks.push_back(std::make_unique<LayerNorm>(spec.width, "ln_f"));
  m->blocks.push_back(std::make_unique<NormalInitLinear>(spec.width, spec.vocab, "lm_head", /*bias=*/false));
  return m;
}

}  // namespace paraxis
