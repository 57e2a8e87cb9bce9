// AlexNet as torchvision builds it (torchvision.models.alexnet, "One weird trick" variant): the same layer
// shapes and parameter names, 61,100,840 parameters at 1000 classes. Blocks are flat so a pipeline may cut
// anywhere. torchvision's AdaptiveAvgPool2d((6, 6)) ("avgpool") is a block only where it does something:
// on 224x224 (features 6x6) it is the identity and is left out, so that model is unchanged; other images
// from 63x63 (features 1x1) up get it. Dropout is spec.dropout (torchvision: 0.5; default 0 here).
#include <fmt/format.h>

#include <algorithm>

#include "nn/models/checks.h"
#include "paraxis/core/error.h"
#include "paraxis/nn/activation.h"
#include "paraxis/nn/adaptive_avgpool2d.h"
#include "paraxis/nn/conv2d.h"
#include "paraxis/nn/dropout.h"
#include "paraxis/nn/flatten.h"
#include "paraxis/nn/linear.h"
#include "paraxis/nn/maxpool2d.h"
#include "paraxis/nn/model.h"

namespace paraxis {

namespace {

int64_t conv_out(int64_t h, int64_t k, int64_t stride, int64_t pad) {
  return h + 2 * pad >= k ? (h + 2 * pad - k) / stride + 1 : 0;
}
int64_t pool_out(int64_t h) {  // MaxPool2d(3, 2)
  return h >= 3 ? (h - 3) / 2 + 1 : 0;
}
// Height (or width) the features leave of an input of `h`: conv 11/4 pad 2, pool, conv 5 pad 2, pool, three
// convs 3 pad 1, pool; 0 when a layer gets less than its window.
int64_t features_out(int64_t h) {
  return pool_out(pool_out(pool_out(conv_out(h, 11, 4, 2))));
}
// The smallest input size whose features are at least 1 row (63).
int64_t smallest_input() {
  int64_t h = 1;
  while (features_out(h) < 1) ++h;
  return h;
}

}  // namespace

void check_alexnet_spec(const ModelSpec& spec) {
  check_image(spec);
  const auto& im = spec.image;
  PX_USER_CHECK(
      im[0] == 3,
      "alexnet: --image {},{},{} has {} channels; AlexNet takes RGB images (3 channels): use --image "
      "3,{},{}",
      im[0], im[1], im[2], im[0], im[1], im[2]);
  const int64_t least = smallest_input();
  PX_USER_CHECK(features_out(im[1]) >= 1 && features_out(im[2]) >= 1,
                "alexnet: --image {},{},{} is too small: its features (conv 11 stride 4, three 3x3 stride-2 "
                "max-poolings) must leave at least 1x1 before the 6x6 average pooling, which needs H and W "
                "of at least {}; use --image 3,{},{} or larger (torchvision's 3,224,224)",
                im[0], im[1], im[2], least, std::max(im[1], least), std::max(im[2], least));
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
  b.push_back(std::make_unique<MaxPool2d>(3, 2, f(12)));  // (N, 256, 6, 6) at 224x224
  if (features_out(spec.image[1]) != 6 || features_out(spec.image[2]) != 6)
    b.push_back(std::make_unique<AdaptiveAvgPool2d>(6, 6, "avgpool"));  // (N, 256, 6, 6)
  b.push_back(std::make_unique<Flatten>("flatten"));                    // (N, 9216)
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
