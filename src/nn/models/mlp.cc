// MLP: fc1, relu1, fc2, relu2, ..., fcL — one block per Linear and per ReLU (docs/model-names.md).
#include <fmt/format.h>

#include "paraxis/core/error.h"
#include "paraxis/nn/activation.h"
#include "paraxis/nn/linear.h"
#include "paraxis/nn/model.h"
#include "paraxis/parallel/tensor_parallel.h"

namespace paraxis {

std::unique_ptr<Model> build_mlp(const ModelSpec& spec, const TpInfo& tp) {
  const auto& sizes = spec.mlp_sizes;
  PX_USER_CHECK(sizes.size() >= 2,
                "mlp needs at least 2 sizes (input and classes), got {}; use e.g. 784-256-10", sizes.size());
  for (size_t i = 0; i < sizes.size(); ++i)
    PX_USER_CHECK(sizes[i] > 0, "mlp size {} (position {}) must be positive; use e.g. 784-256-10", sizes[i],
                  i);
  auto m               = std::make_unique<Model>();
  m->spec              = spec;
  const size_t linears = sizes.size() - 1;
  for (size_t i = 0; i + 1 < sizes.size(); ++i) {
    std::string name = fmt::format("fc{}", i + 1);
    // Tensor parallel: consecutive Linears pair up column -> row (one all-reduce forward, one backward); an
    // unpaired last Linear (784-4096-4096-10's 10-class head) stays whole on every rank: it is tiny, and
    // replicating it needs no collective and no divisibility of the classes (docs/tensor-parallel.md).
    if (tp.active() && i % 2 == 0 && i + 1 < linears)
      m->blocks.push_back(column_parallel_linear(sizes[i], sizes[i + 1], name, tp));
    else if (tp.active() && i % 2 == 1)
      m->blocks.push_back(row_parallel_linear(sizes[i], sizes[i + 1], name, tp));
    else
      m->blocks.push_back(std::make_unique<Linear>(sizes[i], sizes[i + 1], name));
    if (i + 2 < sizes.size()) m->blocks.push_back(std::make_unique<ReLU>(fmt::format("relu{}", i + 1)));
  }
  return m;
}

}  // namespace paraxis
