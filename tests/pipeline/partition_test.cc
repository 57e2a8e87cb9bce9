#include "paraxis/pipeline/partition.h"

#include <gtest/gtest.h>

#include <random>

#include "test_support/user_error.h"

using namespace paraxis::pipeline;

namespace {
// Every way to cut n blocks into k non-empty runs: the oracle for small n.
double brute_force(const std::vector<double>& c, int k, int start = 0) {
  const int n = static_cast<int>(c.size());
  if (k == 1) {
    double s = 0;
    for (int i = start; i < n; ++i) s += c[i];
    return s;
  }
  double best = 1e300, first = 0;
  for (int end = start + 1; end <= n - (k - 1); ++end) {
    first += c[end - 1];
    best = std::min(best, std::max(first, brute_force(c, k - 1, end)));
  }
  return best;
}
}  // namespace

TEST(PipelinePartition, WorkedExample) {
  const StagePartition part = partition_stages({4, 1, 1, 1, 1, 4}, 3);
  EXPECT_EQ(part.cuts, (std::vector<int>{0, 1, 5, 6}));
  EXPECT_EQ(part.stage_cost, (std::vector<double>{4, 4, 4}));
  EXPECT_EQ(part.max_cost, 4);
  const std::string text = part.summary();
  EXPECT_NE(text.find("1..4"), std::string::npos) << text;
  EXPECT_NE(text.find("balance 1.000"), std::string::npos) << text;
}

TEST(PipelinePartition, UnevenSplitsAndOneStagePerBlock) {
  EXPECT_EQ(partition_stages({10, 1, 1, 1}, 2).cuts, (std::vector<int>{0, 1, 4}));
  EXPECT_EQ(partition_stages({1, 2, 3}, 3).cuts, (std::vector<int>{0, 1, 2, 3}));
  EXPECT_EQ(partition_stages({1, 2, 3}, 1).cuts, (std::vector<int>{0, 3}));
}

TEST(PipelinePartition, OptimalAgainstBruteForce) {
  std::mt19937 rng(7);
  std::uniform_real_distribution<double> cost(0.0, 10.0);
  for (int trial = 0; trial < 200; ++trial) {
    const int n = 1 + trial % 9, k = 1 + static_cast<int>(rng() % n);
    std::vector<double> c(n);
    for (double& x : c) x = std::round(cost(rng) * 4) / 4;
    const StagePartition part = partition_stages(c, k);
    ASSERT_EQ(part.num_stages(), k);
    EXPECT_EQ(part.max_cost, brute_force(c, k));
    for (int j = 0; j < k; ++j) EXPECT_LT(part.cuts[j], part.cuts[j + 1]);  // non-empty, contiguous
    EXPECT_EQ(part.cuts.front(), 0);
    EXPECT_EQ(part.cuts.back(), n);
  }
}

TEST(PipelinePartition, BadInput) {
  EXPECT_USER_ERROR(partition_stages({1, 2, 3}, 4), "4 pipeline stages for 3 blocks", "use at most 3 stages");
  EXPECT_USER_ERROR(partition_stages({1, 2}, 0), "need at least one");
  EXPECT_USER_ERROR(partition_stages({1, -2}, 1), "block 1 has cost -2");
}
