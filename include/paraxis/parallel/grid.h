// paraxis/parallel/grid.h — the device grid as pure integer math.
//
//   Grid g{/*dp=*/2, /*tp=*/2, /*pp=*/4};     // 16 devices
//   Coord c = g.coord(13);                    // {dp 1, tp 1, pp 2}: tp varies fastest, then pp, then dp
//   int r = g.rank({1, 1, 2});                // 13
//   std::vector<int> peers = g.group(Axis::kTp, 13);   // {12, 13}: the ranks that differ from 13 only in tp
//
// Rank = tp + tp_size * (pp + pp_size * dp): the Megatron convention, so tensor-parallel peers are neighbours
// (the cheapest links). Groups are computed on demand and passed explicitly; nothing is stored in globals.
#pragma once

#include <string>
#include <vector>

namespace paraxis {

enum class Axis { kDp, kTp, kPp, kSp };
const char* axis_name(Axis a);

struct Coord {
  int dp = 0, tp = 0, pp = 0, sp = 0;
  bool operator==(const Coord&) const = default;
};

// sp: the spatial (domain-parallel) axis, between tp and pp (parallel/spatial.h): rank = tp + tp_size * (sp +
// sp_size * (pp + pp_size * dp)); with sp 1 every rank is where it was without it.
struct Grid {
  int dp = 1, tp = 1, pp = 1, sp = 1;

  int size() const { return dp * tp * pp * sp; }
  int axis_size(Axis a) const;
  Coord coord(int rank) const;
  int rank(const Coord& c) const;
  int coord_on(Axis a, int rank) const;
  // Ranks sharing every coordinate of `rank` except `a`, ordered by their coordinate on `a`.
  std::vector<int> group(Axis a, int rank) const;
  // Every group along `a` (each a list of ranks), ordered by the lowest rank.
  std::vector<std::vector<int>> groups(Axis a) const;
  std::string describe() const;           // "dp2 x tp2 x pp4" (and " x sp2" when sp > 1)
  std::string coord_str(int rank) const;  // "dp1 tp1 pp2"
};

// Checks dp*tp*pp*sp == devices, deriving dp when it is 0 (devices / (tp*pp*sp)). Throws a user error naming
// the values, the rule and valid alternatives.
Grid make_grid(int devices, int dp, int tp, int pp, int sp = 1);

}  // namespace paraxis
