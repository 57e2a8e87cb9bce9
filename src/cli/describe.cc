// paraxis describe — what a model is made of: every parameter (name, shape, count) and, for a batch, each
// block's output shape and the flops of its forward, backward-input and backward-weight passes, as the blocks
// themselves report them (Layer::cost), i.e. the numbers the cost model and the pipeline partitioner use.
//
//   paraxis describe --model gpt --vocab 256 --context 64 --width 128 --heads 4 --layers 2 --batch 8
#include <fmt/format.h>

#include "cli/command.h"
#include "cli/model_flags.h"
#include "paraxis/core/error.h"
#include "paraxis/nn/model.h"
#include "paraxis/parallel/spatial.h"

namespace paraxis::cli {
namespace {

// 1234567 -> "1.23M": flops and counts with an SI suffix, three significant digits.
std::string si(double v) {
  const char* suffix[] = {"", "k", "M", "G", "T", "P"};
  int i                = 0;
  while (std::abs(v) >= 1000 && i < 5) v /= 1000, ++i;
  return i == 0 ? fmt::format("{:.0f}", v) : fmt::format("{:.3g}{}", v, suffix[i]);
}

// --sp: which split each block uses (parallel/spatial.h) and each device's part of it.
void print_spatial_layout(const ModelSpec& spec, int sp, int64_t batch) {
  validate_spatial(spec, sp, sp);  // the model and the heights (describe's batch need not divide)
  const int64_t b = (batch + sp - 1) / sp * sp;  // a micro-batch sp divides
  fmt::print(
      "\nunder --sp {} (docs/domain-parallelism.md), a micro-batch of {}: the conv side split along H with "
      "halo exchanges, then batch shares; gradients averaged over dp x sp\n",
      sp, b);
  fmt::print("{:<16} {:<12} {:<18} {}\n", "block", "kind", "split", "per device");
  for (const BlockSplit& row : spatial_layout(spec, sp, b))
    fmt::print("{:<16} {:<12} {:<18} {}\n", row.block, row.kind, row.split, row.per_device);
}

int run_describe(const ModelSpec& spec, int64_t batch, int sp) {
  validate_model_spec(spec);
  PX_USER_CHECK(batch > 0, "--batch {}: the batch must be positive; use e.g. --batch 32", batch);
  std::unique_ptr<Model> model = build_model(spec);

  Shape in = model->input_shape(batch);
  fmt::print("model {}: input {} {}, batch {}\n\n", spec.describe(), shape_str(in),
             model->input_dtype() == DType::kI32 ? "int32 token ids" : "float32", batch);

  fmt::print("{:<32} {:<16} {:>12}\n", "parameter", "shape", "count");
  int64_t total = 0;
  for (const Param* p : model->params()) {
    int64_t n = shape_numel(p->full_shape);
    total += n;
    fmt::print("{:<32} {:<16} {:>12}\n", p->name, shape_str(p->full_shape), n);
  }
  fmt::print("{:<32} {:<16} {:>12}   ({}B as float32)\n\n", "total", "", total, si(total * 4.0));

  fmt::print("{:<12} {:<10} {:<18} {:>10} {:>10} {:>10} {:>12}\n", "block", "kind", "output", "forward",
             "bwd-input", "bwd-weight", "activations");
  Cost sum;
  Shape shape = in;
  for (const auto& block : model->blocks) {
    Cost c = block->cost(shape);
    shape  = block->output_shape(shape);
    sum += c;
    fmt::print("{:<12} {:<10} {:<18} {:>10} {:>10} {:>10} {:>12}\n", block->name(), block->kind(),
               shape_str(shape), si(c.fwd_flops), si(c.bwd_input_flops), si(c.bwd_weight_flops),
               si(c.activation_bytes) + "B");
  }
  fmt::print("{:<12} {:<10} {:<18} {:>10} {:>10} {:>10} {:>12}\n", "total", "", "", si(sum.fwd_flops),
             si(sum.bwd_input_flops), si(sum.bwd_weight_flops), si(sum.activation_bytes) + "B");
  fmt::print("\nflops per training step (forward + backward) at batch {}: {}\n", batch,
             si(sum.fwd_flops + sum.bwd_input_flops + sum.bwd_weight_flops));
  if (sp > 1) print_spatial_layout(spec, sp, batch);
  return 0;
}

struct DescribeOptions {
  ModelSpec spec;
  int64_t batch = 1;
  int sp        = 1;
};

const bool registered = register_command(
    {"describe", "Print a model's parameters and the flops of each block", [](CLI::App& sub) -> Runner {
       auto opts = std::make_shared<DescribeOptions>();
       add_model_flags(sub, opts->spec);
       sub.add_option("--batch", opts->batch, "Batch size for the flops and activation figures")
           ->capture_default_str();
       sub.add_option("--sp", opts->sp, "Also print each block's split under domain parallelism (--sp N)")
           ->capture_default_str();
       return [opts] { return run_describe(opts->spec, opts->batch, opts->sp); };
     }});

}  // namespace
}  // namespace paraxis::cli
