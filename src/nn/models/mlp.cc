// MLP: fc1, relu1, fc2, relu2, ..., fcL — one block per Linear and per ReLU (docs/model-names.md).
#include <fmt/format.h>

#include "nn/models/checks.h"
#include "paraxis/core/error.h"
#include "paraxis/nn/activation.h"
#include "paraxis/nn/linear.h"
#include "paraxis/nn/model.h"

namespace paraxis {

void check_mlp_spec(const ModelSpec& spec) {
  const auto& sizes = spec.mlp_sizes;
  PX_USER_CHECK(sizes.size() >= 2,
                "mlp needs at least 2 sizes (input and classes), got {}; use e.g. 784-256-10", sizes.size());
  for (size_t i = 0; i < sizes.size(); ++i)
    PX_USER_CHECK(sizes[i] > 0, "mlp size {} (position {}) must be positive; use e.g. 784-256-10", sizes[i],
                  i);
}

std::unique_ptr<Model> build_mlp(const ModelSpec& spec) {
  check_mlp_spec(spec);
  const auto& sizes = spec.mlp_sizes;
  auto m            = std::make_unique<Model>();
  m->spec           = spec;
  for (size_t i = 0; i + 1 < sizes.size(); ++i) {
    m->blocks.push_back(std::make_unique<Linear>(sizes[i], sizes[i + 1], fmt::format("fc{}", i + 1)));
    if (i + 2 < sizes.size()) m->blocks.push_back(std::make_unique<ReLU>(fmt::format("relu{}", i + 1)));
  }
  return m;
}

}  // namespace paraxis
