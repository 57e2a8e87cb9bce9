// bench_bf16 — bf16 products (`--precision bf16`) against fp32, and PyTorch's bf16 autocast against its fp32,
// forward + loss + backward on one thread, measured in the same run, interleaved round by round: the MLP
// 784-4096-4096-10 at batch 256 and the GPT (V256, T128, C256, NH4, L4) at batch 8. Prints each figure as
// the median of the rounds with its range, and the fp32 ÷ bf16 ratio (> 1: bf16 faster) the same way.
//
//   build/bench_bf16 [rounds=3] [runs=6]
#include <fmt/format.h>

#include <algorithm>
#include <cstdlib>
#include <vector>

#include "bench_util.h"
#include "paraxis/kernels/matmul.h"
#include "paraxis/kernels/precision.h"
#include "paraxis/nn/step_timer.h"

using namespace paraxis;

namespace {

struct Samples {
  std::vector<double> ours_fp32, ours_bf16, torch_fp32, torch_bf16;
};

std::string spread(const std::vector<double>& v) {
  if (v.empty()) return "-";
  const auto [lo, hi] = std::minmax_element(v.begin(), v.end());
  return fmt::format("{:.1f} ({:.1f}–{:.1f})", bench::median(v), *lo, *hi);
}

std::vector<double> ratios(const std::vector<double>& fp32, const std::vector<double>& bf16) {
  std::vector<double> r;
  for (size_t i = 0; i < std::min(fp32.size(), bf16.size()); ++i) r.push_back(fp32[i] / bf16[i]);
  return r;
}

std::string ratio_spread(const std::vector<double>& v) {
  if (v.empty()) return "-";
  const auto [lo, hi] = std::minmax_element(v.begin(), v.end());
  return fmt::format("{:.2f} ({:.2f}–{:.2f})", bench::median(v), *lo, *hi);
}

double ours_ms(const ModelSpec& spec, int64_t batch, int runs, Precision p) {
  const MatmulPrecisionScope scope(p);
  return time_forward_backward(spec, batch, runs).median_ms;
}

void round(Samples& s, const ModelSpec& spec, int64_t batch, int runs, const std::string& peer) {
  s.ours_fp32.push_back(ours_ms(spec, batch, runs, Precision::kFp32));
  s.ours_bf16.push_back(ours_ms(spec, batch, runs, Precision::kBf16));
  const std::string args = fmt::format("{} --batch {} --runs {} --optimizer none", peer, batch, runs);
  if (double ms = bench::torch_peer_ms(args + " --autocast none", 1); ms > 0) s.torch_fp32.push_back(ms);
  if (double ms = bench::torch_peer_ms(args + " --autocast bf16", 1); ms > 0) s.torch_bf16.push_back(ms);
}

void print(const char* label, const Samples& s) {
  fmt::print("{:<26} {:>22} {:>22} {:>18}\n", label, "fp32 ms", "bf16 ms", "fp32 / bf16");
  fmt::print("{:<26} {:>22} {:>22} {:>18}\n", "  paraxis", spread(s.ours_fp32), spread(s.ours_bf16),
             ratio_spread(ratios(s.ours_fp32, s.ours_bf16)));
  fmt::print("{:<26} {:>22} {:>22} {:>18}\n", "  PyTorch (autocast bf16)", spread(s.torch_fp32),
             spread(s.torch_bf16), ratio_spread(ratios(s.torch_fp32, s.torch_bf16)));
  fmt::print("{:<26} {:>22} {:>22}\n", "  PyTorch ÷ paraxis", ratio_spread(ratios(s.torch_fp32, s.ours_fp32)),
             ratio_spread(ratios(s.torch_bf16, s.ours_bf16)));
}

}  // namespace

int main(int argc, char** argv) {
  const int rounds = argc > 1 ? std::atoi(argv[1]) : 3;
  const int runs   = argc > 2 ? std::atoi(argv[2]) : 6;
  set_kernel_threads(1);
  fmt::print("bench_bf16: one thread, {} rounds of {} steps, interleaved; {}; load average {}\n", rounds,
             runs, describe_bf16_support(), bench::load_average());
  const ModelSpec mlp = ModelSpec::mlp({784, 4096, 4096, 10}), gpt = ModelSpec::gpt(256, 128, 256, 4, 4);
  Samples m, g;
  for (int r = 0; r < rounds; ++r) {
    round(m, mlp, 256, runs, "--model mlp");
    round(g, gpt, 8, runs, "--model gpt");
  }
  print("MLP 784-4096-4096-10 b256", m);
  print("GPT C256 NH4 L4 T128 b8", g);
  return 0;
}
