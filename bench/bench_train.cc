// bench_train — one full training step on one device (data, forward, backward, optimizer: SGD momentum) with
// the Engine `paraxis train` uses, against PyTorch on the same model, batch and thread count in the same run
// (torch_step.py --optimizer sgd; the peer's OpenBLAS set up at its best, see torch_peer.h). Also splits our
// step: forward + backward actions (the layers' kernels and the loss), the optimizer (gradient norm, update,
// zeroing), the data loader, and the rest — the time outside the kernels.
//
//   build/bench_train [runs=10] [threads=1]
#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <vector>

#include "paraxis/comm/launch.h"
#include "paraxis/data/loader.h"
#include "paraxis/data/sources.h"
#include "paraxis/parallel/engine.h"
#include "torch_peer.h"

using namespace paraxis;

namespace {

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

void row(const char* label, const ModelSpec& spec, int64_t batch, int runs, int threads,
         const std::string& peer_args) {
  // Enough samples for runs + warm-up batches without wrapping an epoch.
  std::shared_ptr<const Dataset> data;
  const int64_t samples = batch * (runs + 4);
  if (spec.kind == "gpt")
    data = make_text_splits(make_synthetic_tokens(samples * spec.context * 2, spec.vocab, 1), spec.context,
                            0.1, spec.vocab, "synthetic")
               .train;
  else
    data = std::make_shared<ClassificationDataset>(make_synthetic_classification(
        samples, spec.kind == "cnn" ? Shape{1, 28, 28} : Shape{spec.mlp_sizes.front()},
        spec.kind == "cnn" ? spec.classes : spec.mlp_sizes.back(), 1, 1.0f));
  std::vector<double> step, compute, optim, loader_ms;
  DeviceOptions dev;
  dev.threads_per_device = threads;
  run_devices(1, dev, [&](Communicator& world) {
    EngineConfig cfg;
    cfg.grid       = Grid{1, 1, 1};
    cfg.schedule   = {pipeline::ScheduleKind::k1F1B, 1, 1, 1};
    cfg.optim.kind = "sgd";
    cfg.optim.sgd  = {0.9, 0.0};
    Engine engine(spec, cfg, world);
    Loader loader(data, {.batch_size = batch, .shuffle = true, .seed = 1});
    for (int it = 0; it < runs + 2; ++it) {
      auto t0     = std::chrono::steady_clock::now();
      Batch b     = loader.next();
      auto t1     = std::chrono::steady_clock::now();
      StepStats s = engine.step(b.x, b.y, 0.01);
      auto t2     = std::chrono::steady_clock::now();
      if (it < 2) continue;  // primitive creation, first touches
      step.push_back(std::chrono::duration<double, std::milli>(t2 - t0).count());
      loader_ms.push_back(std::chrono::duration<double, std::milli>(t1 - t0).count());
      compute.push_back(s.compute_ms);
      optim.push_back(s.optim_ms);
    }
  });
  double ours = median(step), fb = median(compute), opt = median(optim), ld = median(loader_ms);
  double other = std::max(0.0, ours - fb - opt - ld);
  double peer  = bench::torch_peer_ms(
       fmt::format("{} --batch {} --runs {} --optimizer sgd", peer_args, batch, runs), threads);
  fmt::print("{:<34} {:>9.2f} {:>9.2f} {:>7} {:>7.1f}% {:>7.1f}% {:>7.1f}% {:>7.1f}%\n", label, ours, peer,
             peer > 0 ? fmt::format("{:.2f}", peer / ours) : "-", 100 * fb / ours, 100 * opt / ours,
             100 * ld / ours, 100 * other / ours);
}

}  // namespace

int main(int argc, char** argv) {
  int runs    = argc > 1 ? std::max(1, std::atoi(argv[1])) : 10;
  int threads = argc > 2 ? std::max(1, std::atoi(argv[2])) : 1;
  fmt::print(
      "full training step (data, forward, backward, SGD momentum), {} thread(s), median of {} runs; peer: "
      "PyTorch, OPENBLAS_CORETYPE={}\n",
      threads, runs, bench::peer_coretype().empty() ? "(unset)" : bench::peer_coretype());
  fmt::print(
      "ratio = torch ms / paraxis ms (> 1: paraxis faster); our step split into forward+backward, "
      "optimizer, loader, other\n");
  fmt::print("{:<34} {:>9} {:>9} {:>7} {:>8} {:>8} {:>8} {:>8}\n", "model", "paraxis", "torch", "ratio",
             "fwd+bwd", "optim", "loader", "other");
  row("mlp 784-4096-4096-10 batch 256", ModelSpec::mlp({784, 4096, 4096, 10}), 256, runs, threads,
      "--model mlp --mlp-sizes 784,4096,4096,10");
  row("gpt V256 T128 C256 NH4 L4 batch 8", ModelSpec::gpt(256, 128, 256, 4, 4), 8, runs, threads,
      "--model gpt --gpt 256,128,256,4,4");
  row("cnn c16-c32-fc128-10 batch 64", ModelSpec::cnn(), 64, runs, threads, "--model cnn");
  return 0;
}
