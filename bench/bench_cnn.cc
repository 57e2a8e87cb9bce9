// CNN (docs/model-names.md, c1 16, c2 32, fc 128) forward + backward time per step at one kernel thread, with
// a per-block breakdown and the rate against each block's reported flops (Layer::cost).
//
//   build/bench_cnn [batch=256] [steps=10] [threads=1]
//
// The peer figure (PyTorch, same model, same threads) is measured by bench/bench_cnn_torch.py.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <vector>

#include "paraxis/kernels/matmul.h"
#include "paraxis/nn/model.h"

using namespace paraxis;
using Clock = std::chrono::steady_clock;

int main(int argc, char** argv) {
  const int64_t batch = argc > 1 ? std::atoll(argv[1]) : 256;
  const int steps     = argc > 2 ? std::atoi(argv[2]) : 10;
  const int threads   = argc > 3 ? std::atoi(argv[3]) : 1;
  set_kernel_threads(threads);

  ModelSpec spec;  // spelled out: ModelSpec::cnn lives with builders other branches provide
  spec.kind = "cnn", spec.cnn_c1 = 16, spec.cnn_c2 = 32, spec.cnn_fc = 128, spec.classes = 10;
  auto model = build_cnn(spec);
  for (auto& b : model->blocks) b->init(1);
  const size_t nb = model->blocks.size();

  std::mt19937 g(1);
  std::uniform_real_distribution<float> d(0, 1);
  std::vector<float> xv(batch * 28 * 28);
  for (auto& v : xv) v = d(g);
  Tensor x  = Tensor::from_vector({batch, 1, 28, 28}, xv);  // (N, 1, 28, 28)
  Tensor dy = Tensor::full({batch, 10}, 1.0f / batch);      // (N, 10), stands in for the loss gradient

  std::vector<double> fwd_s(nb, 0), bwd_s(nb, 0);
  double total_s = 0, best_s = 1e30;           // the best step shows the figure a quiet machine would give
  for (int step = -2; step < steps; ++step) {  // two warm-up steps build the oneDNN primitives
    std::vector<Ctx> ctx(nb);
    auto t0  = Clock::now();
    Tensor h = x;
    for (size_t i = 0; i < nb; ++i) {
      auto a = Clock::now();
      h      = model->blocks[i]->forward(ctx[i], h);
      if (step >= 0) fwd_s[i] += std::chrono::duration<double>(Clock::now() - a).count();
    }
    Tensor gr = dy;
    for (size_t i = nb; i-- > 0;) {
      auto a = Clock::now();
      gr     = model->blocks[i]->backward(ctx[i], gr);
      if (step >= 0) bwd_s[i] += std::chrono::duration<double>(Clock::now() - a).count();
    }
    if (step >= 0) {
      double t = std::chrono::duration<double>(Clock::now() - t0).count();
      total_s += t;
      best_s = std::min(best_s, t);
    }
  }

  std::printf("cnn c16-c32-fc128-10, batch %lld, %d kernel thread(s), %d steps\n",
              static_cast<long long>(batch), threads, steps);
  std::printf("%-8s %10s %10s %12s\n", "block", "fwd ms", "bwd ms", "GFLOP/s");
  Shape s      = x.shape();
  double flops = 0;
  for (size_t i = 0; i < nb; ++i) {
    Cost c   = model->blocks[i]->cost(s);
    double f = c.fwd_flops + c.bwd_input_flops + c.bwd_weight_flops;
    flops += f;
    double t = (fwd_s[i] + bwd_s[i]) / steps;
    std::printf("%-8s %10.3f %10.3f %12.1f\n", model->blocks[i]->name().c_str(), 1e3 * fwd_s[i] / steps,
                1e3 * bwd_s[i] / steps, t > 0 ? f / t / 1e9 : 0.0);
    s = model->blocks[i]->output_shape(s);
  }
  double step_s = total_s / steps;
  std::printf(
      "paraxis fwd+bwd: %.2f ms/step mean, %.2f ms best  (%.1f GFLOP/s, %.0f samples/s at the best)\n",
      1e3 * step_s, 1e3 * best_s, flops / best_s / 1e9, batch / best_s);
  return 0;
}
