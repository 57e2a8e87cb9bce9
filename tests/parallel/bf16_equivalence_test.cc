// bf16 training (precision.h): the loss curve of a bf16 run stays within a stated tolerance of the fp32 run,
// and every layout trains the same bf16 run as one device (gradients are all-reduced in fp32).
#include <gtest/gtest.h>

#include <cmath>

#include "equivalence_util.h"
#include "paraxis/kernels/precision.h"

namespace paraxis {
namespace {

using testing_util::RunResult;
using testing_util::train_layout;
using K = pipeline::ScheduleKind;

EngineConfig layout(int dp, int tp, int pp, int m) {
  EngineConfig cfg;
  cfg.grid               = Grid{dp, tp, pp};
  cfg.schedule           = {K::k1F1B, pp, m, 1};
  cfg.optim.sgd.momentum = 0.9;
  cfg.bucket_mb          = 0.01;
  return cfg;
}

const ModelSpec kMlp = ModelSpec::mlp({64, 256, 256, 10});

// The stated tolerance: every step's loss within 2% of the fp32 run's over 30 steps of SGD with momentum
// (bf16 keeps 8 significant bits: each product's inputs are off by at most 2^-9 relative).
// `learns`: the data lets the model lower its loss in 30 steps (the MLP's; random tokens teach a GPT little).
void expect_bf16_curve_near_fp32(const ModelSpec& spec, int64_t batch, bool learns) {
  SCOPED_TRACE(spec.describe());
  const RunResult fp32 = train_layout(spec, layout(1, 1, 1, 1), 30, batch);
  RunResult bf16;
  {
    MatmulPrecisionScope scope(Precision::kBf16);
    bf16 = train_layout(spec, layout(1, 1, 1, 1), 30, batch);
  }
  double largest = 0;
  for (size_t s = 0; s < fp32.losses.size(); ++s) {
    const double rel = std::abs(bf16.losses[s] - fp32.losses[s]) / std::abs(fp32.losses[s]);
    EXPECT_LE(rel, 0.02) << "step " << s << ": bf16 " << bf16.losses[s] << ", fp32 " << fp32.losses[s];
    largest = std::max(largest, rel);
  }
  EXPECT_GT(largest, 1e-6) << "the bf16 run computed exactly the fp32 run: were its products bf16?";
  if (!learns) return;
  EXPECT_LT(fp32.losses.back(), fp32.losses.front());
  EXPECT_LT(bf16.losses.back(), bf16.losses.front()) << "the bf16 run learns";
}

TEST(Bf16Training, LossCurveStaysWithinTwoPercentOfFp32) {
  expect_bf16_curve_near_fp32(kMlp, 32, true);
  expect_bf16_curve_near_fp32(ModelSpec::gpt(64, 16, 32, 4, 2), 8, false);  // attention's products too
  expect_bf16_curve_near_fp32(ModelSpec::cnn(4, 8, 16, 10), 8, false);      // and convolutions
}

// dp, tp and pp in bf16 against one device in bf16. A layout changes the summation order of fp32
// accumulations, and a last-bit difference can round an activation to the neighbouring bf16 value, so the
// tolerance is bf16's relative step (2^-8 ≈ 4e-3) rather than fp32's.
TEST(Bf16Training, EveryLayoutTrainsLikeOneDevice) {
  MatmulPrecisionScope scope(Precision::kBf16);
  const RunResult one = train_layout(kMlp, layout(1, 1, 1, 1), 10, 32);
  for (auto [dp, tp, pp, m] :
       {std::array{2, 1, 1, 1}, std::array{1, 2, 1, 1}, std::array{1, 1, 2, 4}, std::array{2, 1, 2, 2}}) {
    SCOPED_TRACE(::testing::Message() << "dp" << dp << " tp" << tp << " pp" << pp << " m" << m);
    testing_util::expect_same_run(one, train_layout(kMlp, layout(dp, tp, pp, m), 10, 32), 4e-3, 4e-4);
  }
}

}  // namespace
}  // namespace paraxis
