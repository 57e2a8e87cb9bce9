// paraxis/trace/analysis.h — what a trace says about concurrency: utilization, bubble, overlap, critical
// path, a verdict (the layout's kind, what it achieved, why) with a recommendation, and the work–depth view.
//
//   trace::TraceSet set = trace::read_chrome_trace("run.json");
//   trace::Analysis a   = trace::analyze(set, {.one_device_step_ns = 41.5e6});
//   fmt::print("{}\n", a.verdict);  // "pipeline (1F1B, m = 8): two or more devices computed at ..."
//   fmt::print("{}", trace::format_analysis(a));   // the text `paraxis analyze` prints
//
//   std::vector<trace::LayerWork> layers = {{"fc1", 2e9}, {"fc2", 1e9}};
//   trace::WorkDepth wd = trace::work_depth(layers, {.name = "1f1b", .pp = 2, .microbatches = 8});
//
// Definitions (docs/analysis.md gives them with examples):
//  * at each instant a device is busy (a compute event runs: F B I W OPT OTHER), else waiting (blocked on a
//    peer that has not arrived, see waiting_spans, or a WAIT event), else communicating (a SEND/RECV/collective
//    runs), else idle; fractions are of the analysis window;
//  * bubble = 1 − mean busy fraction (for 1F1B with free communication: (p − 1)/(m + p − 1));
//  * overlap = share of communication time during which the same device also computed;
//  * verdict: the layout's kind ("pipeline (1F1B, m = 8)", "workload partitioning", "data parallel", ...),
//    whether ≥ 2 devices computed for at least as long as exactly one, and for pipelines the largest cause
//    of the loss (stage imbalance, bubble, transfer, waiting); the recommendation never repeats the layout;
//  * critical path: from the last event back, each step to the dependency that finished last — the previous
//    event of the same device, the SEND of a RECV, or the last member to enter a collective.
#pragma once

#include <optional>
#include <span>
#include <string>
#include <vector>

#include "paraxis/trace/recorder.h"

