// The rule `paraxis demo` and `paraxis train --predict` share for measuring their prediction's rates in their
// own run (measure::RunCalibration).
#pragma once

#include <string>

#include "paraxis/core/error.h"

namespace paraxis::cli {

// `flag`: 1 (--calibrate), 0 (--no-calibrate), -1 (neither: `default_on`). A preset other than
// cpu-this-machine describes another machine, and this one's rates do not belong in it: a user error (exit
// 2).
inline bool calibrate_in_run(int flag, bool default_on, const std::string& machine,
                             const std::string& preset) {
  const bool on = flag < 0 ? default_on : flag == 1;
  PX_USER_CHECK(!on || !machine.empty() || preset == "cpu-this-machine",
                "--calibrate measures this machine's rates, which do not belong in --preset {}; use it alone "
                "(or with --preset cpu-this-machine, or --machine m.json)",
                preset);
  return on;
}

}  // namespace paraxis::cli
