#include "paraxis/parallel/grid.h"

#include <fmt/format.h>

#include <algorithm>

#include "paraxis/core/error.h"

namespace paraxis {

const char* axis_name(Axis a) {
  return a == Axis::kDp ? "dp" : a == Axis::kTp ? "tp" : a == Axis::kPp ? "pp" : "sp";
}

int Grid::axis_size(Axis a) const {
  return a == Axis::kDp ? dp : a == Axis::kTp ? tp : a == Axis::kPp ? pp : sp;
}

namespace {
int& coord_ref(Coord& c, Axis a) {
  return a == Axis::kDp ? c.dp : a == Axis::kTp ? c.tp : a == Axis::kPp ? c.pp : c.sp;
}
}  // namespace

Coord Grid::coord(int r) const {
  PX_CHECK(r >= 0 && r < size(), "rank {} outside grid {} of {} devices", r, describe(), size());
  return Coord{r / (tp * sp * pp), r % tp, (r / (tp * sp)) % pp, (r / tp) % sp};
}

int Grid::rank(const Coord& c) const {
  PX_CHECK(
      c.dp >= 0 && c.dp < dp && c.tp >= 0 && c.tp < tp && c.pp >= 0 && c.pp < pp && c.sp >= 0 && c.sp < sp,
      "coordinate dp{} tp{} pp{} sp{} outside grid {}", c.dp, c.tp, c.pp, c.sp, describe());
  return c.tp + tp * (c.sp + sp * (c.pp + pp * c.dp));
}

int Grid::coord_on(Axis a, int r) const {
  Coord c = coord(r);
  return coord_ref(c, a);
}

std::vector<int> Grid::group(Axis a, int r) const {
  Coord c = coord(r);
  std::vector<int> out;
  for (int i = 0; i < axis_size(a); ++i) {
    Coord o         = c;
    coord_ref(o, a) = i;
    out.push_back(rank(o));
  }
  return out;
}

std::vector<std::vector<int>> Grid::groups(Axis a) const {
  std::vector<std::vector<int>> out;
  for (int r = 0; r < size(); ++r)
    if (coord_on(a, r) == 0) out.push_back(group(a, r));
  return out;
}

std::string Grid::describe() const {
  return fmt::format("dp{} x tp{} x pp{}{}", dp, tp, pp, sp > 1 ? fmt::format(" x sp{}", sp) : "");
}

std::string Grid::coord_str(int r) const {
  Coord c = coord(r);
  return fmt::format("dp{} tp{} pp{}{}", c.dp, c.tp, c.pp, sp > 1 ? fmt::format(" sp{}", c.sp) : "");
}

namespace {
std::string divisors_of(int n) {
  std::string out;
  for (int d = 1; d <= n; ++d)
    if (n % d == 0) out += (out.empty() ? "" : ", ") + std::to_string(d);
  return out;
}
}  // namespace

Grid make_grid(int devices, int dp, int tp, int pp, int sp) {
  PX_USER_CHECK(sp >= 1, "--sp {} must be at least 1; use one of {}", sp, divisors_of(devices));
  if (sp > 1) {  // the other axes share devices / sp
    PX_USER_CHECK(devices % sp == 0, "--sp {} does not divide --devices {}; use one of {}", sp, devices,
                  divisors_of(devices));
    PX_USER_CHECK(dp <= 0 || int64_t{dp} * tp * pp * sp == devices,
                  "--dp {} x --tp {} x --pp {} x --sp {} = {} devices, but --devices is {}; use --dp {} or "
                  "--devices {}",
                  dp, tp, pp, sp, int64_t{dp} * tp * pp * sp, devices, devices / std::max(1, tp * pp * sp),
                  int64_t{dp} * tp * pp * sp);
    Grid g = make_grid(devices / sp, dp, tp, pp);
    g.sp   = sp;
    return g;
  }
  PX_USER_CHECK(devices >= 1, "--devices {} must be at least 1", devices);
  PX_USER_CHECK(tp >= 1, "--tp {} must be at least 1; use one of {}", tp, divisors_of(devices));
  PX_USER_CHECK(pp >= 1, "--pp {} must be at least 1; use one of {}", pp, divisors_of(devices));
  PX_USER_CHECK(dp >= 0, "--dp {} must be at least 1 (or omit it to derive devices / (tp*pp))", dp);
  PX_USER_CHECK(devices % (tp * pp) == 0,
                "--tp {} x --pp {} = {} does not divide --devices {}; tp*pp must be one of {}", tp, pp,
                tp * pp, devices, divisors_of(devices));
  if (dp == 0) dp = devices / (tp * pp);
  PX_USER_CHECK(dp * tp * pp == devices,
                "--dp {} x --tp {} x --pp {} = {} devices, but --devices is {}; use --dp {} or --devices {}",
                dp, tp, pp, dp * tp * pp, devices, devices / (tp * pp), dp * tp * pp);
  return Grid{dp, tp, pp};
}

}  // namespace paraxis
