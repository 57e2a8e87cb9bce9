#include "paraxis/parallel/grid.h"

#include <gtest/gtest.h>

#include "paraxis/core/error.h"

using namespace paraxis;
using Groups = std::vector<std::vector<int>>;

// The worked example of docs/architecture.md: 16 ranks, tp 2, pp 4, dp 2 (Megatron's convention: tp fastest).
TEST(Grid, WorkedExample16Ranks) {
  Grid g{2, 2, 4};
  EXPECT_EQ(g.size(), 16);
  EXPECT_EQ(g.coord(13), (Coord{1, 1, 2}));
  EXPECT_EQ(g.rank({1, 1, 2}), 13);
  for (int r = 0; r < 16; ++r) EXPECT_EQ(g.rank(g.coord(r)), r);
  EXPECT_EQ(g.groups(Axis::kTp),
            (Groups{{0, 1}, {2, 3}, {4, 5}, {6, 7}, {8, 9}, {10, 11}, {12, 13}, {14, 15}}));
  EXPECT_EQ(g.groups(Axis::kPp), (Groups{{0, 2, 4, 6}, {1, 3, 5, 7}, {8, 10, 12, 14}, {9, 11, 13, 15}}));
  EXPECT_EQ(g.groups(Axis::kDp),
            (Groups{{0, 8}, {1, 9}, {2, 10}, {3, 11}, {4, 12}, {5, 13}, {6, 14}, {7, 15}}));
  EXPECT_EQ(g.group(Axis::kPp, 13), (std::vector<int>{9, 11, 13, 15}));
  EXPECT_EQ(g.coord_str(13), "dp1 tp1 pp2");
}

TEST(Grid, DerivesDpAndRejectsBadSizes) {
  EXPECT_EQ(make_grid(8, 0, 2, 2).dp, 2);
  try {
    make_grid(8, 0, 3, 1);
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.exit_code(), 2);
    EXPECT_NE(std::string(e.what()).find("does not divide --devices 8; tp*pp must be one of 1, 2, 4, 8"),
              std::string::npos)
        << e.what();
  }
  try {
    make_grid(4, 2, 2, 2);
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("use --dp 1 or --devices 8"), std::string::npos) << e.what();
  }
}

// The spatial axis sits between tp and pp: rank = tp + tp·(sp + sp·(pp + pp·dp)); sp 1 changes nothing.
TEST(Grid, SpatialAxis) {
  Grid g{2, 2, 2, 2};  // dp 2, tp 2, pp 2, sp 2: 16 ranks
  EXPECT_EQ(g.size(), 16);
  EXPECT_EQ(g.coord(13), (Coord{1, 1, 1, 0}));  // 13 = 1 + 2·(0 + 2·(1 + 2·1))
  for (int r = 0; r < 16; ++r) EXPECT_EQ(g.rank(g.coord(r)), r);
  EXPECT_EQ(g.group(Axis::kSp, 13), (std::vector<int>{13, 15}));
  EXPECT_EQ(g.group(Axis::kTp, 13), (std::vector<int>{12, 13}));
  EXPECT_EQ(g.group(Axis::kPp, 13), (std::vector<int>{9, 13}));
  EXPECT_EQ(g.describe(), "dp2 x tp2 x pp2 x sp2");
  EXPECT_EQ(g.coord_str(15), "dp1 tp1 pp1 sp1");
  EXPECT_EQ((Grid{2, 2, 4}.coord(13)), (Coord{1, 1, 2, 0}));  // the worked example, unchanged
  EXPECT_EQ(make_grid(8, 0, 1, 1, 2).dp, 4);
  try {
    make_grid(8, 3, 1, 1, 2);
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("--dp 3 x --tp 1 x --pp 1 x --sp 2 = 6 devices, but --devices is 8; "
                                         "use --dp 4"),
              std::string::npos)
        << e.what();
  }
}
