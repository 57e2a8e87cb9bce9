// The cost model's estimate of what an analysis' recommendation would change, for `paraxis analyze` and
// `paraxis report`: the run the trace records (model, batch, optimizer: TraceSet::run) priced in its own
// layout and in the recommended one with one hardware profile; the measured step scaled by their ratio, so
// the profile's absolute error cancels as far as it is the same in both layouts.
//
//   std::string line = cli::predicted_effect(set, analysis, hw, "preset cpu-this-machine");
//   // "predicted: step 2.57 ms → 1.41 ms (−45%) with `--dp 2 --pp 1` (cost model, ...)"; "" when unknown
#pragma once

#include <string>

#include "paraxis/cost/hardware.h"
#include "paraxis/trace/analysis.h"

namespace paraxis::cli {

// The layout `flags` ("--dp 2 --pp 1", "--schedule 1f1b --microbatches 8", ...) make of `base`; the flags the
// verdict's recommendations use. Throws a user error for any other flag.
trace::LayoutInfo apply_layout_flags(trace::LayoutInfo base, const std::string& flags);

// "" when the trace does not record its run, the recommendation changes no flags, or the cost model cannot
// price one of the two layouts (the reason is then given instead).
std::string predicted_effect(const trace::TraceSet& set, const trace::Analysis& a,
                             const cost::HardwareProfile& hw, const std::string& hw_name);

}  // namespace paraxis::cli
