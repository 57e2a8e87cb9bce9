// examples/train_mlp.cc — train an MLP on Fashion-MNIST with the paraxis library, read top to bottom.
//
//   build/example_train_mlp            # one device: 2000 steps of batch 64 (~2 epochs), ~84% test accuracy
//   build/example_train_mlp --tp 2     # the same run on two devices, every pair of layers split in two
//   build/example_train_mlp --steps 5000 --lr 0.05 --print-every 500
//
// The data are Debian's dataset-fashion-mnist (apt-get install dataset-fashion-mnist). `paraxis train` does
// the same with flags, checkpoints, logs and every layout; this is the part of it a program of your own
// needs.
//
// Both layouts print the same losses, to fp32 rounding, for the first hundred or so steps; then the rounding
// differences (the two devices add partial products in another order) grow, as between any two slightly
// different runs of SGD, and the curves wander apart while reaching the same accuracy.
#include <fmt/format.h>

#include <cstdlib>
#include <cstring>
#include <memory>

#include "paraxis/comm/launch.h"
#include "paraxis/core/error.h"
#include "paraxis/data/loader.h"
#include "paraxis/data/sources.h"
#include "paraxis/parallel/engine.h"
#include "paraxis/train/loop.h"

using namespace paraxis;

struct Options {
  int tp              = 1;  // devices, all in one tensor-parallel group
  int64_t steps       = 2000;
  int64_t batch       = 64;
  double lr           = 0.05;
  int64_t print_every = 100;
};

Options parse_options(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const bool has_value = i + 1 < argc;
    if (!std::strcmp(argv[i], "--tp") && has_value)
      o.tp = std::atoi(argv[++i]);
    else if (!std::strcmp(argv[i], "--steps") && has_value)
      o.steps = std::atoll(argv[++i]);
    else if (!std::strcmp(argv[i], "--batch") && has_value)
      o.batch = std::atoll(argv[++i]);
    else if (!std::strcmp(argv[i], "--lr") && has_value)
      o.lr = std::atof(argv[++i]);
    else if (!std::strcmp(argv[i], "--print-every") && has_value)
      o.print_every = std::atoll(argv[++i]);
    else {
      fmt::print(stderr, "usage: {} [--tp N] [--steps N] [--batch B] [--lr LR] [--print-every N]\n", argv[0]);
      std::exit(2);
    }
  }
  if (o.tp < 1 || o.steps < 1 || o.batch < 1 || !(o.lr > 0) || o.print_every < 1) {
    fmt::print(stderr, "--tp, --steps, --batch, --lr and --print-every must be positive\n");
    std::exit(2);
  }
  return o;
}

int main(int argc, char** argv) try {
  const Options opt = parse_options(argc, argv);

  // The data: 60000 training and 10000 test images of clothes, each 28x28 flattened to 784 features in
  // [0, 1], labels 0..9. Shared (read-only) by every device.
  auto train = std::make_shared<ClassificationDataset>(load_fashion_mnist("train"));
  auto test  = std::make_shared<ClassificationDataset>(load_fashion_mnist("test"));

  // The model is a spec, not built layers: each device builds its own share of it (with --tp 2, half of
  // every weight). Blocks fc1 relu1 fc2 relu2 fc3; tensor parallelism pairs fc1 (output columns split) with
  // fc2 (input rows split, partial outputs summed), and keeps the small fc3 whole on every device.
  const ModelSpec spec = ModelSpec::mlp({784, 256, 256, 10});

  // The layout and the optimizer. One pipeline stage and one micro-batch: every device works on the whole
  // batch, each on its half of the layers. The seed fixes the initialisation, and every shard initialises
  // itself as its slice of the one-device weights, so both layouts train the same model.
  EngineConfig ecfg;
  ecfg.grid       = make_grid(/*devices=*/opt.tp, /*dp=*/0, /*tp=*/opt.tp, /*pp=*/1);  // dp derived: 1
  ecfg.schedule   = {pipeline::ScheduleKind::k1F1B, /*pp=*/1, /*microbatches=*/1};
  ecfg.seed       = 1;
  ecfg.optim.kind = "sgd";
  ecfg.optim.sgd  = {/*momentum=*/0.9, /*weight_decay=*/0.0};
  // Bad sizes (a hidden width tp does not divide, a batch too small) are reported here, before any thread
  // starts, rather than as a failure inside one device.
  validate_layout(spec, ecfg, opt.batch);

  fmt::print("{} on {} device(s) ({}), batch {}, SGD lr {} momentum 0.9, {} steps\n", spec.describe(), opt.tp,
             ecfg.grid.describe(), opt.batch, opt.lr, opt.steps);

  // Devices are threads of this process: run_devices starts one per device and runs this body on each,
  // with the communicator that connects them. Every device runs the same loop on the same batches.
  run_devices(opt.tp, {}, [&](Communicator& world) {
    Engine engine(spec, ecfg, world);  // this device's shard, optimizer state and step schedule
    // The same seeded shuffle on every device: each sees the same global batch (and takes its part of it).
    Loader loader(train, {.batch_size = opt.batch, .shuffle = true, .seed = 1});
    const bool lead = world.rank() == 0;  // one device prints; the loss is the same on all of them

    LoopHooks hooks;
    hooks.lr = [&](int64_t /*step*/) { return opt.lr; };  // constant; any schedule fits here
    // Evaluation is collective (each device computes its half of every layer), so every device calls it;
    // the loop calls it after the last step (eval_every = 0: never before).
    hooks.evaluate = [&](int64_t /*step*/) { return evaluate_dataset(engine, test, /*batch=*/1000); };
    hooks.on_step  = [&](const StepReport& r) {
      if (!lead) return;
      if (r.step % opt.print_every == 0 || r.step == 1)
        fmt::print("step {:5}: loss {:.4f} ({:.2f} ms)\n", r.step, r.stats.loss, r.stats.step_ms);
      if (r.step == opt.steps) fmt::print("final loss {:.6f}\n", r.stats.loss);
      if (r.eval)
        fmt::print("test accuracy {:.2f}% (loss {:.4f}, {} images)\n", 100 * r.eval->accuracy, r.eval->loss,
                    r.eval->count);
    };
    train_steps(engine, loader, {.start = 0, .end = opt.steps}, hooks);
  });
  return 0;
} catch (const Error& e) {
  // Errors name the cause (a missing dataset file, a size that does not divide) and how to fix it; bad input
  // exits 2, a failure while running 1.
  fmt::print(stderr, "error: {}\n", e.what());
  return e.exit_code();
}
