#include "cli/model_flags.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <cctype>

#include "paraxis/core/error.h"

namespace paraxis::cli {

void add_model_flags(CLI::App& app, ModelSpec& spec) {
  // alexnet brings its own defaults (3x224x224 images, 1000 classes); --image and --classes, whose callbacks
  // run after this one (CLI11 runs them in the order the options were added), still override them.
  app.add_option_function<std::string>(
         "--model",
         [&spec](const std::string& kind) {
           spec.kind = kind;
           if (kind == "alexnet") spec.image = {3, 224, 224}, spec.classes = 1000;
         },
         "Model family: mlp, cnn, alexnet or gpt")
      ->default_str(spec.kind);
  app.add_option_function<std::string>(
         "--mlp-sizes", [&spec](const std::string& text) { spec.mlp_sizes = parse_mlp_sizes(text); },
         "mlp layer widths, input first and classes last (e.g. 784,256,10)")
      ->default_str("784,256,10");
  app.add_option("--cnn-c1", spec.cnn_c1, "cnn: channels of the first convolution")->capture_default_str();
  app.add_option("--cnn-c2", spec.cnn_c2, "cnn: channels of the second convolution")->capture_default_str();
  app.add_option("--cnn-fc", spec.cnn_fc, "cnn: width of the hidden fully connected layer")
      ->capture_default_str();
  app.add_option("--cnn-kernel", spec.cnn_kernel, "cnn: kernel of both convolutions (padding kernel/2)")
      ->capture_default_str();
  app.add_option("--cnn-stride", spec.cnn_stride, "cnn: stride of the first convolution")
      ->capture_default_str();
  app.add_option_function<std::string>(
         "--image", [&spec](const std::string& text) { spec.image = parse_image(text); },
         "cnn, alexnet: input images C,H,W (Fashion-MNIST 1,28,28; alexnet 3,224,224)")
      ->default_str("1,28,28");
  app.add_option("--classes", spec.classes, "cnn, alexnet: number of classes (alexnet: 1000)")
      ->capture_default_str();
  app.add_option("--vocab", spec.vocab, "gpt: vocabulary size V")->capture_default_str();
  app.add_option("--context", spec.context, "gpt: context length T")->capture_default_str();
  app.add_option("--width", spec.width, "gpt: model width C")->capture_default_str();
  app.add_option("--heads", spec.heads, "gpt: attention heads NH (must divide --width)")
      ->capture_default_str();
  app.add_option("--layers", spec.layers, "gpt: transformer blocks L")->capture_default_str();
}

std::vector<int64_t> parse_mlp_sizes(const std::string& text) {
  std::vector<int64_t> sizes;
  size_t pos = 0;
  while (true) {
    size_t comma     = text.find(',', pos);
    std::string item = text.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos);
    bool digits      = !item.empty() && item.size() <= 9;
    for (char ch : item) digits = digits && std::isdigit(static_cast<unsigned char>(ch));
    PX_USER_CHECK(
        digits,
        "--mlp-sizes '{}': '{}' is not a positive integer below 10^9; give comma-separated widths, input "
        "first and classes last, e.g. --mlp-sizes 784,256,10",
        text, item);
    sizes.push_back(std::stoll(item));
    if (comma == std::string::npos) break;
    pos = comma + 1;
  }
  return sizes;
}

std::vector<int64_t> parse_image(const std::string& text) {
  std::vector<int64_t> dims;
  size_t pos = 0;
  while (true) {
    size_t comma     = text.find(',', pos);
    std::string item = text.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos);
    bool digits      = !item.empty() && item.size() <= 6;
    for (char ch : item) digits = digits && std::isdigit(static_cast<unsigned char>(ch));
    PX_USER_CHECK(digits && std::stoll(item) > 0,
                  "--image '{}': '{}' is not a positive integer below 10^6; give C,H,W, e.g. --image 3,32,32",
                  text, item);
    dims.push_back(std::stoll(item));
    if (comma == std::string::npos) break;
    pos = comma + 1;
  }
  PX_USER_CHECK(dims.size() == 3, "--image '{}' has {} value(s); give C,H,W, e.g. --image 3,32,32", text,
                dims.size());
  return dims;
}

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
