// The checks of a model's sizes (validate_model_spec, cli/model_flags.h): after the flags (and a config file)
// are parsed, before anything is built.
#include <fmt/format.h>
#include <fmt/ranges.h>

#include "cli/model_flags.h"
#include "paraxis/core/error.h"

namespace paraxis::cli {

double estimate_num_params(const ModelSpec& s) {
  auto d = [](int64_t v) { return static_cast<double>(v); };
  if (s.kind == "mlp") {
    double n = 0;
    for (size_t i = 0; i + 1 < s.mlp_sizes.size(); ++i) n += d(s.mlp_sizes[i + 1]) * (d(s.mlp_sizes[i]) + 1);
    return n;
  }
  if (s.kind == "cnn") {
    const double kk = d(s.cnn_kernel) * d(s.cnn_kernel);
    const auto f    = cnn_feature_shape(s);
    return d(s.cnn_c1) * (d(s.image.at(0)) * kk + 1) + d(s.cnn_c2) * (d(s.cnn_c1) * kk + 1) +
           d(s.cnn_fc) * (d(f[0]) * d(f[1]) * d(f[2]) + 1) + d(s.classes) * (d(s.cnn_fc) + 1);
  }
  if (s.kind == "alexnet") return 57'003'840 + d(s.classes) * 4097;  // torchvision's, 61,100,840 at 1000
  double C = d(s.width);
  return d(s.vocab) * C * 2 + d(s.context) * C + d(s.layers) * (12 * C * C + 13 * C) + 2 * C;
}

namespace {

void check_positive(int64_t v, const char* flag, const char* example) {
  PX_USER_CHECK(v > 0, "{} {}: sizes must be positive; use e.g. {} {}", flag, v, flag, example);
}

// Divisors of `width`, as a hint for --heads.
std::string divisors_of(int64_t width) {
  std::vector<int64_t> ds;
  for (int64_t h = 1; h <= width && ds.size() < 8; ++h)
    if (width % h == 0) ds.push_back(h);
  std::string out;
  for (size_t i = 0; i < ds.size(); ++i) out += (i ? ", " : "") + std::to_string(ds[i]);
  return out + (ds.size() == 8 ? ", ..." : "");
}

}  // namespace

void validate_model_spec(const ModelSpec& s) {
  PX_USER_CHECK(s.kind == "mlp" || s.kind == "cnn" || s.kind == "alexnet" || s.kind == "gpt",
                "--model {}: unknown model family; use --model mlp, cnn, alexnet or gpt", s.kind);
  if (s.kind == "mlp") {
    PX_USER_CHECK(s.mlp_sizes.size() >= 2,
                  "--mlp-sizes has {} width(s); an mlp needs at least an input and an output width, e.g. "
                  "--mlp-sizes 784,256,10",
                  s.mlp_sizes.size());
    std::string list = fmt::format("{}", fmt::join(s.mlp_sizes, ","));
    for (int64_t v : s.mlp_sizes) {
      PX_USER_CHECK(v > 0, "--mlp-sizes {}: width {} is not positive; use e.g. --mlp-sizes 784,256,10", list,
                    v);
    }
  } else if (s.kind == "cnn") {
    check_positive(s.cnn_c1, "--cnn-c1", "16");
    check_positive(s.cnn_c2, "--cnn-c2", "32");
    check_positive(s.cnn_fc, "--cnn-fc", "128");
    check_positive(s.classes, "--classes", "10");
    check_model_spec(s);  // kernel, stride, image large enough
  } else if (s.kind == "alexnet") {
    check_model_spec(s);
  } else {
    check_positive(s.vocab, "--vocab", "256");
    check_positive(s.context, "--context", "64");
    check_positive(s.width, "--width", "128");
    check_positive(s.heads, "--heads", "4");
    check_positive(s.layers, "--layers", "2");
    PX_USER_CHECK(
        s.width % s.heads == 0,
        "--width {} is not divisible by --heads {}: each head takes width/heads channels; use --heads {} "
        "or --width {}",
        s.width, s.heads, divisors_of(s.width), (s.width / s.heads + 1) * s.heads);
  }
  PX_USER_CHECK(s.dropout >= 0.0f && s.dropout < 1.0f,
                "--dropout {}: must be in [0, 1); use e.g. --dropout 0.1", s.dropout);
  double n = estimate_num_params(s);
  PX_USER_CHECK(
      n <= kMaxParams,
      "model {} would have about {:.3g} parameters, more than the {:.3g} paraxis allows on one machine; "
      "choose smaller sizes",
      s.kind, n, kMaxParams);
}

}  // namespace paraxis::cli
