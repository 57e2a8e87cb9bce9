// paraxis/trace/chrome_trace.h — Chrome trace JSON (opens in Perfetto / chrome://tracing) and back.
//
//   trace::write_chrome_trace(set, "run.json");          // `paraxis train --trace run.json` calls this
//   trace::TraceSet back = trace::read_chrome_trace("run.json");   // what `paraxis analyze` reads
//
// Layout of the file (docs/analysis.md has an example):
//  * one process per device (pid = device index) named "device 1 (dp0 tp0 pp1)";
//  * thread "compute" (tid 0) and thread "comm" (tid 1); slices on one thread nest, so an event that would
//    overlap another without nesting (two async sends in flight) goes to an extra thread "comm 2" (tid 2),
//    ...;
//  * "X" complete events: cat = kind ("F", "SEND", ...), args = stage, mb, bytes, peer, seq, flow;
//  * a flow arrow ("s" then "f", bp "e") from each SEND to its matching RECV (see match_flows);
//  * otherData.paraxis: format version, layout, source, grid coordinates, step windows, one-device step time,
//    per-layer work — everything read_chrome_trace needs to rebuild the TraceSet.
// Times are microseconds (Chrome's unit) from the start of the trace, with nanosecond digits.
#pragma once

#include <nlohmann/json.hpp>
#include <span>
#include <string>
#include <vector>

#include "paraxis/trace/recorder.h"

namespace paraxis::trace {

nlohmann::json to_chrome_json(const TraceSet& set);
void write_chrome_trace(const TraceSet& set, const std::string& path);

// Throws a user error (exit 2) for a missing file, invalid JSON, or JSON that is not a trace.
TraceSet from_chrome_json(const nlohmann::json& doc, const std::string& what = "trace");
// One file: a paraxis trace, or a PyTorch profiler trace of one process or merged (torch_trace.h).
TraceSet read_chrome_trace(const std::string& path);

// Trace files named on a command line (trace_files.cc). A file is a paraxis trace (otherData.paraxis) or a
// PyTorch profiler trace (torch_trace.h); a Chrome trace of any other framework is a user error (exit 2).
// read_trace_run: the files are one run — one paraxis trace, or PyTorch rank files (in any order) or one
// merged PyTorch file. `paraxis analyze` reads this.
TraceSet read_trace_run(std::span<const std::string> paths);
// read_trace_runs: one run per paraxis trace; PyTorch rank files are grouped one after another by the world
// size their distributedInfo names (a 2-rank run: its two files next to each other; a file that names none is
// a run of its own). `paraxis report` reads this, a run per column.
struct TraceRun {
  std::string name;  // the file name, or the rank files' names joined by " + "
  TraceSet set;
};
std::vector<TraceRun> read_trace_runs(std::span<const std::string> paths);

}  // namespace paraxis::trace
