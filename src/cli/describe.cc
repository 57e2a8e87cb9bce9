// paraxis describe — what a model is made of: every parameter (name, shape, count) and, for a batch, each
// block's output shape and the flops of its forward, backward-input and backward-weight passes, as the blocks
// themselves report them (Layer::cost), i.e. the numbers the cost model and the pipeline partitioner use.
//
//   paraxis describe --model gpt --vocab 256 --context 64 --width 128 --heads 4 --layers 2 --batch 8
//   paraxis describe --model gpt-175b --batch 1       # a GPT by size: the cost model's symbolic description
#include <fmt/format.h>
#include <cstring>

#include "cli/command.h"
#include "cli/model_flags.h"
#include "paraxis/core/error.h"
#include "paraxis/cost/cost.h"
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
void print_spatial_layout(const ModelSpec& spec, int sp, int64_t batch, SpFc fc) {
  validate_spatial(spec, sp, sp, 1, fc);  // the model and the heights (describe's batch need not divide)
  const int64_t b = fc == SpFc::kModel ? batch : (batch + sp - 1) / sp * sp;  // a micro-batch sp divides
  fmt::print(
      "\nunder --sp {} --sp-fc {} (docs/domain-parallelism.md), a micro-batch of {}: the conv side split "
      "along H with halo exchanges, then {}\n",
      sp, sp_fc_name(fc), b,
      fc == SpFc::kModel ? "every sample on every device and the FC weights split over sp (Gholami's "
                           "L_M); conv gradients summed over sp, all averaged over dp"
                         : "batch shares; gradients averaged over dp x sp");
  fmt::print("{:<16} {:<16} {:<30} {}\n", "block", "kind", "split", "per device");
  for (const BlockSplit& row : spatial_layout(spec, sp, b, fc))
    fmt::print("{:<16} {:<16} {:<30} {}\n", row.block, row.kind, row.split, row.per_device);
}

// The widths of the block table's text columns: the longest name, kind and output shape (at least the header's).
struct BlockColumns {
  size_t name = 12, kind = 10, output = 18;
};

BlockColumns block_columns(const Model& model, Shape shape) {
  BlockColumns w;
  for (const auto& block : model.blocks) {
    shape    = block->output_shape(shape);
    w.name   = std::max(w.name, block->name().size());
    w.kind   = std::max(w.kind, std::strlen(block->kind()));
    w.output = std::max(w.output, shape_str(shape).size());
  }
  return w;
}

int run_describe(const ModelSpec& spec, int64_t batch, int sp, SpFc fc) {
  validate_model_spec(spec);
  if (sp == 1) validate_spatial(spec, 1, 1, 1, fc);  // --sp-fc model without --sp > 1
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

  const BlockColumns w = block_columns(*model, in);
  const auto row       = [&w](const std::string& name, const std::string& kind, const std::string& out,
                        const std::string& f, const std::string& bi, const std::string& bw,
                        const std::string& a) {
    fmt::print("{:<{}} {:<{}} {:<{}} {:>10} {:>10} {:>10} {:>12}\n", name, w.name, kind, w.kind, out,
                     w.output, f, bi, bw, a);
  };
  row("block", "kind", "output", "forward", "bwd-input", "bwd-weight", "activations");
  Cost sum;
  Shape shape = in;
  for (const auto& block : model->blocks) {
    Cost c = block->cost(shape);
    shape  = block->output_shape(shape);
    sum += c;
    row(block->name(), block->kind(), shape_str(shape), si(c.fwd_flops), si(c.bwd_input_flops),
        si(c.bwd_weight_flops), si(c.activation_bytes) + "B");
  }
  row("total", "", "", si(sum.fwd_flops), si(sum.bwd_input_flops), si(sum.bwd_weight_flops),
      si(sum.activation_bytes) + "B");
  fmt::print("\nflops per training step (forward + backward) at batch {}: {}\n", batch,
             si(sum.fwd_flops + sum.bwd_input_flops + sum.bwd_weight_flops));
  if (sp > 1) print_spatial_layout(spec, sp, batch, fc);
  return 0;
}

