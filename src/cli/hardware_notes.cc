#include "cli/hardware_notes.h"

#include <fmt/format.h>

#include <algorithm>

#include "cli/units.h"

namespace paraxis::cli {

namespace {

std::string link_figures(const cost::LinkProfile& link) {
  return fmt::format("{} {}/s{}", link.name, format_bytes(link.bandwidth),
                     link.efficiency < 1 ? fmt::format(" x {:.2g} reached", link.efficiency) : "");
}

std::string compute_figures(const cost::HardwareProfile& hw) {
  std::string out = fmt::format("peak {:.4g} TFLOP/s {}", hw.peak_flops / 1e12, hw.dtype);
  if (hw.gemm.achievable_flops > 0)
    out += fmt::format(" (GEMMs at most {:.4g} measured, tile model over {} SMs)",
                       hw.gemm.achievable_flops / 1e12, hw.gemm.sms);
  out += fmt::format(", memory {}/s", format_bytes(hw.memory_bandwidth));
  if (hw.memory_efficiency < 1) out += fmt::format(" x {:.2g} reached", hw.memory_efficiency);
  return out + fmt::format(", {} per device", format_bytes(hw.memory_bytes));
}

}  // namespace

std::string hardware_provenance(const cost::HardwareProfile& hw, bool from_preset) {
  if (!from_preset) {
    const std::string source = hw.source.substr(0, std::min(hw.source.find(';'), size_t{160}));
    return fmt::format("hardware {} from --machine: {} (source: {})", hw.name, compute_figures(hw), source);
  }
  if (hw.gemm.sms == 0)
    return fmt::format(
        "hardware {} (preset: figures measured on another machine when the project began, not on this one): "
        "{}; kernel overhead {} assumed. Measured figures: `paraxis calibrate -o machine.json`, then "
        "--machine machine.json",
        hw.name, compute_figures(hw), format_seconds(hw.kernel_overhead_s));
  return fmt::format(
      "hardware {} (preset: datasheet figures and published measurements, not measured here; sources: "
      "`paraxis calibrate --preset {} -o FILE`): {}; links {} in a node of {}, {} between nodes\n"
      "  assumed (on no datasheet): kernel overhead {}, link latency {} in a node, {} between nodes",
      hw.name, hw.name, compute_figures(hw), link_figures(hw.intra_node), hw.devices_per_node,
      link_figures(hw.inter_node), format_seconds(hw.kernel_overhead_s),
      format_seconds(hw.intra_node.latency_s), format_seconds(hw.inter_node.latency_s));
}

std::string default_preset_notice(const cost::ModelDesc& model, const cost::HardwareProfile& hw,
                                  bool preset_given) {
  const double state_bytes = 16.0 * static_cast<double>(model.num_params());
  if (preset_given || (!model.symbolic && state_bytes <= hw.memory_bytes)) return "";
  return fmt::format(
      "note: no --preset or --machine given, so this prices {} on {} (this machine's CPU, {} per device); "
      "its "
      "parameters and Adam state alone take {}. For a GPU cluster give --preset a100-80gb, h100-sxm or h200.",
      model.name, hw.name, format_bytes(hw.memory_bytes), format_bytes(state_bytes));
}

}  // namespace paraxis::cli
