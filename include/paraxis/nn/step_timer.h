// paraxis/nn/step_timer.h — how fast one forward + loss + backward of a model runs here (no optimizer).
//
//   set_kernel_threads(1);
//   StepTiming t = time_forward_backward(ModelSpec::mlp({784, 4096, 4096, 10}), /*batch=*/256, /*runs=*/10);
//   fmt::print("{:.1f} ms, {:.0f} GFLOP/s\n", t.median_ms, t.gflop / (t.median_ms / 1e3));
//
// Random inputs and labels, two warm-up steps (oneDNN primitive creation), then `runs` timed steps; the
// median is reported in wall time and in the calling thread's CPU time (steadier on a shared machine when the
// kernels run on this one thread). Like the Engine and PyTorch, it skips the input gradient of a first linear
// or convolution (the data needs none). GFLOP counts the layers' own cost() (forward + backward-input +
// backward-weight), the same figures the cost model reads. Used by `paraxis bench step` and bench/bench_step.
#pragma once

#include <cstdint>

#include "paraxis/nn/model.h"

namespace paraxis {

struct StepTiming {
  double median_ms     = 0;  // wall
  double median_cpu_ms = 0;  // CPU time of the calling thread
  double min_ms        = 0;
  double gflop         = 0;  // per step
  int runs             = 0;
};

StepTiming time_forward_backward(const ModelSpec& spec, int64_t batch, int runs);

// Forward + backward flops of one step of `model` on inputs of shape `in`, from the layers' cost();
// skip_first_input: the first block's input gradient is not computed (the data needs none).
double model_step_flops(Model& model, const Shape& in, bool skip_first_input);

}  // namespace paraxis
