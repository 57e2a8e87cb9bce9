// AlexNet as torchvision builds it (torchvision.models.alexnet, "One weird trick" variant): the same layer
// shapes and parameter names, 61,100,840 parameters at 1000 classes. Blocks are flat so a pipeline may cut
// anywhere; torchvision's AdaptiveAvgPool2d((6, 6)) is the identity on 224x224 inputs, which is what we
// require, so it is not a block. Dropout is spec.dropout (torchvision: 0.5; default 0 here).
#include <fmt/format.h>

#include "nn/models/checks.h"
#include "paraxis/core/error.h"
#include "paraxis/nn/activation.h"
#include "paraxis/nn/conv2d.h"
#include "paraxis/nn/dropout.h"
#include "paraxis/nn/flatten.h"
#include "paraxis/nn/linear.h"
#include "paraxis/nn/maxpool2d.h"
#include "paraxis/nn/model.h"

namespace paraxis {

void check_alexnet_spec(const ModelSpec& spec) {
  check_image(spec);
  PX_USER_CHECK(
      spec.image[0] == 3 && spec.image[1] == 224 && spec.image[2] == 224,
      "alexnet: --image {},{},{} is not supported; AlexNet here takes 3x224x224 images (its average "
      "pooling to 6x6 is then the identity); use --image 3,224,224",
      spec.image[0], spec.image[1], spec.image[2]);
  PX_USER_CHECK(spec.classes > 0, "alexnet: --classes {} must be positive (ImageNet: 1000)", spec.classes);
  PX_USER_CHECK(spec.dropout >= 0 && spec.dropout < 1, "alexnet: --dropout {} must be in [0, 1) (e.g. 0.5)",
                spec.dropout);
}

std::unique_ptr<Model> build_alexnet(const ModelSpec& spec) {
  check_alexnet_spec(spec);
  auto m  = std::make_unique<Model>();
  m->spec = spec;
  auto& b = m->blocks;
  auto f  = [](int i) { return fmt::format("features.{}", i); };
  auto c  = [](int i) { return fmt::format("classifier.{}", i); };
  b.push_back(std::make_unique<Conv2d>(3, 64, 11, 4, 2, f(0)));  // (N, 64, 55, 55)
  b.push_back(std::make_unique<ReLU>(f(1)));
  b.push_back(std::make_unique<MaxPool2d>(3, 2, f(2)));           // (N, 64, 27, 27)
  b.push_back(std::make_unique<Conv2d>(64, 192, 5, 1, 2, f(3)));  // (N, 192, 27, 27)
  b.push_back(std::make_unique<ReLU>(f(4)));
  b.push_back(std::make_unique<MaxPool2d>(3, 2, f(5)));            // (N, 192, 13, 13)
  b.push_back(std::make_unique<Conv2d>(192, 384, 3, 1, 1, f(6)));  // (N, 384, 13, 13)
  b.push_back(std::make_unique<ReLU>(f(7)));
  b.push_back(std::make_unique<Conv2d>(384, 256, 3, 1, 1, f(8)));  // (N, 256, 13, 13)
  b.push_back(std::make_unique<ReLU>(f(9)));
  b.push_back(std::make_unique<Conv2d>(256, 256, 3, 1, 1, f(10)));  // (N, 256, 13, 13)
  b.push_back(std::make_unique<ReLU>(f(11)));
  b.push_back(std::make_unique<MaxPool2d>(3, 2, f(12)));  // (N, 256, 6, 6)
  b.push_back(std::make_unique<Flatten>("flatten"));      // (N, 9216)
  b.push_back(std::make_unique<Dropout>(spec.dropout, c(0)));
  b.push_back(std::make_unique<Linear>(256 * 6 * 6, 4096, c(1)));
  b.push_back(std::make_unique<ReLU>(c(2)));
  b.push_back(std::make_unique<Dropout>(spec.dropout, c(3)));
  b.push_back(std::make_unique<Linear>(4096, 4096, c(4)));
  b.push_back(std::make_unique<ReLU>(c(5)));
  b.push_back(std::make_unique<Linear>(4096, spec.classes, c(6)));  // (N, classes)
  return m;
}

}  // namespace paraxis
