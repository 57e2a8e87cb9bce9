// The training loop (train/loop.h): when its hooks run, resuming mid-run, divergence, evaluation; the median
// of step times; the placement rule every caller shares.
#include "paraxis/train/loop.h"

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "paraxis/comm/launch.h"
#include "paraxis/core/error.h"
#include "paraxis/data/sources.h"
#include "paraxis/train/layout_run.h"
#include "paraxis/train/trainer.h"

namespace paraxis {
namespace {

std::shared_ptr<const Dataset> blobs() {
  static auto data =
      std::make_shared<ClassificationDataset>(make_synthetic_classification(256, {12}, 4, 3, 1.0f));
  return data;
}

EngineConfig one_device() {
  EngineConfig e;
  e.grid       = make_grid(1, 0, 1, 1);
  e.optim.kind = "sgd";
  e.optim.sgd  = {0.9, 0.0};
  return e;
}

// Runs `body(engine, loader)` on one device with a small MLP.
template <typename Body>
void on_one_device(Body body) {
  run_devices(1, {}, [&](Communicator& world) {
    Engine engine(ModelSpec::mlp({12, 16, 4}), one_device(), world);
    Loader loader(blobs(), {.batch_size = 32, .shuffle = true, .seed = 1});
    body(engine, loader);
  });
}

TEST(TrainLoop, HooksRunAtTheirSteps) {
  std::vector<int64_t> lr_steps, reported, evaluated, reported_eval, saved;
  on_one_device([&](Engine& engine, Loader& loader) {
    LoopHooks h;
    h.lr = [&](int64_t step) {
      lr_steps.push_back(step);
      return 0.05;
    };
    h.eval_every = 3;
    h.evaluate   = [&](int64_t step) {
      evaluated.push_back(step);
      return evaluate_dataset(engine, blobs(), 64);
    };
    h.on_step = [&](const StepReport& r) {
      reported.push_back(r.step);
      if (r.eval) reported_eval.push_back(r.step);
      EXPECT_DOUBLE_EQ(r.lr, 0.05);
      EXPECT_TRUE(std::isfinite(r.stats.loss));
    };
    h.save_every = 5;
    h.checkpoint = [&](int64_t step) { saved.push_back(step); };
    train_steps(engine, loader, {.start = 0, .end = 7}, h);
  });
  EXPECT_EQ(lr_steps, (std::vector<int64_t>{0, 1, 2, 3, 4, 5, 6}));
  EXPECT_EQ(reported, (std::vector<int64_t>{1, 2, 3, 4, 5, 6, 7}));
  EXPECT_EQ(evaluated, (std::vector<int64_t>{3, 6, 7}));  // every 3 steps and after the last
  EXPECT_EQ(reported_eval, evaluated);
  EXPECT_EQ(saved, (std::vector<int64_t>{5, 7}));  // every 5 steps and after the last
}

TEST(TrainLoop, ResumedRangeContinuesTheSameRun) {
  // Steps [0, 5) in one go equal [0, 2) then [2, 5) on a fresh loop over the same engine and loader.
  std::vector<double> whole, parts;
  auto collect = [](std::vector<double>& into) {
    LoopHooks h;
    h.lr      = [](int64_t) { return 0.05; };
    h.on_step = [&into](const StepReport& r) { into.push_back(r.stats.loss); };
    return h;
  };
  on_one_device([&](Engine& e, Loader& l) { train_steps(e, l, {0, 5}, collect(whole)); });
  on_one_device([&](Engine& e, Loader& l) {
    train_steps(e, l, {0, 2}, collect(parts));
    train_steps(e, l, {2, 5}, collect(parts));
  });
  EXPECT_EQ(parts, whole);
}

TEST(TrainLoop, DivergenceNamesTheStepAndTheHint) {
  on_one_device([&](Engine& engine, Loader& loader) {
    LoopHooks h;
    h.lr            = [](int64_t) { return 1e30; };
    h.diverged_hint = "; lower the learning rate";
    try {
      train_steps(engine, loader, {0, 20}, h);
      FAIL() << "a learning rate of 1e30 should diverge";
    } catch (const Error& e) {
      // The step as the log counts it (from 1), the parameter the non-finite update reached, the hint.
      const std::string msg = e.what();
      EXPECT_NE(msg.find("step "), std::string::npos) << msg;
      EXPECT_NE(msg.find("the first parameter it reached: '"), std::string::npos) << msg;
      EXPECT_NE(msg.find("training stopped (diverged, or non-finite data); lower the learning rate"),
                std::string::npos)
          << msg;
    }
  });
}

TEST(TrainLoop, EvaluatesEveryRowOrTheFirstBatches) {
  on_one_device([&](Engine& engine, Loader&) {
    const EvalResult all = evaluate_dataset(engine, blobs(), 100);  // 100 + 100 + 56 rows
    EXPECT_EQ(all.count, 256);
    EXPECT_GT(all.loss, 0);
    EXPECT_GE(all.accuracy, 0);
    EXPECT_LE(all.accuracy, 1);
    EXPECT_EQ(evaluate_dataset(engine, blobs(), 100, 2).count, 200);
  });
}

TEST(TrainLoop, MedianStepSkipsTheFirstOfThreeOrMore) {
  EXPECT_EQ(median_step_ms({}), 0);
  EXPECT_EQ(median_step_ms({7}), 7);
  EXPECT_EQ(median_step_ms({100, 2}), 51);       // too few to skip one
  EXPECT_EQ(median_step_ms({100, 1, 3}), 2);     // first skipped, the mean of the middle two
  EXPECT_EQ(median_step_ms({100, 3, 1, 2}), 2);  // first skipped
  TrainResult t;
  t.step_ms = {100, 1, 3};
  LayoutRunResult l;
  l.step_ms = t.step_ms;
  EXPECT_EQ(t.median_step_ms(), l.median_step_ms());  // `paraxis train` and the demo: one rule
}

TEST(TrainLoop, PlacementIsOnePipelineStagePerDeviceWithOneMicroBatch) {
  TrainConfig t;
  t.devices = 3, t.placement = true, t.microbatches = 1, t.schedule = "1f1b";
  apply_placement(t);
  EXPECT_EQ(t.pp, 3);
  EXPECT_EQ(t.schedule, "gpipe");
  EXPECT_EQ(t.microbatches, 1);
  // run_layout and the demo's cost model take the same rule (a demo base with m = 8 runs placement at m = 1).
  LayoutRunConfig c;
  c.devices = 2, c.placement = true, c.microbatches = 8, c.pp = 1;
  const TrainConfig r = train_config(c);
  EXPECT_EQ(r.pp, 2);
  EXPECT_EQ(r.schedule, "gpipe");
  EXPECT_EQ(r.microbatches, 1);
  // Without --placement nothing changes.
  TrainConfig plain;
  plain.devices = 2, plain.pp = 2, plain.microbatches = 4;
  apply_placement(plain);
  EXPECT_EQ(plain.pp, 2);
  EXPECT_EQ(plain.microbatches, 4);
  EXPECT_EQ(plain.schedule, "1f1b");
}

TEST(TrainLoop, PlacementWithMicroBatchesIsAUserErrorInTrain) {
  TrainConfig t;
  t.model   = ModelSpec::mlp({12, 16, 4});
  t.devices = 2, t.placement = true, t.microbatches = 4;
  try {
    validate_train_config(t);
    FAIL() << "--placement with --microbatches 4 should be refused";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kUser) << e.what();
  }
}

}  // namespace
}  // namespace paraxis
