// `paraxis bench step`: median forward + loss + backward time of a model on this machine, and the GFLOP/s it
// achieves (the layers' own flop counts), e.g.
//   paraxis bench step --model mlp --mlp-sizes 784,4096,4096,10 --batch 256 --threads 1 --runs 10
// bench/bench_step runs the same measurement next to PyTorch's.
#include <fmt/format.h>

#include "cli/bench.h"
#include "cli/model_flags.h"
#include "paraxis/core/error.h"
#include "paraxis/kernels/matmul.h"
#include "paraxis/kernels/precision.h"
#include "paraxis/measure/fma_peak.h"
#include "paraxis/nn/step_timer.h"

namespace paraxis::cli {
namespace {

struct StepBenchOptions {
  ModelSpec spec;
  int64_t batch         = 0;  // 0: the model's reference batch (mlp 256, cnn 64, gpt 8)
  int threads           = 1;
  int runs              = 10;
  std::string precision = "fp32";
};

int run_step_bench(const StepBenchOptions& o) {
  validate_model_spec(o.spec);
  PX_USER_CHECK(o.threads >= 1, "--threads {} must be at least 1", o.threads);
  PX_USER_CHECK(o.runs >= 1, "--runs {} must be at least 1; try --runs 10", o.runs);
  PX_USER_CHECK(o.batch >= 0, "--batch {} must be positive (0: the model's reference batch)", o.batch);
  const int64_t batch = o.batch > 0 ? o.batch : o.spec.kind == "mlp" ? 256 : o.spec.kind == "cnn" ? 64 : 8;
  set_kernel_threads(o.threads);
  set_matmul_precision(parse_precision(o.precision));
  if (matmul_precision() == Precision::kBf16) fmt::print("--precision bf16: {}\n", describe_bf16_support());
  StepTiming t  = time_forward_backward(o.spec, batch, o.runs);
  double gflops = t.gflop / (t.median_ms / 1e3);
  fmt::print("{} batch {}, {} thread(s), {} products, median of {} runs\n", o.spec.describe(), batch,
             o.threads, o.precision, o.runs);
  fmt::print("forward+backward: {:.3f} ms (min {:.3f}, thread CPU {:.3f}), {:.3f} GFLOP per step\n",
             t.median_ms, t.min_ms, t.median_cpu_ms, t.gflop);
  measure::FmaPeak peak = measure::measure_fma_peak();  // this machine, this run: never a constant
  fmt::print(
      "achieved: {:.1f} GFLOP/s = {:.1f}% of {} core(s) at {:.0f} GFLOP/s fp32 peak (measured, {} FMA "
      "loop)\n",
      gflops, 100 * gflops / (peak.gflops * o.threads), o.threads, peak.gflops, peak.isa);
  return 0;
}

const bool registered = register_bench(
    {"step", "Median forward+backward time of a model and its GFLOP/s", [](CLI::App& sub) -> Runner {
       auto o = std::make_shared<StepBenchOptions>();
       add_model_flags(sub, o->spec);
       sub.add_option("--batch", o->batch, "Batch size (default: mlp 256, cnn 64, gpt 8)");
       sub.add_option("--threads", o->threads, "Kernel threads")->capture_default_str();
       sub.add_option("--runs", o->runs, "Timed runs (after two warm-up steps)")->capture_default_str();
       sub.add_option("--precision", o->precision, "fp32, or bf16 (bf16 matmul inputs, fp32 accumulation)")
           ->capture_default_str();
       return [o] { return run_step_bench(*o); };
     }});

}  // namespace
}  // namespace paraxis::cli
