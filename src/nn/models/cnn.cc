// The CNN family (docs/model-names.md): conv1, relu1, pool1, conv2, relu2, pool2, flatten, fc1, relu3, fc2
// over (N, C, H, W) images (Fashion-MNIST's 1x28x28 by default). Each block is its own pipeline-stage
// candidate.
#include "nn/models/checks.h"
#include "paraxis/core/error.h"
#include "paraxis/nn/activation.h"
#include "paraxis/nn/conv2d.h"
#include "paraxis/nn/flatten.h"
#include "paraxis/nn/linear.h"
#include "paraxis/nn/maxpool2d.h"
#include "paraxis/nn/model.h"

namespace paraxis {

namespace {
int64_t conv_out(int64_t h, int64_t k, int64_t stride) {
  return (h + 2 * (k / 2) - k) / stride + 1;
}
int64_t pool_out(int64_t h) {
  return h >= 2 ? (h - 2) / 2 + 1 : 0;
}
}  // namespace

void check_image(const ModelSpec& spec) {
  const auto& im = spec.image;
  PX_USER_CHECK(im.size() == 3 && im[0] > 0 && im[1] > 0 && im[2] > 0,
                "--image: got {} value(s); pass C,H,W with every size positive (e.g. --image 1,28,28)",
                im.size());
}

std::vector<int64_t> cnn_feature_shape(const ModelSpec& spec) {
  const int64_t k = spec.cnn_kernel, s = spec.cnn_stride;
  const int64_t h = pool_out(conv_out(pool_out(conv_out(spec.image[1], k, s)), k, 1));
  const int64_t w = pool_out(conv_out(pool_out(conv_out(spec.image[2], k, s)), k, 1));
  return {spec.cnn_c2, h, w};
}

void check_cnn_spec(const ModelSpec& spec) {
  const int64_t c1 = spec.cnn_c1, c2 = spec.cnn_c2, fc = spec.cnn_fc, classes = spec.classes;
  PX_USER_CHECK(c1 > 0 && c2 > 0 && fc > 0 && classes > 0,
                "cnn: got c1={} c2={} fc={} classes={}; every size must be positive (e.g. 16, 32, 128, 10)",
                c1, c2, fc, classes);
  PX_USER_CHECK(spec.cnn_kernel >= 1 && spec.cnn_stride >= 1,
                "cnn: got kernel {} stride {}; both must be at least 1 (e.g. kernel 5, stride 1)",
                spec.cnn_kernel, spec.cnn_stride);
  check_image(spec);
  const auto f = cnn_feature_shape(spec);
  PX_USER_CHECK(f[1] >= 1 && f[2] >= 1,
                "cnn: image {}x{} is too small for two k{} convolutions (the first with stride {}) each "
                "followed by a 2x2 pooling; use at least --image {},{},{}",
                spec.image[1], spec.image[2], spec.cnn_kernel, spec.cnn_stride, spec.image[0],
                4 * spec.cnn_stride, 4 * spec.cnn_stride);
}

std::unique_ptr<Model> build_cnn(const ModelSpec& spec) {
  check_cnn_spec(spec);
  const int64_t c1 = spec.cnn_c1, c2 = spec.cnn_c2, fc = spec.cnn_fc, classes = spec.classes;
  const int64_t k = spec.cnn_kernel, s = spec.cnn_stride;
  const auto f = cnn_feature_shape(spec);
  auto m       = std::make_unique<Model>();
  m->spec      = spec;
  auto& b      = m->blocks;
  b.push_back(std::make_unique<Conv2d>(spec.image[0], c1, k, s, k / 2, "conv1"));  // (N, c1, 28, 28)
  b.push_back(std::make_unique<ReLU>("relu1"));
  b.push_back(std::make_unique<MaxPool2d>(2, 2, "pool1"));              // (N, c1, 14, 14)
  b.push_back(std::make_unique<Conv2d>(c1, c2, k, 1, k / 2, "conv2"));  // (N, c2, 14, 14)
  b.push_back(std::make_unique<ReLU>("relu2"));
  b.push_back(std::make_unique<MaxPool2d>(2, 2, "pool2"));               // (N, c2, 7, 7)
  b.push_back(std::make_unique<Flatten>("flatten"));                     // (N, c2 * 49)
  b.push_back(std::make_unique<Linear>(f[0] * f[1] * f[2], fc, "fc1"));  // (N, fc)
  b.push_back(std::make_unique<ReLU>("relu3"));
  b.push_back(std::make_unique<Linear>(fc, classes, "fc2"));  // (N, classes)
  return m;
}

}  // namespace paraxis
