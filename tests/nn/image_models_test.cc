// The image models beyond Fashion-MNIST's cnn: the cnn at any --image, kernel and stride (fc1 sized from what
// pool2 leaves), and torchvision's AlexNet (names, shapes, 61,100,840 parameters) at 224x224 and below.
#include <gtest/gtest.h>

#include "paraxis/core/error.h"
#include "paraxis/nn/model.h"
#include "paraxis/nn/model_spec_json.h"
#include "test_support/user_error.h"

namespace paraxis {
namespace {

Shape output_of(Model& m, int64_t batch) {
  Shape s = m.input_shape(batch);
  for (const auto& b : m.blocks) s = b->output_shape(s);
  return s;
}

TEST(ImageModels, CnnAtAnyImageSize) {
  ModelSpec s  = ModelSpec::cnn(4, 8, 16, 7);
  s.image      = {3, 40, 30};
  s.cnn_kernel = 3, s.cnn_stride = 2;
  // conv1 k3 s2 p1: 20x15, pool 10x7, conv2 k3 p1: 10x7, pool 5x3
  EXPECT_EQ(cnn_feature_shape(s), (std::vector<int64_t>{8, 5, 3}));
  auto m = build_model(s);
  EXPECT_EQ(m->input_shape(2), (Shape{2, 3, 40, 30}));
  EXPECT_EQ(output_of(*m, 2), (Shape{2, 7}));
  EXPECT_EQ(m->params()[4]->full_shape, (Shape{16, 8 * 5 * 3}));  // fc1.weight
  EXPECT_EQ(s.describe(), "cnn c4-c8-fc16-7 k3s2 image 3x40x30");
  EXPECT_EQ(ModelSpec::cnn().describe(), "cnn c16-c32-fc128-10");  // Fashion-MNIST's, unchanged
  const ModelSpec back = model_spec_from_json(model_spec_to_json(s));
  EXPECT_EQ(back.image, s.image);
  EXPECT_EQ(back.cnn_kernel, 3);
  EXPECT_EQ(back.cnn_stride, 2);
}

TEST(ImageModels, CnnImageTooSmallIsAUserError) {
  ModelSpec s = ModelSpec::cnn();
  s.image     = {1, 3, 3};
  try {
    build_model(s);
    FAIL() << "a 3x3 image built";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kUser);
    EXPECT_NE(std::string(e.what()).find("too small"), std::string::npos) << e.what();
  }
}

TEST(ImageModels, AlexNetIsTorchvisions) {
  auto m = build_model(ModelSpec::alexnet());
  EXPECT_EQ(m->num_params(), 61100840);  // torchvision.models.alexnet()
  auto ps = m->params();
  EXPECT_EQ(ps.front()->name, "features.0.weight");
  EXPECT_EQ(ps.front()->full_shape, (Shape{64, 3, 11, 11}));
  EXPECT_EQ(ps[10]->name, "classifier.1.weight");
  EXPECT_EQ(ps[10]->full_shape, (Shape{4096, 9216}));
  EXPECT_EQ(ps.back()->name, "classifier.6.bias");
  Shape s = m->input_shape(1);
  for (const auto& b : m->blocks) {
    s = b->output_shape(s);
    if (b->name() == "features.12") EXPECT_EQ(s, (Shape{1, 256, 6, 6}));
  }
  EXPECT_EQ(s, (Shape{1, 1000}));
  for (const auto& b : m->blocks) EXPECT_STRNE(b->kind(), "adaptive_avgpool2d");  // the identity at 6x6
  EXPECT_EQ(m->blocks.size(), 21u);
}

// Below 224x224 torchvision's AdaptiveAvgPool2d((6, 6)) becomes a block ("avgpool") that brings the features
// to 6x6, so the classifier and the parameter count are the same; the smallest image leaves 1x1 features.
TEST(ImageModels, AlexNetAtSmallImages) {
  for (std::vector<int64_t> image : {std::vector<int64_t>{3, 63, 63}, {3, 95, 70}, {3, 300, 100}}) {
    ModelSpec spec = ModelSpec::alexnet();
    spec.image     = image;
    auto m         = build_model(spec);
    EXPECT_EQ(m->num_params(), 61100840);
    Shape s = m->input_shape(2);
    for (const auto& b : m->blocks) {
      s = b->output_shape(s);
      if (b->name() == "avgpool") EXPECT_EQ(s, (Shape{2, 256, 6, 6}));
    }
    EXPECT_EQ(s, (Shape{2, 1000}));
    EXPECT_EQ(m->blocks.size(), 22u);
  }
  ModelSpec spec = ModelSpec::alexnet();
  spec.image     = {3, 63, 63};
  auto m         = build_model(spec);
  Shape s        = m->input_shape(1);
  for (const auto& b : m->blocks) {
    if (b->name() == "avgpool") EXPECT_EQ(s, (Shape{1, 256, 1, 1}));  // the features' smallest output
    s = b->output_shape(s);
  }
}

TEST(ImageModels, AlexNetImageTooSmallIsAUserError) {
  for (std::vector<int64_t> image : {std::vector<int64_t>{3, 62, 224}, {3, 224, 40}}) {
    ModelSpec spec = ModelSpec::alexnet();
    spec.image     = image;
    testing::expect_user_error([&] { build_model(spec); },
                               {"is too small", "at least 1x1", "H and W of at least 63", "use --image 3,"});
  }
  ModelSpec grey = ModelSpec::alexnet();
  grey.image     = {1, 224, 224};
  testing::expect_user_error([&] { build_model(grey); }, {"has 1 channels", "use --image 3,224,224"});
}

}  // namespace
}  // namespace paraxis
