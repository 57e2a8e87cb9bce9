// How a predicted layout is spelled for the tools that run it: `paraxis train`'s flags, and Megatron-LM's
// arguments for a GPT (what `paraxis plan` prints under its winner, docs/cost-model.md, Commands).
//
//   Layout l{.dp = 16, .tp = 8, .pp = 8, .schedule = ScheduleKind::kInterleaved1F1B, .microbatches = 96,
//            .virtual_stages = 3, .sequence_parallel = true, .selective_recompute = true};
//   megatron_arguments(parse_gpt_size("gpt-175b"), l, /*micro_batch=*/1, /*global_batch=*/1536)
//   // "--num-layers 96 --hidden-size 12288 ... --tensor-model-parallel-size 8 --pipeline-model-parallel-size 8
//   //  --num-layers-per-virtual-pipeline-stage 4 --micro-batch-size 1 --global-batch-size 1536
//   //  --sequence-parallel --recompute-granularity selective ..."
#pragma once

#include <cstdint>
#include <string>

#include "paraxis/cost/cost.h"
#include "paraxis/cost/planner.h"
#include "paraxis/nn/model.h"

namespace paraxis::cli {

// The layout as `paraxis train` flags: --devices --dp --tp --pp --schedule --microbatches --batch
// --optimizer and the options in use (--virtual, --zero 1, --recompute, --defer-wgrad, ...).
std::string train_layout_flags(const cost::Layout& l, int64_t global_batch);

// The whole `paraxis train` command for a model built from layers (mlp, cnn, gpt).
std::string train_command(const ModelSpec& spec, const cost::Layout& l, int64_t global_batch);

// Megatron-LM's arguments for the same run of a GPT of these sizes (pretrain_gpt.py): model sizes, the
// parallel sizes, batch sizes, sequence parallelism, recompute, the distributed optimizer, clipping. A
// schedule Megatron-LM does not have (GPipe, ZB-H1) is said so after the arguments.
std::string megatron_arguments(const cost::GptSize& g, const cost::Layout& l, int64_t micro_batch,
                               int64_t global_batch, bool bf16);

}  // namespace paraxis::cli
