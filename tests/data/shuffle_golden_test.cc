// shuffle_order agrees with the pure-Python reference tests/golden/paraxis_shuffle.py (the one docs/data.md
// gives for reproducing a run's data order in PyTorch); goldens written by tests/golden/make_data_goldens.py.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "paraxis/data/loader.h"
#include "test_support/paths.h"

using namespace paraxis;

TEST(ShuffleGolden, MatchesThePythonReference) {
  std::ifstream f(paraxis::testing::source_dir() + "/tests/golden/shuffle_golden.txt");
  ASSERT_TRUE(f.good()) << "run tests/golden/make_data_goldens.py";
  std::string line;
  std::getline(f, line);
  EXPECT_EQ(line.rfind("paraxis-shuffle-golden v1 ", 0), 0u) << line;
  int cases = 0;
  while (std::getline(f, line)) {
    std::istringstream in(line);
    std::string tag;
    int64_t n, epoch;
    uint64_t seed;
    in >> tag >> n >> seed >> epoch;
    ASSERT_EQ(tag, "order");
    std::vector<int64_t> want;
    for (int64_t v; in >> v;) want.push_back(v);
    ASSERT_EQ(static_cast<int64_t>(want.size()), n);
    EXPECT_EQ(shuffle_order(n, seed, epoch), want) << "n " << n << " seed " << seed << " epoch " << epoch;
    ++cases;
  }
  EXPECT_EQ(cases, 5);
}
