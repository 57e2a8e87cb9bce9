// The CNN family (docs/model-names.md): conv1, relu1, pool1, conv2, relu2, pool2, flatten, fc1, relu3, fc2
// over (N, 1, 28, 28) inputs. Each block is its own pipeline-stage candidate.
#include "nn/models/checks.h"
#include "paraxis/core/error.h"
#include "paraxis/nn/activation.h"
#include "paraxis/nn/conv2d.h"
#include "paraxis/nn/flatten.h"
#include "paraxis/nn/linear.h"
#include "paraxis/nn/maxpool2d.h"
#include "paraxis/nn/model.h"

namespace paraxis {

void check_cnn_spec(const ModelSpec& spec) {
  const int64_t c1 = spec.cnn_c1, c2 = spec.cnn_c2, fc = spec.cnn_fc, classes = spec.classes;
  PX_USER_CHECK(c1 > 0 && c2 > 0 && fc > 0 && classes > 0,
                "cnn: got c1={} c2={} fc={} classes={}; every size must be positive (e.g. 16, 32, 128, 10)",
                c1, c2, fc, classes);
}

std::unique_ptr<Model> build_cnn(const ModelSpec& spec) {
  check_cnn_spec(spec);
  const int64_t c1 = spec.cnn_c1, c2 = spec.cnn_c2, fc = spec.cnn_fc, classes = spec.classes;
  auto m  = std::make_unique<Model>();
  m->spec = spec;
  auto& b = m->blocks;
  b.push_back(std::make_unique<Conv2d>(1, c1, 5, 1, 2, "conv1"));  // (N, c1, 28, 28)
  b.push_back(std::make_unique<ReLU>("relu1"));
  b.push_back(std::make_unique<MaxPool2d>(2, 2, "pool1"));          // (N, c1, 14, 14)
  b.push_back(std::make_unique<Conv2d>(c1, c2, 5, 1, 2, "conv2"));  // (N, c2, 14, 14)
  b.push_back(std::make_unique<ReLU>("relu2"));
  b.push_back(std::make_unique<MaxPool2d>(2, 2, "pool2"));       // (N, c2, 7, 7)
  b.push_back(std::make_unique<Flatten>("flatten"));             // (N, c2 * 49)
  b.push_back(std::make_unique<Linear>(c2 * 7 * 7, fc, "fc1"));  // (N, fc)
  b.push_back(std::make_unique<ReLU>("relu3"));
  b.push_back(std::make_unique<Linear>(fc, classes, "fc2"));  // (N, classes)
  return m;
}

}  // namespace paraxis
