// Published measurements (guide §5, oracle 10): predict_step with the a100-80gb preset on the eight
// end-to-end iteration times of Korthikanti et al. 2022, "Reducing Activation Recomputation in Large
// Transformer Models" (arXiv 2205.05198), Table 5, measured on NVIDIA's Selene (DGX A100 80GB, NVLink +
// 8 HDR ports per node). One preset for every row, no correction per row. The configurations: korthikanti_rows.h.
// Megatron-LM clips gradients at norm 1.0 by default. docs/cost-model.md has the table with Calculon's figures beside.
#include <gtest/gtest.h>

#include <cmath>

#include "korthikanti_rows.h"
#include "paraxis/cost/planner.h"

namespace paraxis::cost {
namespace {

using korthikanti::kRows;
using korthikanti::Row;

TEST(MegatronTable5, PredictsTheEightMeasuredIterationTimes) {
  const HardwareProfile hw = hardware_preset("a100-80gb");
  double sum = 0, worst = 0;
  for (const Row& r : kRows)
    for (bool seqsel : {false, true}) {
      const PredictedStep p =
          predict_step(gpt_symbolic(r.size),
                       korthikanti::megatron_layout(
                           r, {.sequence_parallel = seqsel, .selective = seqsel, .full = !seqsel}),
                       r.batch, hw, false);
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
