// Promise 2: every layout trains the same run as one device. Each layout trains N steps on the same data and
// seed as a single device; every step's loss and the final parameters must agree to fp32 tolerance.
#include <gtest/gtest.h>

#include <map>
#include <mutex>

#include "parallel/equivalence_util.h"
#include "paraxis/comm/launch.h"
#include "paraxis/parallel/engine.h"

using namespace paraxis;
using namespace paraxis::testing_util;

namespace {

struct Case {
  const char* name;
  ModelSpec spec;
  int dp, tp, pp;
  pipeline::ScheduleKind kind;
  int m, v;
  int zero          = 0;
  std::string optim = "sgd";
  double clip       = 1.0;    // 0: no clipping, the optimizer's fused norm+update+zero pass
  bool defer_wgrad  = false;  // Linear weight gradients once per step from all micro-batches
  bool recompute    = false;  // activations dropped after F and recomputed (R) before the backward
};

void check_case(const Case& c, int steps = 20, int64_t batch = 16) {
  SCOPED_TRACE(c.name);
  EngineConfig one;
  one.grid               = Grid{1, 1, 1};
  one.schedule           = {pipeline::ScheduleKind::k1F1B, 1, 1, 1};
  one.optim.kind         = c.optim;
  one.optim.sgd.momentum = 0.9;
  one.optim.clip_norm    = c.clip;
  RunResult ref          = train_layout(c.spec, one, steps, batch);

  EngineConfig cfg = one;
  cfg.grid         = Grid{c.dp, c.tp, c.pp};
  cfg.schedule     = {c.kind, c.pp, c.m, c.v};
  cfg.zero         = c.zero;
  cfg.defer_wgrad  = c.defer_wgrad;
  cfg.recompute    = c.recompute;
  cfg.bucket_mb    = 0.01;  // several buckets even for small models
  RunResult got    = train_layout(c.spec, cfg, steps, batch);
  expect_same_run(ref, got);
}

ModelSpec small_mlp() {
  return ModelSpec::mlp({12, 32, 24, 16, 5});
}
ModelSpec small_gpt() {
  return ModelSpec::gpt(/*vocab=*/32, /*context=*/8, /*width=*/16, /*heads=*/2, /*layers=*/2);
}
ModelSpec small_cnn() {
  return ModelSpec::cnn(4, 8, 16, 10);
}

using K = pipeline::ScheduleKind;

}  // namespace

TEST(Equivalence, MlpDataParallel) {
  check_case({"mlp dp2", small_mlp(), 2, 1, 1, K::k1F1B, 1, 1});
  check_case({"mlp dp4", small_mlp(), 4, 1, 1, K::k1F1B, 1, 1});
  check_case({"mlp dp2 zero1 adamw", small_mlp(), 2, 1, 1, K::k1F1B, 1, 1, 1, "adamw"});
}

TEST(Equivalence, MlpPlacementAndPipelines) {
  check_case({"mlp placement 2", small_mlp(), 1, 1, 2, K::kGPipe, 1, 1});
  check_case({"mlp placement 4", small_mlp(), 1, 1, 4, K::kGPipe, 1, 1});
  for (K k : {K::kGPipe, K::k1F1B, K::kZBH1})
    for (int pp : {2, 4})
      for (int m : {1, 4, 8}) {
        std::string name = std::string("mlp ") + pipeline::schedule_kind_name(k) + " pp" +
                           std::to_string(pp) + " m" + std::to_string(m);
        check_case({name.c_str(), small_mlp(), 1, 1, pp, k, m, 1}, 6);
      }
  check_case({"mlp interleaved pp2 v2 m4", ModelSpec::mlp({12, 32, 24, 16, 16, 5}), 1, 1, 2,
              K::kInterleaved1F1B, 4, 2},
             6);
  check_case({"mlp pp2 x dp2 1f1b m4", small_mlp(), 2, 1, 2, K::k1F1B, 4, 1});
}

TEST(Equivalence, GptPipelinesAndDataParallel) {
  check_case({"gpt dp2", small_gpt(), 2, 1, 1, K::k1F1B, 1, 1}, 6, 8);
  check_case({"gpt placement 2", small_gpt(), 1, 1, 2, K::kGPipe, 1, 1}, 6, 8);
  for (K k : {K::kGPipe, K::k1F1B, K::kZBH1})
    for (int pp : {2, 4}) {
      std::string name = std::string("gpt ") + pipeline::schedule_kind_name(k) + " pp" + std::to_string(pp);
      check_case({name.c_str(), small_gpt(), 1, 1, pp, k, 4, 1}, 4, 8);
    }
}

TEST(Equivalence, CnnDataParallelAndPlacement) {
  check_case({"cnn dp2", small_cnn(), 2, 1, 1, K::k1F1B, 1, 1}, 4, 8);
  check_case({"cnn 1f1b pp2 m4", small_cnn(), 1, 1, 2, K::k1F1B, 4, 1}, 4, 8);
}

TEST(Equivalence, GradientAccumulationOnOneDevice) {
  check_case({"mlp one device m4", small_mlp(), 1, 1, 1, K::k1F1B, 4, 1});
}

