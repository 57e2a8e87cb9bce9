#include "cost/rate_lookup.h"

#include <algorithm>
#include <cmath>

namespace paraxis::cost {

double rate_by_rows(const std::vector<RatedRows>& calls, PassKind kind, double rows, bool concurrent) {
  if (rows <= 0) return 0;
  auto pick = [kind](const RowRatePoint& r) {
    return kind == PassKind::kForward         ? r.forward
           : kind == PassKind::kBackwardInput ? r.backward_input
                                              : r.backward_weight;
  };
  auto rate = [&](const RatedRows& p) {
    return concurrent && p.together && p.together->forward > 0 ? std::min(pick(*p.together), pick(*p.alone))
                                                               : pick(*p.alone);
  };
  const RatedRows *lo = nullptr, *hi = nullptr;  // the nearest measured rows below and above
  for (const RatedRows& p : calls) {
    if (p.rows <= rows && (!lo || p.rows > lo->rows)) lo = &p;
    if (p.rows >= rows && (!hi || p.rows < hi->rows)) hi = &p;
  }
  if (!lo && !hi) return 0;
  if (!lo) return rate(*hi);
  if (!hi || hi->rows == lo->rows) return rate(*lo);
  const double w = std::log(rows / lo->rows) / std::log(hi->rows / lo->rows);
  return rate(*lo) + w * (rate(*hi) - rate(*lo));
}

}  // namespace paraxis::cost