// A GPT too large to build (gpt-175b, gpt:L,H,A,S,V): the blocks the cost model prices (cost::gpt_symbolic),
// identical consecutive layers on one line, activations in 16-bit as Korthikanti et al. 2022 count them.
int run_describe_symbolic(const std::string& kind, int64_t batch) {
  PX_USER_CHECK(batch > 0, "--batch {}: the batch must be positive; use e.g. --batch 1", batch);
  const cost::GptSize g   = cost::parse_gpt_size(kind);
  const cost::ModelDesc d = cost::gpt_symbolic(g);
  fmt::print("model {}: {} layers, hidden {}, {} heads, sequence {}, vocabulary {}; batch {} sequences\n",
             d.name, g.layers, g.hidden, g.heads, g.seq, g.vocab, batch);
  fmt::print("parameters {} ({}B in 16-bit)\n\n", si(static_cast<double>(d.num_params())),
             si(2.0 * static_cast<double>(d.num_params())));
  fmt::print("{:<18} {:<18} {:>10} {:>10} {:>10} {:>10} {:>12}\n", "block", "kind", "params", "forward",
             "bwd-input", "bwd-weight", "activations");
  Cost sum;
  for (size_t i = 0; i < d.blocks.size();) {
    size_t n = 1;
    while (i + n < d.blocks.size() && d.blocks[i + n].kind == d.blocks[i].kind) ++n;
    const cost::BlockDesc& b = d.blocks[i];
    const Cost c             = b.at_batch(static_cast<double>(batch));
    for (size_t k = 0; k < n; ++k) sum += c;
    const std::string name = n == 1 ? b.name : fmt::format("layers 0-{} (x{})", n - 1, n);
    fmt::print("{:<18} {:<18} {:>10} {:>10} {:>10} {:>10} {:>12}\n", name, b.kind,
               si(static_cast<double>(b.params)), si(c.fwd_flops), si(c.bwd_input_flops),
               si(c.bwd_weight_flops), si(c.activation_bytes / 2.0) + "B");
    i += n;
  }
  fmt::print(
      "\nflops per training step (forward + backward) at batch {}: {} (each layer line is one layer)\n",
      batch, si(sum.fwd_flops + sum.bwd_input_flops + sum.bwd_weight_flops));
  return 0;
}

bool is_gpt_by_size(const std::string& kind) {
  return kind.rfind("gpt-", 0) == 0 || kind.rfind("gpt:", 0) == 0;
}

struct DescribeOptions {
  ModelSpec spec;
  int64_t batch     = 1;
  int sp            = 1;
  std::string sp_fc = "batch";
};

const bool registered = register_command(
    {"describe", "Print a model's parameters and the flops of each block", [](CLI::App& sub) -> Runner {
       auto opts = std::make_shared<DescribeOptions>();
       add_model_flags(sub, opts->spec);
       sub.get_option("--model")->description(
           "mlp, cnn, alexnet or gpt (sized by their flags), or a GPT by size: gpt-175b, gpt-13b, gpt-6.7b, "
           "gpt-1.3b, "
           "gpt:LAYERS,HIDDEN,HEADS,SEQ,VOCAB");
       sub.add_option("--batch", opts->batch, "Batch size for the flops and activation figures")
           ->capture_default_str();
       sub.add_option("--sp", opts->sp, "Also print each block's split under domain parallelism (--sp N)")
           ->capture_default_str();
       sub.add_option("--sp-fc", opts->sp_fc,
                      "With --sp: the fully connected side batch-parallel (batch) or its weights split over "
                      "sp (model)")
           ->capture_default_str();
       return [opts] {
         if (is_gpt_by_size(opts->spec.kind)) return run_describe_symbolic(opts->spec.kind, opts->batch);
         return run_describe(opts->spec, opts->batch, opts->sp, parse_sp_fc(opts->sp_fc));
       };
     }});

}  // namespace
}  // namespace paraxis::cli
