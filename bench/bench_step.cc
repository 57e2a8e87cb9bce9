// bench_step — forward + loss + backward (no optimizer) of the two reference models against PyTorch on the
// same model, batch and thread count, measured in the same run: MLP 784-4096-4096-10 at batch 256 and GPT
// (V256, T128, C256, NH4, L4) at batch 8. Each row runs `rounds` interleaved rounds (ours, then the peer's,
// `runs` steps each) and prints the medians over rounds with their spread (min–max), the ratio's median and
// spread, and our GFLOP/s as a share of this machine's one-thread FMA peak, measured at the start of the run
// (measure/fma_peak.h; never a constant). With one thread the same figures follow in each side's thread CPU
// time (steadier when other processes share the cores). The ceiling line times oneDNN alone on the MLP's
// largest product.
//
//   build/bench_step [runs=10] [threads=1] [rounds=5]
#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <ctime>
#include <vector>

#include "bench_util.h"
#include "paraxis/kernels/matmul.h"
#include "paraxis/measure/fma_peak.h"
#include "paraxis/nn/step_timer.h"

using namespace paraxis;

namespace {

struct Spread {
  double median, lo, hi;
};
Spread spread(const std::vector<double>& v) {
  if (v.empty()) return {0, 0, 0};
  return {bench::median(v), *std::min_element(v.begin(), v.end()), *std::max_element(v.begin(), v.end())};
}
std::string fmt_spread(Spread s, int digits) {
  return fmt::format("{:.{}f} [{:.{}f}-{:.{}f}]", s.median, digits, s.lo, digits, s.hi, digits);
}

void print_figures(const char* clock, const std::vector<double>& ours, const std::vector<double>& peer,
                   const std::vector<double>& ratio, double gflop, int threads, double peak) {
  Spread o = spread(ours), g = {gflop / (o.median / 1e3), gflop / (o.hi / 1e3), gflop / (o.lo / 1e3)};
  fmt::print("  {}: paraxis ms {}   torch ms {}\n", clock, fmt_spread(o, 2), fmt_spread(spread(peer), 2));
  fmt::print("    ratio (torch/paraxis) {}   GFLOP/s {}   of measured peak {:.1f}% [{:.1f}-{:.1f}]\n",
             fmt_spread(spread(ratio), 2), fmt_spread(g, 1), 100 * g.median / (peak * threads),
             100 * g.lo / (peak * threads), 100 * g.hi / (peak * threads));
}

void row(const char* label, const ModelSpec& spec, int64_t batch, int runs, int threads, int rounds,
         double peak) {
  std::vector<double> ours, peer, ratio, ours_cpu, peer_cpu, ratio_cpu;
  double gflop = 0;
  for (int r = 0; r < rounds; ++r) {  // interleaved: load from other work hits both sides alike
    StepTiming t       = time_forward_backward(spec, batch, runs);
    bench::PeerTimes p = bench::torch_peer_times(
        fmt::format("{} --batch {} --runs {} --optimizer none", bench::peer_model_args(spec), batch, runs),
        threads);
    gflop = t.gflop;
    ours.push_back(t.median_ms);
    ours_cpu.push_back(t.median_cpu_ms);
    if (p.wall_ms > 0) peer.push_back(p.wall_ms), ratio.push_back(p.wall_ms / t.median_ms);
    if (p.cpu_ms > 0) peer_cpu.push_back(p.cpu_ms), ratio_cpu.push_back(p.cpu_ms / t.median_cpu_ms);
  }
  fmt::print("{}: {:.3f} GFLOP per step\n", label, gflop);
  print_figures("wall time", ours, peer, ratio, gflop, threads, peak);
  // With one thread every kernel of both runs on the calling thread: its CPU time leaves out the time other
  // processes held the core, which on a shared machine is most of the spread of the wall time.
  if (threads == 1) print_figures("thread CPU time", ours_cpu, peer_cpu, ratio_cpu, gflop, threads, peak);
}

double thread_cpu_ms() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) * 1e3 + static_cast<double>(ts.tv_nsec) / 1e6;
}

void ceiling(int runs, int threads, double peak) {
  const int64_t m = 256, n = 4096, k = 4096;
  std::vector<float> a(m * k, 0.5f), b(k * n, 0.25f), out(m * n);
  std::vector<double> wall, cpu;
  for (int it = 0; it < runs + 2; ++it) {
    auto t0   = std::chrono::steady_clock::now();
    double c0 = thread_cpu_ms();
    matmul(out.data(), a.data(), b.data(), m, n, k, false, true);
    double c1 = thread_cpu_ms();
    auto t1   = std::chrono::steady_clock::now();
    if (it >= 2)
      wall.push_back(std::chrono::duration<double, std::milli>(t1 - t0).count()), cpu.push_back(c1 - c0);
  }
  const double flop = 2.0 * m * n * k / 1e9;
  double w = bench::median(wall), gflops = flop / (w / 1e3);
  fmt::print("oneDNN matmul 256x4096x4096: {:.2f} ms, {:.1f} GFLOP/s, {:.1f}% of measured peak\n", w, gflops,
             100 * gflops / (peak * threads));
  if (threads != 1) return;
  double c = bench::median(cpu), cpu_gflops = flop / (c / 1e3);
  fmt::print("  thread CPU time: {:.2f} ms, {:.1f} GFLOP/s, {:.1f}% of measured peak\n", c, cpu_gflops,
             100 * cpu_gflops / peak);
}

}  // namespace

int main(int argc, char** argv) {
  int runs    = argc > 1 ? std::max(1, std::atoi(argv[1])) : 10;
  int threads = argc > 2 ? std::max(1, std::atoi(argv[2])) : 1;
  int rounds  = argc > 3 ? std::max(1, std::atoi(argv[3])) : 5;
  set_kernel_threads(threads);
  measure::FmaPeak peak = measure::measure_fma_peak();
  fmt::print(
      "forward+loss+backward, {} thread(s), {} interleaved rounds of {} steps (median [min-max] over "
      "rounds); load average {}\n",
      threads, rounds, runs, bench::load_average());
  fmt::print("peer: PyTorch, OPENBLAS_CORETYPE={}; ratio = torch ms / paraxis ms (> 1: paraxis faster)\n",
             bench::peer_coretype().empty() ? "(unset)" : bench::peer_coretype());
  fmt::print("peak: {:.1f} GFLOP/s per thread, measured now ({} FMA loop, best of 20)\n", peak.gflops,
             peak.isa);
  ceiling(runs, threads, peak.gflops);
  if (!std::getenv("BENCH_STEP_GPT_ONLY"))
    row("mlp 784-4096-4096-10 batch 256", ModelSpec::mlp({784, 4096, 4096, 10}), 256, runs, threads, rounds,
        peak.gflops);
  row("gpt V256 T128 C256 NH4 L4 batch 8", ModelSpec::gpt(256, 128, 256, 4, 4), 8, runs, threads, rounds,
      peak.gflops);
  return 0;
}
