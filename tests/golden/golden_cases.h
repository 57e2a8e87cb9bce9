// The three PyTorch golden cases (tests/golden/make_goldens.py): which file, which model spec, and the
// parameter names and shapes docs/model-names.md fixes for that spec, written out independently of any model
// builder so the files can be checked before (and against) the C++ models.
#pragma once

#include <ostream>
#include <string>
#include <utility>
#include <vector>

#include "paraxis/core/tensor.h"
#include "paraxis/nn/model.h"
#include "test_support/paths.h"

namespace paraxis::golden {

struct Case {
  std::string file;  // under tests/golden/
  ModelSpec spec;
  std::string describe;  // ModelSpec::describe() of spec, stored in the file's metadata
  Shape input_shape, label_shape, logits_shape;
  DType input_dtype;
};

// Specs set field by field rather than with ModelSpec::mlp() and friends: those live in model.cc, which needs
// the model builders at link time, and this file must link without them.
inline ModelSpec spec_of(const std::string& kind) {
  ModelSpec s;
  s.kind = kind;
  if (kind == "mlp") s.mlp_sizes = {20, 32, 16, 5};
  if (kind == "cnn") s.cnn_c1 = 4, s.cnn_c2 = 8, s.cnn_fc = 32, s.classes = 10;
  if (kind == "gpt") s.vocab = 32, s.context = 8, s.width = 16, s.heads = 2, s.layers = 2;
  return s;
}

inline std::vector<Case> cases() {
  return {
      {"mlp.safetensors", spec_of("mlp"), "mlp 20-32-16-5", {8, 20}, {8}, {8, 5}, DType::kF32},
      {"cnn.safetensors", spec_of("cnn"), "cnn c4-c8-fc32-10", {4, 1, 28, 28}, {4}, {4, 10}, DType::kF32},
      {"gpt.safetensors", spec_of("gpt"), "gpt V32 T8 C16 NH2 L2", {2, 8}, {2, 8}, {2, 8, 32}, DType::kI32},
  };
}

inline void PrintTo(const Case& c, std::ostream* os) {
  *os << c.describe;
}

inline std::string path_of(const Case& c) {
  return paraxis::testing::source_dir() + "/tests/golden/" + c.file;
}

// Parameter names and shapes per docs/model-names.md.
inline std::vector<std::pair<std::string, Shape>> expected_params(const ModelSpec& s) {
  std::vector<std::pair<std::string, Shape>> p;
  if (s.kind == "mlp") {
    for (size_t i = 0; i + 1 < s.mlp_sizes.size(); ++i) {
      std::string fc = "fc" + std::to_string(i + 1);
      p.push_back({fc + ".weight", {s.mlp_sizes[i + 1], s.mlp_sizes[i]}});
      p.push_back({fc + ".bias", {s.mlp_sizes[i + 1]}});
    }
  } else if (s.kind == "cnn") {
    p = {{"conv1.weight", {s.cnn_c1, 1, 5, 5}},        {"conv1.bias", {s.cnn_c1}},
         {"conv2.weight", {s.cnn_c2, s.cnn_c1, 5, 5}}, {"conv2.bias", {s.cnn_c2}},
         {"fc1.weight", {s.cnn_fc, s.cnn_c2 * 7 * 7}}, {"fc1.bias", {s.cnn_fc}},
         {"fc2.weight", {s.classes, s.cnn_fc}},        {"fc2.bias", {s.classes}}};
  } else {
    int64_t C = s.width;
    p         = {{"wte.weight", {s.vocab, C}}, {"wpe.weight", {s.context, C}}};
    for (int64_t i = 0; i < s.layers; ++i) {
      std::string b                                    = "blocks." + std::to_string(i) + ".";
      std::vector<std::pair<std::string, Shape>> block = {{b + "ln1.weight", {C}},
                                                          {b + "ln1.bias", {C}},
                                                          {b + "attn.qkv.weight", {3 * C, C}},
                                                          {b + "attn.qkv.bias", {3 * C}},
                                                          {b + "attn.proj.weight", {C, C}},
                                                          {b + "attn.proj.bias", {C}},
                                                          {b + "ln2.weight", {C}},
                                                          {b + "ln2.bias", {C}},
                                                          {b + "mlp.fc1.weight", {4 * C, C}},
                                                          {b + "mlp.fc1.bias", {4 * C}},
                                                          {b + "mlp.fc2.weight", {C, 4 * C}},
                                                          {b + "mlp.fc2.bias", {C}}};
      p.insert(p.end(), block.begin(), block.end());
    }
    p.push_back({"ln_f.weight", {C}});
    p.push_back({"ln_f.bias", {C}});
    p.push_back({"lm_head.weight", {s.vocab, C}});
  }
  return p;
}

}  // namespace paraxis::golden
