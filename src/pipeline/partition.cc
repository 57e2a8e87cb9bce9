#include "paraxis/pipeline/partition.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "paraxis/core/error.h"

namespace paraxis::pipeline {

StagePartition partition_stages(const std::vector<double>& costs, int k) {
  const int n = static_cast<int>(costs.size());
  PX_USER_CHECK(k >= 1, "{} pipeline stages: need at least one; use 1 to {} stages", k, std::max(n, 1));
  PX_USER_CHECK(
      n >= k,
      "{} pipeline stages for {} blocks: more stages than blocks leaves a stage empty; use at most {} "
      "stages (--pp x --virtual <= {})",
      k, n, n, n);
  std::vector<double> prefix(n + 1, 0);
  for (int i = 0; i < n; ++i) {
    PX_USER_CHECK(std::isfinite(costs[i]) && costs[i] >= 0,
                  "block {} has cost {}; block costs are finite numbers >= 0", i, costs[i]);
    prefix[i + 1] = prefix[i] + costs[i];
  }
  constexpr double kInf = std::numeric_limits<double>::infinity();
  // best[j][i]: smallest max stage cost putting blocks [0, i) into j stages; from[j][i]: where stage j-1
  // starts.
  std::vector<std::vector<double>> best(k + 1, std::vector<double>(n + 1, kInf));
  std::vector<std::vector<int>> from(k + 1, std::vector<int>(n + 1, -1));
  best[0][0] = 0;
  for (int j = 1; j <= k; ++j)
    for (int i = j; i <= n - (k - j); ++i)
      for (int c = j - 1; c < i; ++c) {
        const double cost = std::max(best[j - 1][c], prefix[i] - prefix[c]);
        if (cost <= best[j][i]) {  // '<=': prefer the latest start, the smallest last stage
          best[j][i] = cost;
          from[j][i] = c;
        }
      }
  StagePartition part;
  part.cuts.assign(k + 1, 0);
  part.cuts[k] = n;
  for (int j = k; j >= 1; --j) part.cuts[j - 1] = from[j][part.cuts[j]];
  for (int j = 0; j < k; ++j) part.stage_cost.push_back(prefix[part.cuts[j + 1]] - prefix[part.cuts[j]]);
  part.max_cost = best[k][n];
  return part;
}

std::string StagePartition::summary() const {
  double total = 0;
  for (double c : stage_cost) total += c;
  std::string out = "stage  blocks        cost        share\n";
  for (int j = 0; j < num_stages(); ++j)
    out += fmt::format("{:>5}  {:<12}  {:<10.4g}  {:>5.1f}%\n", j,
                       fmt::format("{}..{}", cuts[j], cuts[j + 1] - 1), stage_cost[j],
                       total > 0 ? 100 * stage_cost[j] / total : 0.0);
  const double ideal = num_stages() > 0 ? total / num_stages() : 0;
  out += fmt::format("max stage cost {:.4g}, ideal {:.4g} (total / stages), balance {:.3f}\n", max_cost,
                     ideal, max_cost > 0 ? ideal / max_cost : 1.0);
  return out;
}

}  // namespace paraxis::pipeline
