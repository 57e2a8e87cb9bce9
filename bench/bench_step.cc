// bench_step — forward + loss + backward (no optimizer) of the two reference models against PyTorch on the
// same model, batch and thread count, measured in the same run: MLP 784-4096-4096-10 at batch 256 and GPT
// (V256, T128, C256, NH4, L4) at batch 8. Prints median wall ms for both, the ratio, and our GFLOP/s as a
// share of one core's peak (kCorePeakGflops × threads). The ceiling line times oneDNN alone on the MLP's
// largest product.
//
//   build/bench_step [runs=10] [threads=1]
#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <vector>

#include "paraxis/kernels/matmul.h"
#include "paraxis/nn/step_timer.h"
#include "torch_peer.h"

using namespace paraxis;

namespace {

void row(const char* label, const ModelSpec& spec, int64_t batch, int runs, int threads,
         const std::string& peer_args) {
  StepTiming t = time_forward_backward(spec, batch, runs);
  double peer  = bench::torch_peer_ms(
       fmt::format("{} --batch {} --runs {} --optimizer none", peer_args, batch, runs), threads);
  double gflops = t.gflop / (t.median_ms / 1e3);
  fmt::print("{:<34} {:>9.2f} {:>9.2f} {:>7} {:>9.1f} {:>7.1f}% {:>8.2f}\n", label, t.median_ms, peer,
             peer > 0 ? fmt::format("{:.2f}", peer / t.median_ms) : "-", gflops,
             100 * gflops / (kCorePeakGflops * threads), t.gflop);
}

void ceiling(int runs, int threads) {
  const int64_t m = 256, n = 4096, k = 4096;
  std::vector<float> a(m * k, 0.5f), b(k * n, 0.25f), out(m * n);
  std::vector<double> wall;
  for (int it = 0; it < runs + 2; ++it) {
    auto t0 = std::chrono::steady_clock::now();
    matmul(out.data(), a.data(), b.data(), m, n, k, false, true);
    auto t1 = std::chrono::steady_clock::now();
    if (it >= 2) wall.push_back(std::chrono::duration<double, std::milli>(t1 - t0).count());
  }
  std::sort(wall.begin(), wall.end());
  double w = wall[wall.size() / 2], gflop = 2.0 * m * n * k / 1e9, gflops = gflop / (w / 1e3);
  fmt::print("{:<34} {:>9.2f} {:>9} {:>7} {:>9.1f} {:>7.1f}% {:>8.2f}\n", "oneDNN matmul 256x4096x4096", w,
             "-", "-", gflops, 100 * gflops / (kCorePeakGflops * threads), gflop);
}

}  // namespace

int main(int argc, char** argv) {
  int runs    = argc > 1 ? std::max(1, std::atoi(argv[1])) : 10;
  int threads = argc > 2 ? std::max(1, std::atoi(argv[2])) : 1;
  set_kernel_threads(threads);
  fmt::print("forward+loss+backward, {} thread(s), median of {} runs; peer: PyTorch, OPENBLAS_CORETYPE={}\n",
             threads, runs, bench::peer_coretype().empty() ? "(unset)" : bench::peer_coretype());
  fmt::print("ratio = torch ms / paraxis ms (> 1: paraxis faster); peak = {:.0f} GFLOP/s per core\n",
             kCorePeakGflops);
  fmt::print("{:<34} {:>9} {:>9} {:>7} {:>9} {:>8} {:>8}\n", "model", "paraxis", "torch", "ratio", "GFLOP/s",
             "of peak", "GFLOP");
  ceiling(runs, threads);
  row("mlp 784-4096-4096-10 batch 256", ModelSpec::mlp({784, 4096, 4096, 10}), 256, runs, threads,
      "--model mlp --mlp-sizes 784,4096,4096,10");
  row("gpt V256 T128 C256 NH4 L4 batch 8", ModelSpec::gpt(256, 128, 256, 4, 4), 8, runs, threads,
      "--model gpt --gpt 256,128,256,4,4");
  return 0;
}
