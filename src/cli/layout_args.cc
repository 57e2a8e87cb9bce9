#include "cli/layout_args.h"

#include <fmt/format.h>

namespace paraxis::cli {

using pipeline::ScheduleKind;

std::string train_layout_flags(const cost::Layout& l, int64_t global_batch) {
  std::string out = fmt::format(
      "--devices {} --dp {} --tp {} --pp {} --schedule {} --microbatches {} --batch {} --optimizer {}",
      l.devices(), l.dp, l.tp, l.pp, pipeline::schedule_kind_name(l.schedule), l.microbatches, global_batch,
      l.optimizer);
  if (l.sp > 1) out += fmt::format(" --sp {}", l.sp);
  if (l.fc_model()) out += " --sp-fc model";
  if (l.virtual_stages > 1) out += fmt::format(" --virtual {}", l.virtual_stages);
  if (l.zero1) out += " --zero 1";
  if (l.recompute) out += " --recompute";
  if (l.defer_wgrad) out += " --defer-wgrad";
  if (l.threads_per_device > 1) out += fmt::format(" --threads-per-device {}", l.threads_per_device);
  return out;
}

std::string train_command(const ModelSpec& spec, const cost::Layout& l, int64_t global_batch) {
  std::string model;
  if (spec.kind == "mlp") {
    std::string sizes;
    for (int64_t w : spec.mlp_sizes) sizes += (sizes.empty() ? "" : ",") + std::to_string(w);
    model = "--model mlp --mlp-sizes " + sizes;
  } else if (spec.kind == "cnn") {
    model = fmt::format("--model cnn --cnn-c1 {} --cnn-c2 {} --cnn-fc {} --classes {}", spec.cnn_c1,
                        spec.cnn_c2, spec.cnn_fc, spec.classes);
    if (spec.cnn_kernel != 5 || spec.cnn_stride != 1)
      model += fmt::format(" --cnn-kernel {} --cnn-stride {}", spec.cnn_kernel, spec.cnn_stride);
    if (spec.image != std::vector<int64_t>{1, 28, 28})
      model += fmt::format(" --image {},{},{}", spec.image[0], spec.image[1], spec.image[2]);
  } else if (spec.kind == "alexnet") {
    model = fmt::format("--model alexnet --classes {}", spec.classes);
    if (spec.image != std::vector<int64_t>{3, 224, 224})
      model += fmt::format(" --image {},{},{}", spec.image[0], spec.image[1], spec.image[2]);
  } else {
    model = fmt::format("--model gpt --vocab {} --context {} --width {} --heads {} --layers {}", spec.vocab,
                        spec.context, spec.width, spec.heads, spec.layers);
  }
  return fmt::format("paraxis train {} {}", model, train_layout_flags(l, global_batch));
}

namespace {

// Megatron-LM's recompute arguments: full recompute checkpoints every layer's input and rebuilds one layer at
// a time (the cost model's full recompute, docs/cost-model.md Memory); selective the attention core.
std::string recompute_arguments(const cost::Layout& l) {
  if (l.recompute) return " --recompute-granularity full --recompute-method uniform --recompute-num-layers 1";
  if (l.selective_recompute) return " --recompute-granularity selective";
  return "";
}

}  // namespace

std::string megatron_arguments(const cost::GptSize& g, const cost::Layout& l, int64_t micro_batch,
                               int64_t global_batch, bool bf16) {
  std::string out = fmt::format(
      "--num-layers {} --hidden-size {} --num-attention-heads {} --seq-length {} "
      "--max-position-embeddings {} --tensor-model-parallel-size {} --pipeline-model-parallel-size {}",
      g.layers, g.hidden, g.heads, g.seq, g.seq, l.tp, l.pp);
  if (l.schedule == ScheduleKind::kInterleaved1F1B && l.virtual_stages > 1)
    out += fmt::format(" --num-layers-per-virtual-pipeline-stage {}", g.layers / (l.pp * l.virtual_stages));
  out += fmt::format(" --micro-batch-size {} --global-batch-size {}", micro_batch, global_batch);
  if (l.sequence_parallel) out += " --sequence-parallel";
  out += recompute_arguments(l);
  if (l.zero1) out += " --use-distributed-optimizer";
  if (l.optimizer == "sgd") out += " --optimizer sgd";
  if (!l.clip) out += " --clip-grad 0";
  if (bf16) out += " --bf16";
  if (l.pp > 1 && (l.schedule == ScheduleKind::kGPipe || l.schedule == ScheduleKind::kZBH1))
    out += fmt::format("  (Megatron-LM has no {} schedule: it runs 1F1B)",
                       pipeline::schedule_kind_name(l.schedule));
  return out;
}

}  // namespace paraxis::cli
