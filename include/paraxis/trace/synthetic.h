// paraxis/trace/synthetic.h — traces of idealised layouts with known answers, for tests, docs and demos.
//
//   auto placement = trace::synthetic_pipeline({.stages = 4, .microbatches = 1});   // workload partitioning
//   auto one_f_one_b = trace::synthetic_pipeline({.stages = 4, .microbatches = 8, .schedule = "1f1b"});
//   trace::write_chrome_trace(one_f_one_b, "1f1b.json");
//
// A tiny list scheduler runs each device's actions in order, each as soon as its inputs have arrived; every
// forward of a stage costs forward_ns, every backward backward_ns, every transfer comm_ns. With comm_ns = 0 a
// 1F1B or GPipe step lasts (m + p − 1)(T_F + T_B), so the bubble is (p − 1)/(m + p − 1)
// (docs/architecture.md, reference facts). These are not predictions of a real run (the cost-model simulator
// makes those); they are oracles for the analysis.
#pragma once

#include <string>
#include <vector>

#include "paraxis/trace/recorder.h"

namespace paraxis::trace {

struct PipelineShape {
  int stages           = 4;       // p devices, one stage each
  int microbatches     = 1;       // m; 1 = placement (workload partitioning)
  std::string schedule = "1f1b";  // "1f1b" or "gpipe" (identical when m = 1)
  double forward_ns    = 1e6;     // per stage and micro-batch
  double backward_ns   = 2e6;
  double comm_ns       = 0;          // per activation / gradient transfer between neighbouring stages
  double opt_ns        = 0;          // optimizer step after the last backward (0: none)
  std::vector<double> stage_weight;  // per stage, a factor on forward_ns and backward_ns (empty: all 1)
};
TraceSet synthetic_pipeline(const PipelineShape& shape);

struct TensorParallelShape {
  int devices         = 2;    // t
  int layers          = 4;    // each: forward piece, all-reduce; backward piece, all-reduce (Megatron MLP)
  double forward_ns   = 1e6;  // per layer on one device, i.e. already divided by t
  double backward_ns  = 2e6;
  double allreduce_ns = 2e5;  // blocking: compute waits for it
};
TraceSet synthetic_tensor_parallel(const TensorParallelShape& shape);

struct DataParallelShape {
  int devices         = 2;    // d replicas
  double forward_ns   = 4e6;  // of the whole model on the local batch
  double backward_ns  = 8e6;
  int buckets         = 4;    // gradient buckets; each all-reduce starts when its bucket's backward is done
  double allreduce_ns = 1e6;  // per bucket, on the comm thread (overlaps the remaining backward)
  double opt_ns       = 5e5;
};
TraceSet synthetic_data_parallel(const DataParallelShape& shape);

// A long run: the trace `one` (one step) repeated `steps` times back to back, each copy marked as a step.
// Sequence numbers and flow ids go on counting from copy to copy, so every send keeps its own receive.
//   auto long_run = trace::repeat_steps(trace::synthetic_pipeline({.stages = 4, .microbatches = 16}), 300);
TraceSet repeat_steps(const TraceSet& one, int steps);

}  // namespace paraxis::trace
