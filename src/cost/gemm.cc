#include "paraxis/cost/gemm.h"

#include <algorithm>
#include <cmath>

namespace paraxis::cost {

double gemm_efficiency(const Gemm& g, const GemmProfile& p) {
  if (p.sms <= 0 || p.tiles.empty()) return 1.0;
  double best = 0;
  for (const auto& [tm, tn] : p.tiles) {
    const double tiles = std::ceil(g.m / tm) * std::ceil(g.n / tn) * g.batch;
    const double waves = std::ceil(tiles / p.sms);
    best               = std::max(best, g.m * g.n * g.batch / (waves * p.sms * tm * tn));
  }
  return best;
}

double gemm_time(const Gemm& g, const HardwareProfile& hw) {
  const double flops = g.flops();
  if (flops <= 0) return 0;
  double compute;
  if (hw.gemm.sms > 0)
    compute = flops / (hw.gemm.achievable_flops * gemm_efficiency(g, hw.gemm));
  else
    compute = flops / hw.matmul_rate(flops);
  const double bytes = (g.m * g.k + g.k * g.n + g.m * g.n) * g.batch * hw.bytes_per_element;
  return std::max(compute, bytes / hw.bandwidth(false)) + hw.kernel_overhead_s;
}

}  // namespace paraxis::cost
