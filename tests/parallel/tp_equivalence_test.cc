// Promise 2 for tensor parallelism: tp ∈ {2, 4}, dp2×tp2 and pp2×tp2 train the same steps as one device on
// the same data and seed; every step's loss and the final parameters agree to fp32 tolerance (rtol 1e-5, atol
// 4e-5), and tp-replicated parameters stay identical on every rank.
#include <gtest/gtest.h>

#include "parallel/equivalence_util.h"
#include "paraxis/parallel/engine.h"

using namespace paraxis;
using namespace paraxis::testing_util;

namespace {

using K = pipeline::ScheduleKind;

struct TpCase {
  const char* name;
  int dp, tp, pp;
  K kind            = K::k1F1B;
  int m             = 1;
  std::string optim = "sgd";
  int zero          = 0;
};

void check_tp(const ModelSpec& spec, const TpCase& c, int steps, int64_t batch) {
  SCOPED_TRACE(std::string(c.name) + " " + spec.describe());
  EngineConfig one;
  one.grid               = Grid{1, 1, 1};
  one.schedule           = {K::k1F1B, 1, 1, 1};
  one.optim.kind         = c.optim;
  one.optim.sgd.momentum = 0.9;
  one.optim.clip_norm    = 1.0;  // the global norm must count tp-replicated parameters once
  RunResult ref          = train_layout(spec, one, steps, batch);

  EngineConfig cfg = one;
  cfg.grid         = Grid{c.dp, c.tp, c.pp};
  cfg.schedule     = {c.kind, c.pp, c.m, 1};
  cfg.zero         = c.zero;
  cfg.bucket_mb    = 0.01;
  validate_layout(spec, cfg, batch);
  RunResult got = train_layout(spec, cfg, steps, batch);
  expect_same_run(ref, got);
}

}  // namespace

TEST(TpEquivalence, Mlp) {
  ModelSpec mlp = ModelSpec::mlp({12, 32, 24, 16, 5});  // fc1 col, fc2 row, fc3 col, fc4 row
  check_tp(mlp, {"tp2", 1, 2, 1}, 20, 16);
  check_tp(mlp, {"tp4", 1, 4, 1}, 20, 16);
  check_tp(mlp, {"dp2 x tp2", 2, 2, 1}, 20, 16);
  check_tp(mlp, {"pp2 x tp2 1f1b m4", 1, 2, 2, K::k1F1B, 4}, 20, 16);
  check_tp(mlp, {"pp2 x tp2 zb-h1 m4", 1, 2, 2, K::kZBH1, 4}, 8, 16);  // I and W apart
  check_tp(mlp, {"dp2 x tp2 zero1 adamw", 2, 2, 1, K::k1F1B, 1, "adamw", 1}, 8, 16);
  // An unpaired last Linear stays whole on every rank (784-4096-4096-10's shape, small).
  check_tp(ModelSpec::mlp({12, 32, 24, 5}), {"tp2 unpaired head", 1, 2, 1}, 20, 16);
}

TEST(TpEquivalence, Cnn) {
  ModelSpec cnn = ModelSpec::cnn(4, 8, 16, 10);
  check_tp(cnn, {"tp2", 1, 2, 1}, 4, 8);
  check_tp(cnn, {"tp4", 1, 4, 1}, 4, 8);
  check_tp(cnn, {"dp2 x tp2", 2, 2, 1}, 4, 8);
  check_tp(cnn, {"pp2 x tp2 1f1b m2", 1, 2, 2, K::k1F1B, 2}, 4, 8);
}

TEST(TpEquivalence, Gpt) {
  ModelSpec gpt = ModelSpec::gpt(/*vocab=*/32, /*context=*/8, /*width=*/16, /*heads=*/4, /*layers=*/2);
  check_tp(gpt, {"tp2", 1, 2, 1}, 6, 8);
  check_tp(gpt, {"tp4", 1, 4, 1}, 6, 8);
  check_tp(gpt, {"dp2 x tp2", 2, 2, 1}, 4, 8);
  check_tp(gpt, {"pp2 x tp2 1f1b m2", 1, 2, 2, K::k1F1B, 2}, 4, 8);
  check_tp(gpt, {"pp2 x tp2 zb-h1 m2", 1, 2, 2, K::kZBH1, 2}, 4, 8);
}

TEST(TpEquivalence, EvaluateOverShardedLogits) {
  ModelSpec gpt = ModelSpec::gpt(32, 8, 16, 4, 1);
  Tensor x, y;
  make_batch(gpt, 6, 0, x, y);
  EngineConfig one;
  one.grid     = Grid{1, 1, 1};
  one.schedule = {K::k1F1B, 1, 1, 1};
  Engine::EvalStats ref;
  DeviceOptions opt;
  opt.comm_timeout_s = 60;
  run_devices(1, opt, [&](Communicator& w) { ref = Engine(gpt, one, w).evaluate(x, y); });
  EngineConfig tp = one;
  tp.grid         = Grid{1, 2, 2};
  tp.schedule     = {K::k1F1B, 2, 2, 1};
  run_devices(4, opt, [&](Communicator& w) {
    Engine::EvalStats got = Engine(gpt, tp, w).evaluate(x, y);
    EXPECT_EQ(got.count, ref.count);
    EXPECT_EQ(got.correct, ref.correct);
    EXPECT_NEAR(got.loss_sum, ref.loss_sum, 1e-4 * std::abs(ref.loss_sum));
  });
}