namespace paraxis::trace {

struct DeviceUsage {
  DeviceInfo info;
  double busy = 0, comm = 0, wait = 0, idle = 0;  // fractions of the window; they sum to 1
  int64_t busy_ns = 0, comm_ns = 0, wait_ns = 0, idle_ns = 0;
  int64_t comm_total_ns   = 0;  // all communication time, also the part hidden behind compute
  int64_t comm_overlap_ns = 0;  // communication time during which this device computed
};

struct PathStep {
  int device = 0;
  Event event;
  bool cross_device = false;  // reached from the next step over a send→recv edge or a collective
};
struct CriticalPath {
  std::vector<PathStep> steps;                                   // in time order
  int64_t length_ns  = 0;                                        // first begin to last end
  int64_t compute_ns = 0, comm_ns = 0, wait_ns = 0, gap_ns = 0;  // attribution of the length
  int devices_visited = 0;
};

struct AnalysisOptions {
  std::optional<double> one_device_step_ns;  // overrides the trace's own value
  int step = -1;                             // analyse only this step (index into TraceSet::steps); -1: all
};

struct Analysis {
  std::string layout, source;
  int num_devices         = 0;
  int num_steps           = 1;
  int64_t window_begin_ns = 0, window_end_ns = 0;
  double step_ns = 0;  // window / steps
  std::vector<DeviceUsage> devices;
  double utilization = 0, bubble = 0;   // mean busy fraction; 1 − utilization
  double comm = 0, wait = 0, idle = 0;  // mean fractions
  std::optional<double> overlap;        // none when there was no communication
  double parallel_fraction = 0;         // ≥ 2 devices computing
  double single_fraction   = 0;         // exactly one
  double none_fraction     = 0;         // nobody computing
  double mean_computing    = 0;         // time-average of the number of devices computing
  bool parallel            = false;
  int pipeline_stages = 1, microbatches = 1;  // read from the events' stage and micro-batch fields
  std::optional<double> one_device_step_ns, speedup;
  double ideal_speedup = 1;  // = devices
  CriticalPath critical_path;
  int unmatched_sends = 0, unmatched_recvs = 0;
  int64_t dropped_events = 0;
  // Domain parallelism's exchanges inside the passes (HALO events: halo exchanges; LAYOUT events: layout
  // changes), per device and step on average; counted as communication (they block the pass that waits).
  double halo_events = 0, halo_ns = 0, halo_bytes = 0;
  double layout_events = 0, layout_ns = 0, layout_bytes = 0;
  LayoutInfo layout_info;       // the trace's layout (its metadata, else its label, else its events)
  std::string kind;             // "one device", "workload partitioning", "pipeline", "dp2 x pipeline", ...
  double pipeline_ideal  = 1;   // pipelines: the closed-form utilization 1 − (p−1)/(m+p−1)
  int heaviest_stage     = -1;  // pipelines: the stage with the most compute in the window
  double stage_imbalance = 1;   // max / mean compute per stage
  double heaviest_share  = 0;   // the heaviest stage's share of all stages' compute
  double transfer_ratio  = 0;   // a micro-batch's transfer time on a stage / its compute time there
  std::string cause;    // the largest measured loss: "stage imbalance", "bubble", "transfer", "waiting"
  std::string verdict;  // the kind, what it achieved, why
  std::string recommendation;   // one concrete change (never the current layout) and what it predicts
  std::string suggested_flags;  // the `paraxis train` flags the recommendation names ("" when none)
};

// Per device, the spans (sorted by begin, possibly overlapping) during which it was blocked on a peer: a SEND
// or RECV from its begin until its matched partner began (match_flows), a collective from its begin until
// the last member of the same call (same kind and flow_id, else seq) entered, and every WAIT event. Each
// span ends at the event's own end. The rest of a transfer or collective is communication.
using WaitingSpans = std::vector<std::vector<std::pair<int64_t, int64_t>>>;
WaitingSpans waiting_spans(const TraceSet& set, const FlowMatch& flows);
WaitingSpans waiting_spans(const TraceSet& set);

// "pipeline (1F1B, m = 8)", "dp2 x tp2", "workload partitioning", ... (the short name of a layout's kind).
std::string layout_kind(const LayoutInfo& l, int devices);

Analysis analyze(const TraceSet& set, const AnalysisOptions& options = {});
std::string format_analysis(const Analysis& a);

// ---- Work–depth (Ben-Nun & Hoefler 2019, arXiv 1802.09941) ------------------------------------------------
// A layout of the model on devices: the batch split dp ways, each layer split tp ways, the layers cut into pp
// contiguous stages (stage_of_layer, or balanced by work when empty), the mini-batch streamed as m
// micro-batches. Depth counts the data dependencies plus the order one device imposes on its own tasks.
struct WorkDepthLayout {
  std::string name = "one device";
  int dp = 1, tp = 1, pp = 1, microbatches = 1;
  std::vector<int> stage_of_layer;
  int devices() const { return dp * tp * pp; }
};
struct LayerDepth {
  std::string name;
  int stage    = 0;
  double work  = 0;  // w_i
  double depth = 0;  // w_i / (dp·tp): the layer's longest chain on one device
};
struct WorkDepth {
  std::string layout;
  int devices        = 1;
  double work        = 0;  // W = Σ w_i
  double depth       = 0;  // D (see docs/analysis.md)
  double parallelism = 0;  // W / D
  double time_bound  = 0;  // Brent: T_p ≥ max(W / p, D) in the unit of work
  std::vector<LayerDepth> layers;
};
WorkDepth work_depth(std::span<const LayerWork> layers, const WorkDepthLayout& layout);
// One device, placement, 1F1B with m = 4n, tp = n, dp = n, for n devices.
std::vector<WorkDepthLayout> standard_layouts(int devices);
// Contiguous partition of the layers into `stages` parts minimising the largest part's work.
std::vector<int> balanced_stages(std::span<const LayerWork> layers, int stages);
// The work a trace knows: its per-layer work when recorded, else each stage's measured compute time (ns).
std::vector<LayerWork> trace_work(const TraceSet& set);
std::string format_work_depth(std::span<const LayerWork> layers, std::span<const WorkDepthLayout> layouts,
                              const std::string& unit);

}  // namespace paraxis::trace
