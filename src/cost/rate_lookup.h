// One lookup for the rates a profile measured by call (cost/hardware.h): a Linear shape's or a convolution's,
// each on several rows (samples) of the call.
#pragma once

#include <vector>

#include "paraxis/cost/hardware.h"

namespace paraxis::cost {

// One measured call of the shape asked for: its rows and its rates alone and with every device at once.
struct RatedRows {
  double rows                  = 0;
  const RowRatePoint* alone    = nullptr;
  const RowRatePoint* together = nullptr;  // forward 0: not measured
};

// The rate of pass `kind` on `rows` rows from the calls of one shape: interpolated in log(rows) between the
// nearest measured rows, clamped at the ends; 0 when none. `concurrent`: the rate at once, never above the
// one alone (a higher figure is timing noise of the calibration).
double rate_by_rows(const std::vector<RatedRows>& calls, PassKind kind, double rows, bool concurrent);

}  // namespace paraxis::cost
