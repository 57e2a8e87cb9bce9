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
         "cnn, alexnet: input images C,H,W (Fashion-MNIST 1,28,28; alexnet 3,224,224, at least 3,63,63)")
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

}  // namespace paraxis::cli
