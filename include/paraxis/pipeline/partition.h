// paraxis/pipeline/partition.h — cut a chain of blocks into contiguous pipeline stages of balanced cost.
//
//   StagePartition part = partition_stages({4, 1, 1, 1, 1, 4}, 3);   // block costs (e.g. flops), 3 stages
//   part.cuts;          // {0, 1, 5, 6}: stage j holds blocks [cuts[j], cuts[j+1])
//   part.max_cost;      // 4, the smallest possible maximum stage cost
//   fmt::print("{}", part.summary());
//
// Exact: dynamic programming over prefix sums, O(stages * blocks^2). Stages may be uneven in block count;
// every stage gets at least one block. Among optimal cuts the one with the smallest last stage is chosen (the
// last stage usually also computes the loss). With v chunks per device, ask for p*v stages.
#pragma once

#include <string>
#include <vector>

namespace paraxis::pipeline {

struct StagePartition {
  std::vector<int> cuts;           // num_stages + 1 boundaries, cuts.front() = 0, cuts.back() = blocks
  std::vector<double> stage_cost;  // per stage: the sum of its blocks' costs
  double max_cost = 0;
  int num_stages() const { return static_cast<int>(stage_cost.size()); }
  // A table: stage, blocks, cost, share of the total; then max vs ideal (total / stages) and the balance.
  std::string summary() const;
};

// User errors (exit 2): num_stages < 1, more stages than blocks, a cost negative or not finite.
StagePartition partition_stages(const std::vector<double>& block_costs, int num_stages);

}  // namespace paraxis::pipeline
