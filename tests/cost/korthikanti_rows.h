// The four GPT configurations of Korthikanti et al. 2022 ("Reducing Activation Recomputation in Large
// Transformer Models", arXiv 2205.05198, Table 3) as Calculon encodes them for its own validation
// (github.com/calculon-ai/calculon at caa4b11: models/{megatron-22B,gpt3-175B,turing-530B,megatron-1T}.json,
// validation/seqsel/*/*.json): sequence 2048, vocabulary 51,200, tp 8, dp 1, micro-batch 1 (22B: one
// micro-batch of 4), the interleaved schedule with 3 chunks for 175B and 530B. Shared by the time (Table 5)
// and memory (Figures 1 and 7) validations.
#pragma once

#include "paraxis/cost/planner.h"

namespace paraxis::cost::korthikanti {

struct Row {
  const char* name;
  GptSize size;
  int pp, v;
  int64_t batch, micro_batch;
  double full_s, seqsel_s;  // Table 5: full recompute; sequence parallelism + selective recompute
};

inline const Row kRows[] = {
    {"22B", {48, 6144, 64, 2048, 51200}, 1, 1, 4, 4, 1.42, 1.10},
    {"175B", {96, 12288, 96, 2048, 51200}, 8, 3, 64, 1, 18.13, 13.75},
    {"530B", {105, 20480, 128, 2048, 51200}, 35, 3, 280, 1, 49.05, 37.83},
    {"1T", {128, 25600, 160, 2048, 51200}, 64, 1, 512, 1, 94.42, 71.49},
};

// The paper's options: sequence parallelism, selective recompute (the attention core), full recompute.
struct Options {
  bool sequence_parallel = false, selective = false, full = false;
};

inline Layout megatron_layout(const Row& r, Options o) {
  Layout l;
  l.tp = 8, l.pp = r.pp, l.virtual_stages = r.v;
  l.schedule            = r.v > 1 ? pipeline::ScheduleKind::kInterleaved1F1B : pipeline::ScheduleKind::k1F1B;
  l.microbatches        = static_cast<int>(r.batch / r.micro_batch);
  l.clip                = true;
  l.recompute           = o.full;
  l.sequence_parallel   = o.sequence_parallel;
  l.selective_recompute = o.selective;
  return l;
}

}  // namespace paraxis::cost::korthikanti
