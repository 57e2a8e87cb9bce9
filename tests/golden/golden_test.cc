// PyTorch golden test (llm.c's test_gpt2 in spirit): for each model family, load the parameters PyTorch
// started from (tests/golden/<model>.safetensors, written by make_goldens.py), then check our logits, loss,
// every gradient and a 10-step SGD loss curve against PyTorch's — on the fast kernels and on the reference
// ones.
//
// Tolerances (|ours - torch| <= atol + rtol * |torch|), from measured float32-vs-float64 discrepancies of the
// PyTorch models themselves (make_goldens.py prints them), i.e. how far two correct float32 implementations
// may drift apart:
//   logits, loss, gradients: rtol 1e-5, atol 1e-5 — measured fp32 error at most 1.3e-6 (gpt logits, |logit|
//     up to 3.1) and 2.4e-7 (gradients), so there is a ~10x margin while a wrong mask, head split, bias or
//     layout moves values by 1e-2 or more.
//   loss curve: rtol 1e-4, atol 1e-5 — ten SGD steps compound the rounding: the gpt curve in fp32 already
//     differs from fp64 by 1.4e-5 (8e-6 relative); consecutive losses differ by ~0.1, so a wrong step is
//     caught.
#include <gtest/gtest.h>

#include <cmath>
#include <set>

#include "golden/golden_cases.h"
#include "paraxis/core/error.h"
#include "paraxis/core/safetensors.h"
#include "paraxis/kernels/matmul.h"
#include "paraxis/nn/model.h"
#include "paraxis/nn/param_io.h"

using namespace paraxis;

namespace {

constexpr float kRtol = 1e-5f, kAtol = 1e-5f;
constexpr float kCurveRtol = 1e-4f, kCurveAtol = 1e-5f;
constexpr float kLr  = 0.1f;
constexpr int kSteps = 10;

void expect_close(const std::vector<float>& got, const std::vector<float>& want, float rtol, float atol,
                  const std::string& what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  size_t bad = 0, worst = 0;
  double worst_excess = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    double diff = std::fabs(double(got[i]) - double(want[i]));
    double tol  = atol + rtol * std::fabs(double(want[i]));
    if (!(diff <= tol)) {  // also catches NaN
      ++bad;
      if (!(diff - tol <= worst_excess)) worst_excess = diff - tol, worst = i;
    }
  }
  EXPECT_EQ(bad, 0u) << what << ": " << bad << " of " << got.size() << " elements out of tolerance; worst at "
                     << worst << ": ours " << got[worst] << " vs torch " << want[worst];
}

struct Params {
  golden::Case c;
  KernelPath path;
};

// Readable test names in failure messages instead of a byte dump.
void PrintTo(const Params& p, std::ostream* os) {
  *os << p.c.describe << (p.path == KernelPath::kFast ? " (fast kernels)" : " (reference kernels)");
}

class Golden : public ::testing::TestWithParam<Params> {
 protected:
  void SetUp() override { set_kernel_path(GetParam().path); }
  void TearDown() override { set_kernel_path(KernelPath::kFast); }
};

}  // namespace

TEST_P(Golden, LogitsLossGradientsAndCurveMatchPyTorch) {
  const golden::Case& c = GetParam().c;
  SafetensorsFile f     = read_safetensors(golden::path_of(c));
  ASSERT_EQ(f.metadata.at("model"), c.describe);

  std::unique_ptr<Model> model = build_model(c.spec);
  std::vector<Param*> params   = model->params();
  std::set<std::string> names, expected;
  for (const Param* p : params) names.insert(p->name);
  for (const auto& [name, shape] : golden::expected_params(c.spec)) expected.insert(name);
  ASSERT_EQ(names, expected) << "the model's parameter names differ from docs/model-names.md";
  load_params(f, params, c.file, ExtraTensors::kIgnore);

  const Tensor& x = f.tensors.at("input.x");
  const Tensor& y = f.tensors.at("input.y");
  ASSERT_EQ(model->input_shape(x.dim(0)), x.shape());

  // Forward and loss.
  std::vector<Ctx> ctx;
  model->zero_grad();
  Tensor logits = model->forward(ctx, x);
  ASSERT_EQ(logits.shape(), f.tensors.at("out.logits").shape());
  expect_close(logits.to_vector(), f.tensors.at("out.logits").to_vector(), kRtol, kAtol, "logits");
  LossResult loss = softmax_cross_entropy(logits, y);
  expect_close({loss.loss}, f.tensors.at("out.loss").to_vector(), kRtol, kAtol, "loss");

  // Backward: every gradient.
  model->backward(ctx, loss.dlogits);
  for (const Param* p : params) {
    expect_close(p->grad.to_vector(), f.tensors.at("grad." + p->name).to_vector(), kRtol, kAtol,
                 "grad." + p->name);
  }

  // Ten plain SGD steps on the same batch from the same start; the loss before each step.
  load_params(f, params, c.file, ExtraTensors::kIgnore);
  std::vector<float> curve;
  for (int step = 0; step < kSteps; ++step) {
    model->zero_grad();
    std::vector<Ctx> step_ctx;
    LossResult r = softmax_cross_entropy(model->forward(step_ctx, x), y);
    curve.push_back(r.loss);
    model->backward(step_ctx, r.dlogits);
    for (Param* p : params) {
      float* w       = p->value.data();
      const float* g = p->grad.data();
      for (int64_t i = 0; i < p->value.numel(); ++i) w[i] -= kLr * g[i];
    }
  }
  expect_close(curve, f.tensors.at("curve.loss").to_vector(), kCurveRtol, kCurveAtol, "loss curve");
}

namespace {
std::vector<Params> all_params() {
  std::vector<Params> out;
  for (const golden::Case& c : golden::cases()) {
    out.push_back({c, KernelPath::kFast});
    out.push_back({c, KernelPath::kRef});
  }
  return out;
}
}  // namespace

INSTANTIATE_TEST_SUITE_P(Models, Golden, ::testing::ValuesIn(all_params()), [](const auto& info) {
  return info.param.c.spec.kind + (info.param.path == KernelPath::kFast ? "_fast" : "_ref");
});
