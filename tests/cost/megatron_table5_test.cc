// Published measurements (guide §5, oracle 10): predict_step with the a100-80gb preset on the eight
// end-to-end iteration times of Korthikanti et al. 2022, "Reducing Activation Recomputation in Large
// Transformer Models" (arXiv 2205.05198), Table 5, measured on NVIDIA's Selene (DGX A100 80GB, NVLink +
// 8 HDR ports per node). One preset for every row, no correction per row. The configurations are Table 3's
// as Calculon encodes them for its own validation (github.com/calculon-ai/calculon, models/*.json and
// validation/seqsel/tab5/*.json at caa4b11): sequence 2048, vocabulary 51,200, tp 8, dp 1, micro-batch 1
// (22B: 4, a single micro-batch), the interleaved schedule with 3 chunks for 175B and 530B. Megatron-LM
// clips gradients at norm 1.0 by default. docs/cost-model.md has the table with Calculon's figures beside.
#include <gtest/gtest.h>

#include <cmath>

#include "paraxis/cost/planner.h"

namespace paraxis::cost {
namespace {

struct Row {
  const char* name;
  GptSize size;
  int pp, v;
  int64_t batch, micro_batch;
  double full_s, seqsel_s;  // Table 5: full recompute; sequence parallelism + selective recompute
};

const Row kRows[] = {
    {"22B", {48, 6144, 64, 2048, 51200}, 1, 1, 4, 4, 1.42, 1.10},
    {"175B", {96, 12288, 96, 2048, 51200}, 8, 3, 64, 1, 18.13, 13.75},
    {"530B", {105, 20480, 128, 2048, 51200}, 35, 3, 280, 1, 49.05, 37.83},
    {"1T", {128, 25600, 160, 2048, 51200}, 64, 1, 512, 1, 94.42, 71.49},
};

Layout megatron_layout(const Row& r, bool seqsel) {
  Layout l;
  l.tp = 8, l.pp = r.pp, l.virtual_stages = r.v;
  l.schedule            = r.v > 1 ? pipeline::ScheduleKind::kInterleaved1F1B : pipeline::ScheduleKind::k1F1B;
  l.microbatches        = static_cast<int>(r.batch / r.micro_batch);
  l.clip                = true;
  l.recompute           = !seqsel;
  l.sequence_parallel   = seqsel;
  l.selective_recompute = seqsel;
  return l;
}

TEST(MegatronTable5, PredictsTheEightMeasuredIterationTimes) {
  const HardwareProfile hw = hardware_preset("a100-80gb");
  double sum = 0, worst = 0;
  for (const Row& r : kRows)
    for (bool seqsel : {false, true}) {
      const PredictedStep p =
          predict_step(gpt_symbolic(r.size), megatron_layout(r, seqsel), r.batch, hw, false);
      const double measured = seqsel ? r.seqsel_s : r.full_s;
      const double error    = p.step_s / measured - 1;
      RecordProperty(std::string(r.name) + (seqsel ? "_seqsel" : "_full"), std::to_string(p.step_s));
      std::printf("%-5s %-7s measured %7.2f s  predicted %7.2f s  error %+6.1f%%  memory %.1f GB\n", r.name,
                  seqsel ? "seqsel" : "full", measured, p.step_s, 100 * error, p.memory.total() / 1e9);
      EXPECT_LT(p.memory.total(), hw.memory_bytes) << r.name << " trained on 80 GB devices";
      sum += std::fabs(error);
      worst = std::max(worst, std::fabs(error));
    }
  const double mean = sum / 8;
  std::printf("mean |error| %.1f%%, max %.1f%%\n", 100 * mean, 100 * worst);
  // The bounds. Reached: mean 4.9%, max 7.8%, every row predicted fast (docs/cost-model.md,
  // "Validation"); the last terms were Megatron-LM's blocking pipeline transfers and its scatter-gather.
  EXPECT_LE(mean, 0.05);
  EXPECT_LE(worst, 0.10);
}

}  // namespace
}  // namespace paraxis::cost
