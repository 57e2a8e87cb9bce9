// bench_step — median time of one forward + loss + backward step, on one kernel thread, of the two reference
// models: MLP 784-4096-4096-10 at batch 256 and GPT (V256, T128, C256, NH4, L4) at batch 8. GFLOP/s uses the
// layers' own cost() flops (forward + backward-input + backward-weight), the numbers the cost model reads.
//
//   build/bench_step [iterations=10]
#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <ctime>
#include <random>
#include <vector>

#include "paraxis/kernels/matmul.h"
#include "paraxis/nn/model.h"

using namespace paraxis;

namespace {

// CPU time of the calling thread: with one kernel thread every flop runs here, and on a shared machine it is
// far steadier than wall time (it still feels cache and hyper-thread contention).
double thread_cpu_ms() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

double model_flops(Model& m, const Shape& in) {
  double flops = 0;
  Shape s      = in;
  for (auto& b : m.blocks) {
    Cost c = b->cost(s);
    flops += c.fwd_flops + c.bwd_input_flops + c.bwd_weight_flops;
    s = b->output_shape(s);
  }
  return flops;
}

void bench(const char* label, const ModelSpec& spec, int64_t batch, int iterations) {
  auto m = build_model(spec);
  m->init(1);
  std::mt19937 g(1);
  Shape in        = m->input_shape(batch);
  Tensor x        = Tensor::empty(in, m->input_dtype()), labels;
  int64_t classes = spec.kind == "gpt" ? spec.vocab : spec.mlp_sizes.back();
  if (spec.kind == "gpt") {
    for (int64_t i = 0; i < x.numel(); ++i) x.data_i32()[i] = static_cast<int32_t>(g() % classes);
    labels = Tensor::empty(in, DType::kI32);
  } else {
    std::uniform_real_distribution<float> d(0, 1);
    for (int64_t i = 0; i < x.numel(); ++i) x.data()[i] = d(g);
    labels = Tensor::empty({batch}, DType::kI32);
  }
  for (int64_t i = 0; i < labels.numel(); ++i) labels.data_i32()[i] = static_cast<int32_t>(g() % classes);

  std::vector<double> wall, cpu;
  for (int it = 0; it < iterations + 2; ++it) {  // two warm-up steps create the oneDNN primitives
    std::vector<Ctx> ctx;
    auto t0      = std::chrono::steady_clock::now();
    double c0    = thread_cpu_ms();
    Tensor out   = m->forward(ctx, x);
    LossResult r = softmax_cross_entropy(out, labels);
    m->backward(ctx, r.dlogits);
    double c1 = thread_cpu_ms();
    auto t1   = std::chrono::steady_clock::now();
    if (it < 2) continue;
    wall.push_back(std::chrono::duration<double, std::milli>(t1 - t0).count());
    cpu.push_back(c1 - c0);
  }
  std::sort(wall.begin(), wall.end());
  std::sort(cpu.begin(), cpu.end());
  double w = wall[wall.size() / 2], c = cpu[cpu.size() / 2];
  double gflop = model_flops(*m, in) / 1e9;
  fmt::print("{:<36} {:>9.2f} {:>9.1f} {:>9.2f} {:>9.1f} {:>8.2f}\n", label, w, gflop / (w / 1e3), c,
             gflop / (c / 1e3), gflop);
}

// oneDNN's rate on one product of the MLP's largest shape, measured in the same run: the ceiling the model
// step is compared with (the machine is shared, so absolute figures drift between runs).
void bench_matmul(int iterations) {
  const int64_t m = 256, n = 4096, k = 4096;
  std::vector<float> a(m * k, 0.5f), b(k * n, 0.25f), out(m * n);
  std::vector<double> wall, cpu;
  for (int it = 0; it < iterations + 2; ++it) {
    auto t0   = std::chrono::steady_clock::now();
    double c0 = thread_cpu_ms();
    matmul(out.data(), a.data(), b.data(), m, n, k, false, true);
    double c1 = thread_cpu_ms();
    auto t1   = std::chrono::steady_clock::now();
    if (it < 2) continue;
    wall.push_back(std::chrono::duration<double, std::milli>(t1 - t0).count());
    cpu.push_back(c1 - c0);
  }
  std::sort(wall.begin(), wall.end());
  std::sort(cpu.begin(), cpu.end());
  double gflop = 2.0 * m * n * k / 1e9, w = wall[wall.size() / 2], c = cpu[cpu.size() / 2];
  fmt::print("{:<36} {:>9.2f} {:>9.1f} {:>9.2f} {:>9.1f} {:>8.2f}\n", "oneDNN matmul 256x4096x4096 (ceiling)",
             w, gflop / (w / 1e3), c, gflop / (c / 1e3), gflop);
}

}  // namespace

int main(int argc, char** argv) {
  int iterations = argc > 1 ? std::max(1, std::atoi(argv[1])) : 10;
  set_kernel_threads(1);
  fmt::print("fwd+loss+bwd step, 1 kernel thread, median of {}; GFLOP from the layers' cost()\n", iterations);
  fmt::print("{:<36} {:>9} {:>9} {:>9} {:>9} {:>8}\n", "model", "wall ms", "GFLOP/s", "cpu ms", "GFLOP/s",
             "GFLOP");
  bench_matmul(iterations);
  bench("mlp 784-4096-4096-10 batch 256", ModelSpec::mlp({784, 4096, 4096, 10}), 256, iterations);
  bench("gpt V256 T128 C256 NH4 L4 batch 8", ModelSpec::gpt(256, 128, 256, 4, 4), 8, iterations);
  return 0;
}
