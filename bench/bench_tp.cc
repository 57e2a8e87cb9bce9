// bench_tp — tensor parallelism's speed-up: median Engine step (forward, loss, backward, SGD) of the MLP
// 784-4096-4096-10 at global batch 256 on one device, then with --tp 2 on two devices (threads backend, one
// kernel thread each), measured in the same run. Also prints each device's thread-CPU time per step, steadier
// than wall time on a shared machine. The target (the parallel-axes issue): tp2 ≥ 1.6× one device.
//
//   build/bench_tp [iterations=10] [tp=2]
#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <ctime>
#include <mutex>
#include <vector>

#include "paraxis/comm/launch.h"
#include "paraxis/core/rng.h"
#include "paraxis/parallel/engine.h"

using namespace paraxis;

namespace {

double thread_cpu_ms() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

struct Timing {
  double wall_ms = 0, cpu_ms = 0;
};

Timing run(const ModelSpec& spec, int tp, int iters, const Tensor& x, const Tensor& y) {
  EngineConfig cfg;
  cfg.grid     = Grid{1, tp, 1};
  cfg.schedule = {pipeline::ScheduleKind::k1F1B, 1, 1, 1};
  std::vector<double> walls, cpus;
  std::mutex mu;
  run_devices(tp, DeviceOptions{}, [&](Communicator& world) {
    Engine engine(spec, cfg, world);
    engine.step(x, y, 0.01);  // warm-up: oneDNN primitives, first-touch of the buffers
    std::vector<double> w, c;
    for (int i = 0; i < iters; ++i) {
      world.barrier();
      double c0 = thread_cpu_ms();
      auto t0   = std::chrono::steady_clock::now();
      engine.step(x, y, 0.01);
      w.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
      c.push_back(thread_cpu_ms() - c0);
    }
    std::lock_guard<std::mutex> lock(mu);
    if (world.rank() == 0) walls = w;
    cpus.insert(cpus.end(), c.begin(), c.end());
  });
  auto median = [](std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
  };
  return {median(walls), median(cpus)};
}

}  // namespace

int main(int argc, char** argv) {
  const int iters = argc > 1 ? std::max(1, std::atoi(argv[1])) : 10;
  const int tp    = argc > 2 ? std::max(2, std::atoi(argv[2])) : 2;
  ModelSpec spec  = ModelSpec::mlp({784, 4096, 4096, 10});
  const int64_t B = 256;
  Tensor x        = Tensor::empty({B, 784});
  Tensor y        = Tensor::empty({B}, DType::kI32);
  rng_fill_uniform(x, 0, 1, Philox(1, 1));
  for (int64_t i = 0; i < B; ++i) y.data_i32()[i] = static_cast<int32_t>(i % 10);

  Timing one = run(spec, 1, iters, x, y);
  Timing par = run(spec, tp, iters, x, y);
  fmt::print("{:<34} {:>12} {:>16}\n", "mlp 784-4096-4096-10, batch 256", "wall ms/step", "cpu ms/step/dev");
  fmt::print("{:<34} {:>12.1f} {:>16.1f}\n", "one device", one.wall_ms, one.cpu_ms);
  fmt::print("{:<34} {:>12.1f} {:>16.1f}\n", fmt::format("tp{} on {} devices", tp, tp), par.wall_ms,
             par.cpu_ms);
  fmt::print("speed-up (wall) {:.2f}x, (cpu per device) {:.2f}x; target tp2 >= 1.6x\n",
             one.wall_ms / par.wall_ms, one.cpu_ms / par.cpu_ms);
  return 0;
}
