// paraxis/trace/torch_trace.h — PyTorch profiler traces (torch.profiler's export_chrome_trace) as a TraceSet,
// so `paraxis analyze` and `paraxis report` judge runs paraxis did not train.
//
//   std::vector<trace::TorchFile> files = {{"trace file 'r0.json'", doc0}, {"trace file 'r1.json'", doc1}};
//   trace::TraceSet set = trace::from_torch_traces(files);  // one run: one device per rank
//   trace::Analysis a   = trace::analyze(set);              // "workload partitioning: at most one ..."
//
// Input: one file per rank (the rank from the file's "distributedInfo", else its position in the list) or
// one merged file (the per-rank files' events concatenated: each process id is a rank, in order of first
// appearance). Both PyTorch formats load: Kineto's ({"schemaVersion", "distributedInfo", "traceEvents"} with
// cat cpu_op / user_annotation / python_function) and the legacy autograd profiler's (a list of events with
// pid "CPU functions", no cat), which Debian's PyTorch writes. scripts/torch-traces writes the three runs the
// tests read (tests/trace/fixtures/torch/).
//
// Reading (docs/analysis.md, "PyTorch profiler traces"):
//  * compute = the outermost operator of each nest on a thread (aten::linear, not the aten::t inside it;
//    annotations such as DistributedDataParallel.forward are looked through); autograd engine functions
//    (and DDP's reducer) → B, Optimizer.step → OPT, Optimizer.zero_grad → OTHER, any other operator → F;
//    communication inside an operator is cut out of its compute;
//  * communication = a c10d:: call united with its backend's work (gloo:, nccl:, mpi:, ucc:), by kind and
//    order: all_reduce → ALLREDUCE, send → SEND, recv → RECV, ...; with two ranks a SEND/RECV's peer is the
//    other rank and seq counts the pair's messages (match_flows pairs them);
//  * steps = ProfilerStep#N windows present on every rank (p.step() marks them);
//  * clocks: every rank's profiler counts from its own start. A receive cannot end before its send began and
//    no member leaves a collective before the last one entered; each such bound (calls matched by
//    ProfilerStep, kind and order) limits the offset between two ranks, and the offset is the middle of the
//    bounds (TraceSet::clocks holds it and half the bounds' width);
//  * layout: send/recv between two ranks → stages (stage 0 sends first) with m = sends per step (m = 1:
//    placement; all sends before the first receive: GPipe, else 1F1B); all-reduces and no send/recv → dp.
// Bad input is a user error (exit 2): GPU kernel events (not read yet), two files of one rank, ranks missing,
// ranks that no send/recv or collective links in time, or bounds that contradict each other.
#pragma once

#include <nlohmann/json.hpp>
#include <span>
#include <string>

#include "paraxis/trace/recorder.h"

namespace paraxis::trace {

// Whether a parsed JSON document is a PyTorch profiler trace (Kineto's keys, its categories, or the legacy
// format's pid "CPU functions").
bool is_torch_trace(const nlohmann::json& doc);

// What a file says about the run it belongs to ("distributedInfo"); -1 where it says nothing.
struct TorchRankInfo {
  int rank = -1, world_size = -1;
};
TorchRankInfo torch_rank_info(const nlohmann::json& doc);

struct TorchFile {
  std::string what;  // how messages name the file: "trace file 'r0.json'"
  nlohmann::json doc;
};
// One run from its rank files (or one merged file). Throws a user error for the cases above.
TraceSet from_torch_traces(std::span<const TorchFile> files);

}  // namespace paraxis::trace
