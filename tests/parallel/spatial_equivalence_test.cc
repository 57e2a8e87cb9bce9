// Promise 2 for domain parallelism (--sp): conv nets split along H over sp devices, alone and with dp, train
// the same steps as one device to fp32 tolerance (every step's loss, the final parameters). The nets cover
// kernels 1, 3, 4, 5, 7 and 11, strides 1 and 2, padding k/2 and heights sp does not divide.
#include <gtest/gtest.h>

#include "parallel/equivalence_util.h"
#include "paraxis/core/error.h"
#include "paraxis/parallel/engine.h"

using namespace paraxis;
using namespace paraxis::testing_util;

namespace {

ModelSpec conv_net(int64_t kernel, int64_t stride, std::vector<int64_t> image) {
  ModelSpec s  = ModelSpec::cnn(/*c1=*/3, /*c2=*/4, /*fc=*/12, /*classes=*/5);
  s.cnn_kernel = kernel;
  s.cnn_stride = stride;
  s.image      = std::move(image);
  return s;
}

void check_spatial(const char* name, const ModelSpec& spec, int dp, int sp, int m, int64_t batch,
                   int zero = 0, SpFc fc = SpFc::kBatch) {
  SCOPED_TRACE(name);
  EngineConfig one;
  one.grid               = Grid{1, 1, 1};
  one.schedule           = {pipeline::ScheduleKind::k1F1B, 1, 1, 1};
  one.optim.sgd.momentum = 0.9;
  one.optim.clip_norm    = 1.0;
  const int steps        = 4;
  RunResult ref          = train_layout(spec, one, steps, batch);
  EngineConfig cfg       = one;
  cfg.grid               = Grid{dp, 1, 1, sp};
  cfg.schedule           = {pipeline::ScheduleKind::k1F1B, 1, m, 1};
  cfg.bucket_mb          = 0.001;  // several buckets
  cfg.zero               = zero;
  cfg.sp_fc              = fc;
  validate_layout(spec, cfg, batch);
  expect_same_run(ref, train_layout(spec, cfg, steps, batch));
}

TEST(SpatialEquivalence, FashionCnnSp2Sp3AndDp2Sp2) {
  const ModelSpec cnn = ModelSpec::cnn(4, 8, 16, 10);  // k5 s1 p2 on 28x28, pools 2/2 (28 -> 14 -> 7)
  check_spatial("cnn sp2", cnn, 1, 2, 1, 12);
  check_spatial("cnn sp3 (28, 14 and 7 rows split unevenly)", cnn, 1, 3, 1, 12);
  check_spatial("cnn dp2 x sp2", cnn, 2, 2, 1, 8);
  check_spatial("cnn sp2 m2", cnn, 1, 2, 2, 8);
  check_spatial("cnn dp2 x sp2 zero1", cnn, 2, 2, 1, 8, /*zero=*/1);
}

TEST(SpatialEquivalence, KernelsStridesAndPaddings) {
  check_spatial("k3 s2 on 23x19, sp3", conv_net(3, 2, {1, 23, 19}), 1, 3, 1, 6);
  check_spatial("k7 s1 on 3x20x16, sp2", conv_net(7, 1, {3, 20, 16}), 1, 2, 1, 6);
  check_spatial("k11 s2 on 40x40, sp3", conv_net(11, 2, {1, 40, 40}), 1, 3, 1, 6);
  check_spatial("k4 (even) s1 on 21x21, sp3", conv_net(4, 1, {1, 21, 21}), 1, 3, 1, 6);
  check_spatial("k1 s2 (no padding) on 24x24, sp2", conv_net(1, 2, {2, 24, 24}), 1, 2, 1, 6);
  check_spatial("k5 s2 on 30x30, dp2 x sp2", conv_net(5, 2, {1, 30, 30}), 2, 2, 1, 8);
}

// --sp-fc model (Gholami's L_M on the FC side): the flatten all-gathers the row slabs, fc1 is column- and fc2
// row-parallel over the spatial group, the loss covers the whole micro-batch on every member.
TEST(SpatialEquivalence, ModelParallelFcSide) {
  const ModelSpec cnn = ModelSpec::cnn(4, 8, 16, 10);
  const SpFc model    = SpFc::kModel;
  check_spatial("cnn sp2 fc model", cnn, 1, 2, 1, 6, 0, model);  // 6: the batch need not divide by sp
  check_spatial("cnn dp2 x sp2 fc model", cnn, 2, 2, 1, 8, 0, model);
  check_spatial("cnn dp2 x sp2 fc model, m2, zero1", cnn, 2, 2, 2, 8, 1, model);
  check_spatial("cnn sp4 fc model (7 rows over 4)", cnn, 1, 4, 1, 4, 0, model);
  check_spatial("k3 s2 on 3x23x19, sp2 fc model", conv_net(3, 2, {3, 23, 19}), 1, 2, 1, 5, 0, model);
}

// AlexNet below 224x224: its adaptive average pooling (here 2x1 -> 6x6) needs whole images, so the layout
// changes there (to batch, or to whole for --sp-fc model) and the flatten after it is a plain one. 3x95x63 is
// the smallest height at which every conv, pool and the pooling's input split over two devices (95 -> 23 ->
// 11 -> 5 -> 2 rows). Kept light: its 57 M classifier parameters dominate (allocating, zeroing and
// initialising them is most of the time), so 10 classes, batch 2, 2 steps, plain SGD; one test per FC split,
// so that each stays well inside ctest's per-test limit on a loaded host.
void check_alexnet_sp2(SpFc fc) {
  ModelSpec alex = ModelSpec::alexnet(10);
  alex.image     = {3, 95, 63};
  EngineConfig one;
  one.grid         = Grid{1, 1, 1};
  one.schedule     = {pipeline::ScheduleKind::k1F1B, 1, 1, 1};
  EngineConfig cfg = one;
  cfg.grid         = Grid{1, 1, 1, 2};
  cfg.sp_fc        = fc;
  validate_layout(alex, cfg, 2);
  expect_same_run(train_layout(alex, one, 2, 2), train_layout(alex, cfg, 2, 2));
}

TEST(SpatialEquivalence, AlexNetSmallImageSp2) {
  check_alexnet_sp2(SpFc::kBatch);
}

TEST(SpatialEquivalence, AlexNetSmallImageSp2FcModel) {
  check_alexnet_sp2(SpFc::kModel);
}

TEST(SpatialEquivalence, BadLayoutsAreUserErrors) {
  EngineConfig cfg;
  cfg.schedule = {pipeline::ScheduleKind::k1F1B, 1, 1, 1};
  auto message = [&](const ModelSpec& spec, int64_t batch) {
    try {
      validate_layout(spec, cfg, batch);
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), ErrorKind::kUser);
      return std::string(e.what());
    }
    return std::string("no error");
  };
  cfg.grid = Grid{1, 1, 1, 3};
  EXPECT_NE(message(ModelSpec::cnn(), 8).find("--sp 3 does not divide the 8 samples"), std::string::npos);
  cfg.grid = Grid{1, 1, 1, 8};
  EXPECT_NE(message(ModelSpec::cnn(), 16)
                .find("gets 7 rows, fewer than the 8 devices that split them (each needs at least one row); "
                      "use --sp 7 or fewer, or a taller image, e.g. --image 1,32,28"),
            std::string::npos);
  cfg.grid = Grid{1, 1, 1, 2};
  EXPECT_NE(message(ModelSpec::mlp({4, 8, 2}), 8).find("has no convolutional side"), std::string::npos);
  cfg.grid = Grid{1, 2, 1, 2};
  EXPECT_NE(message(ModelSpec::cnn(), 8).find("is not supported"), std::string::npos);
  cfg.sp_fc = SpFc::kModel;
  cfg.grid  = Grid{2, 1, 1, 1};
  EXPECT_NE(message(ModelSpec::cnn(), 8)
                .find("--sp-fc model splits the fully connected weights over the "
                      "spatial group, but --sp is 1; use --sp 2"),
            std::string::npos);
  cfg.grid = Grid{1, 1, 1, 3};  // fc 128 over 3
  EXPECT_NE(message(ModelSpec::cnn(), 8).find("the 128 output features of fc1 over 3 devices"),
            std::string::npos);
  cfg.grid = Grid{1, 1, 1, 2};
  EXPECT_EQ(message(ModelSpec::cnn(), 7), "no error");  // the whole micro-batch on every member
  ModelSpec small = ModelSpec::alexnet();
  small.image     = {3, 63, 63};  // the adaptive pooling gets 1 row
  EXPECT_NE(message(small, 8).find(
                "block avgpool (adaptive_avgpool2d) gets 1 row, fewer than the 2 devices that "
                "split them (each needs at least one row); use --sp 1 or fewer, or a taller image, "
                "e.g. --image 3,95,63"),
            std::string::npos);
  small.image = {3, 95, 63};  // the suggestion holds
  EXPECT_EQ(message(small, 8), "no error");
  small.image = {3, 94, 63};  // and is the smallest
  EXPECT_NE(message(small, 8).find("gets 1 row"), std::string::npos);
  ModelSpec alex = ModelSpec::alexnet();
  alex.dropout   = 0.5;
  EXPECT_NE(message(alex, 8).find("use --dropout 0 or --sp-fc batch"), std::string::npos);
  EXPECT_THROW(parse_sp_fc("rows"), Error);
}

}  // namespace