// Without clipping the optimizer fuses the norm, the update and the zeroing into one pass (and ZeRO-1 zeroes
// only its shard that way); with --defer-wgrad the Linear weight gradients of all micro-batches are one GEMM.
TEST(Equivalence, FusedOptimizerStepAndDeferredWeightGradients) {
  Case c{"mlp dp2 no clip", small_mlp(), 2, 1, 1, K::k1F1B, 1, 1};
  c.clip = 0;
  check_case(c);
  c      = {"mlp dp2 zero1 adamw no clip", small_mlp(), 2, 1, 1, K::k1F1B, 1, 1, 1, "adamw"};
  c.clip = 0;
  check_case(c);
  for (K k : {K::kGPipe, K::k1F1B, K::kZBH1})
    for (int pp : {1, 2, 4}) {
      std::string name = std::string("mlp deferred W ") + pipeline::schedule_kind_name(k) + " pp" +
                         std::to_string(pp) + " m4";
      c             = {name.c_str(), small_mlp(), 1, 1, pp, k, 4, 1};
      c.defer_wgrad = true;
      check_case(c, 6);
    }
  c             = {"mlp deferred W pp2 x dp2 1f1b m4 no clip", small_mlp(), 2, 1, 2, K::k1F1B, 4, 1};
  c.defer_wgrad = true, c.clip = 0;
  check_case(c, 6);
  c             = {"gpt deferred W 1f1b pp2 m4", small_gpt(), 1, 1, 2, K::k1F1B, 4, 1};
  c.defer_wgrad = true;
  check_case(c, 4, 8);
  c             = {"mlp deferred W interleaved pp2 v2 m4",
                   ModelSpec::mlp({12, 32, 24, 16, 16, 5}),
                   1,
                   1,
                   2,
                   K::kInterleaved1F1B,
                   4,
                   2};
  c.defer_wgrad = true;
  check_case(c, 6);
  c = {"mlp deferred W dp2 x pp2 zero1 adamw m4", small_mlp(), 2, 1, 2, K::k1F1B, 4, 1, 1, "adamw"};
  c.defer_wgrad = true, c.clip = 0;
  check_case(c, 6);
  c             = {"mlp deferred W dp2 x tp2 m2", small_mlp(), 2, 2, 1, K::k1F1B, 2, 1};
  c.defer_wgrad = true;
  check_case(c, 6);
}

// Activation recompute: every stage drops its blocks' activations after F and re-runs the forward (R) right
// before the backward. (Dropout: see RecomputeDrawsTheSameDropoutMasks.)
TEST(Equivalence, ActivationRecompute) {
  for (K k : {K::kGPipe, K::k1F1B, K::kZBH1})
    for (int pp : {1, 2}) {
      std::string name = std::string("mlp recompute ") + pipeline::schedule_kind_name(k) + " pp" +
                         std::to_string(pp) + " m4";
      Case c{name.c_str(), small_mlp(), 1, 1, pp, k, 4, 1};
      c.recompute = true;
      check_case(c, 6);
    }
  Case c{"gpt recompute 1f1b pp2 m4", small_gpt(), 1, 1, 2, K::k1F1B, 4, 1};
  c.recompute = true;
  check_case(c, 4, 8);
  c           = {"mlp recompute dp2 x pp2 deferred W m4", small_mlp(), 2, 1, 2, K::k1F1B, 4, 1};
  c.recompute = c.defer_wgrad = true;
  check_case(c, 6);
  c           = {"cnn recompute tp2 x pp2 m2", small_cnn(), 1, 2, 2, K::k1F1B, 2, 1};
  c.recompute = true;
  check_case(c, 4, 8);
}

// With dropout a run depends on its micro-batching (masks are keyed on step and micro-batch), so recompute is
// compared with the same layout without it: R draws the same masks as F did, the runs agree.
TEST(Equivalence, RecomputeDrawsTheSameDropoutMasks) {
  ModelSpec spec = small_gpt();
  spec.dropout   = 0.1f;
  EngineConfig cfg;
  cfg.grid               = Grid{1, 1, 2};
  cfg.schedule           = {K::k1F1B, 2, 4, 1};
  cfg.optim.sgd.momentum = 0.9;
  RunResult plain        = train_layout(spec, cfg, 4, 8);
  cfg.recompute          = true;
  RunResult recomputed   = train_layout(spec, cfg, 4, 8);
  expect_same_run(plain, recomputed);
}

// What recompute is for: the measured stash (activations kept for the backward) shrinks from every
// micro-batch's activations to their stage inputs plus one micro-batch's activations (here 8 x 64 KiB -> 8 x
// 16 + 64 KiB).
TEST(Equivalence, RecomputeKeepsLessForTheBackward) {
  const ModelSpec spec = ModelSpec::mlp({12, 256, 256, 256, 5});
  EngineConfig cfg;
  cfg.grid            = Grid{1, 1, 2};
  cfg.schedule        = {K::kGPipe, 2, 8, 1};  // GPipe: a stage holds all 8 micro-batches
  const int64_t plain = train_layout(spec, cfg, 2, 64).peak_stash_bytes;
  cfg.recompute       = true;
  const int64_t kept  = train_layout(spec, cfg, 2, 64).peak_stash_bytes;
  EXPECT_GT(plain, 0);
  EXPECT_LE(kept, plain / 2) << "recompute kept " << kept << " bytes, without it " << plain;
}
