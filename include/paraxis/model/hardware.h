// paraxis/model/hardware.h — what a device and its links can do, as data the cost model reads.
//
//   HardwareProfile hw = hardware_preset("h100-sxm");        // datasheet figures, source cited in hw.source
//   HardwareProfile me = load_hardware("machine.json");      // written by `paraxis calibrate -o
//   machine.json` double rate = hw.matmul_rate(2.0 * 4096 * 4096 * 4096);  // FLOP/s of one matmul of that
//   many flops double t    = hw.link_for(/*group=*/8).time(1 << 20);     // α + S/β of a 1 MiB point-to-point
//   message
//
// Every profile names its source: a datasheet URL for presets, "measured by paraxis calibrate on <host>" for
// a calibrated machine. Presets give peak dense rates (they are not fitted to any published training
// throughput), so predictions from them are optimistic bounds; a calibrated profile gives achieved rates by
// matmul size. Figures that no datasheet gives (link latency α) are marked "assumed" in the data.
// Units: seconds, bytes, FLOP/s, bytes/s. Link bandwidth β is per direction per device (what a ring step
// moves), so a ring all-reduce of S bytes on n devices costs 2(n−1)/n · S/β + 2(n−1)α (cost.h).
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace paraxis::model {

// One message size and its time, as calibrate measures it.
struct MessagePoint {
  double bytes   = 0;
  double seconds = 0;
};

struct LinkProfile {
  std::string name;                        // "nvlink4", "ib-ndr", "threads", ...
  double latency_s = 0;                    // α per message (or per ring step)
  double bandwidth = 0;                    // β, bytes/s per direction per device
  bool rendezvous  = false;                // a transfer starts only once the receiver has posted its receive
  std::string source;                      // where α and β come from
  std::vector<MessagePoint> p2p_measured;  // calibrate: send/recv time by size (2 devices)
  std::vector<MessagePoint> allreduce_measured;  // calibrate: all-reduce time by size (2 devices)
  double time(double bytes) const { return latency_s + bytes / bandwidth; }
};

// Achieved matmul rate for calls of a given size (flops of one call).
struct RatePoint {
  double flops       = 0;
  double flops_per_s = 0;
};

struct HardwareProfile {
  std::string name;
  std::string source;  // datasheet URL(s) or the calibration that measured it
  std::string dtype     = "fp32";
  int bytes_per_element = 4;  // training dtype (activations, gradients on the wire)
  double peak_flops     = 0;  // dense, per device, in `dtype`
  // Achieved rate by call size, sorted by flops (empty: peak_flops for every size).
  std::vector<RatePoint> matmul_rates;
  double memory_bandwidth  = 0;  // bytes/s per device (elementwise passes, optimizer step)
  double memory_bytes      = 0;  // capacity per device
  double kernel_overhead_s = 0;  // fixed cost per kernel call (launch, dispatch)
  // Rate when every core of the machine computes at once, relative to one alone (1 for accelerators).
  double concurrent_efficiency = 1;
  int devices_per_node         = 1;
  LinkProfile intra_node;  // between devices of one node (NVLink, shared memory)
  LinkProfile inter_node;  // between nodes (InfiniBand, Ethernet)

  // Interpolated in log(flops) between measured points; clamped at the ends.
  double matmul_rate(double flops_per_call) const;
  // The link a group of `group_size` devices, packed on nodes, is limited by.
  const LinkProfile& link_for(int group_size) const {
    return group_size <= devices_per_node ? intra_node : inter_node;
  }
  std::string summary() const;  // one paragraph: rates, bandwidths, links, source
};

nlohmann::json to_json(const HardwareProfile& hw);
// User errors (exit 2) for missing or non-positive required fields, naming the field.
HardwareProfile hardware_from_json(const nlohmann::json& j, const std::string& what = "hardware profile");
LinkProfile link_from_json(const nlohmann::json& j, const std::string& what);
HardwareProfile load_hardware(const std::string& path);
void save_hardware(const HardwareProfile& hw, const std::string& path);

// Built-in presets: a100-80gb, h100-sxm, h200, cpu-this-machine (device presets, with their node's links).
HardwareProfile hardware_preset(const std::string& name);
std::vector<std::string> hardware_preset_names();
// Interconnect presets (nvlink3, nvlink4, ib-hdr, ib-ndr, threads); a device preset refers to them by name.
LinkProfile link_preset(const std::string& name);
std::vector<std::string> link_preset_names();

}  // namespace paraxis::model
