// What `predict` and `plan` say about the hardware profile they priced with: where its figures come from
// (datasheet and published measurements, or measured by `paraxis calibrate`) and which are assumed; and,
// when --preset was left out for a model too large for this machine, which preset was used and which to use.
//
//   fmt::print("{}\n", hardware_provenance(hw, /*from_preset=*/true));
//   // "hardware h100-sxm (preset: datasheet figures and published measurements, not measured here): ..."
#pragma once

#include <string>

#include "paraxis/cost/cost.h"
#include "paraxis/cost/hardware.h"

namespace paraxis::cli {

// One or two lines: the profile's kind, its main figures with the efficiency applied to each, and the
// figures on no datasheet (kernel overhead, link latencies) marked assumed.
std::string hardware_provenance(const cost::HardwareProfile& hw, bool from_preset);

// "" unless the default preset was used (no --preset, no --machine) for a model whose parameters and
// optimizer state alone (16 bytes per parameter, mixed-precision Adam) exceed that preset's memory per
// device, or that is a GPT by size: then a line naming the preset used and the GPU presets to choose from.
std::string default_preset_notice(const cost::ModelDesc& model, const cost::HardwareProfile& hw,
                                  bool preset_given);

}  // namespace paraxis::cli
