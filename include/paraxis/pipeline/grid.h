// paraxis/pipeline/grid.h — the step x device picture every schedule error prints.
//
//   std::string g = format_grid(schedule, {{.device = 1, .step = 3}});
//   // step  dev 0   dev 1
//   //    0  0F0
//   //    3  0B0    >1F2<      <- the failing cell is marked
//
// Row i shows the i-th action of every device's list (list order, not time: the dry-run's timeline is
// format_timeline in dry_run.h). A mark one past the end of a list shows as ">(end)<".
#pragma once

#include <string>
#include <vector>

#include "paraxis/pipeline/action.h"

namespace paraxis::pipeline {

struct GridMark {
  int device = 0;
  int step   = 0;
};

std::string format_grid(const Schedule& s, const std::vector<GridMark>& marks = {});

}  // namespace paraxis::pipeline
