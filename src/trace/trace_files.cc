// Trace files named on a command line (chrome_trace.h): which format each is, and which files make one run.
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "paraxis/core/error.h"
#include "paraxis/core/input_file.h"
#include "paraxis/core/json_read.h"
#include "paraxis/trace/chrome_trace.h"
#include "paraxis/trace/torch_trace.h"

namespace paraxis::trace {
namespace {

using nlohmann::json;

constexpr const char* kWhatWorks =
    "give a trace written by `paraxis train --trace FILE` (or `paraxis predict --trace-out`), or PyTorch "
    "profiler traces (torch.profiler's export_chrome_trace, one file per rank; scripts/torch-traces shows "
    "how)";

enum class Format { kParaxis, kPyTorch };

struct TraceFile {
  std::string path, what;
  json doc;
  Format format = Format::kParaxis;
};

json parse_file(const std::string& path) {
  check_input_file("trace file", path);
  std::ifstream in(path);
  PX_USER_CHECK(in.good(), "cannot open trace file '{}': {}; {}", path, std::strerror(errno), kWhatWorks);
  try {
    return parse_json_bounded(in, fmt::format("trace file '{}'", path), /*allow_exceptions=*/true);
  } catch (const json::parse_error& e) {
    PX_USER_FAIL("trace file '{}' is not valid JSON ({}); {}", path, e.what(), kWhatWorks);
  }
}

bool has_paraxis_meta(const json& doc) {
  return doc.is_object() && doc.contains("otherData") && doc["otherData"].is_object() &&
         doc["otherData"].contains("paraxis");
}

// A file and its format. A Chrome trace that is neither paraxis's nor PyTorch's is rejected after the checks
// every Chrome trace must pass (so "not a trace" is told apart from "a trace of another framework").
TraceFile load(const std::string& path) {
  TraceFile f{path, fmt::format("trace file '{}'", path), parse_file(path)};
  if (has_paraxis_meta(f.doc)) return f;
  if (is_torch_trace(f.doc)) {
    f.format = Format::kPyTorch;
    return f;
  }
  from_chrome_json(f.doc, f.what);
  PX_USER_FAIL(
      "{} is a Chrome trace from an unknown framework: it has neither paraxis's otherData.paraxis nor "
      "PyTorch "
      "profiler events (pid \"CPU functions\", cat cpu_op/user_annotation, distributedInfo); {}",
      f.what, kWhatWorks);
}

std::string file_name(const std::string& path) {
  return std::filesystem::path(path).filename().string();
}

// PyTorch files [begin, end) as one run.
TraceRun torch_run(std::span<TraceFile> files) {
  std::vector<TorchFile> docs;
  std::string name;
  for (TraceFile& f : files) {
    PX_USER_CHECK(
        f.format == Format::kPyTorch,
        "{} is a paraxis trace among PyTorch rank files; several files are read as the ranks of one "
        "PyTorch run, so give a paraxis trace on its own",
        f.what);
    name += (name.empty() ? "" : " + ") + file_name(f.path);
    docs.push_back({f.what, std::move(f.doc)});
  }
  try {
    return {name, from_torch_traces(docs)};
  } catch (const json::exception& e) {  // a field of the wrong type somewhere in the PyTorch files
    PX_USER_FAIL("{}: a field has the wrong type ({}); {}", name, e.what(), kWhatWorks);
  }
}

TorchRankInfo rank_info(const TraceFile& f) {
  try {
    return torch_rank_info(f.doc);
  } catch (const json::exception& e) {
    PX_USER_FAIL("{}: a field has the wrong type ({}); {}", f.what, e.what(), kWhatWorks);
  }
}

}  // namespace

TraceSet read_trace_run(std::span<const std::string> paths) {
  PX_USER_CHECK(!paths.empty(), "no trace file given; {}", kWhatWorks);
  std::vector<TraceFile> files;
  for (const std::string& p : paths) files.push_back(load(p));
  if (files.size() == 1 && files[0].format == Format::kParaxis)
    return from_chrome_json(files[0].doc, files[0].what);
  return torch_run(files).set;
}

std::vector<TraceRun> read_trace_runs(std::span<const std::string> paths) {
  std::vector<TraceFile> files;
  for (const std::string& p : paths) files.push_back(load(p));
  std::vector<TraceRun> runs;
  for (size_t i = 0; i < files.size();) {
    if (files[i].format == Format::kParaxis) {
      runs.push_back({file_name(files[i].path), from_chrome_json(files[i].doc, files[i].what)});
      ++i;
      continue;
    }
    const TorchRankInfo info = rank_info(files[i]);
    const size_t n           = static_cast<size_t>(std::max(1, info.world_size));
    PX_USER_CHECK(i + n <= files.size(),
                  "{} is rank {} of a {}-rank PyTorch run, but only {} file{} follow{} it; give the run's {} "
                  "rank files one after another",
                  files[i].what, info.rank, n, files.size() - i - 1, files.size() - i - 1 == 1 ? "" : "s",
                  files.size() - i - 1 == 1 ? "s" : "", n);
    runs.push_back(torch_run(std::span(files).subspan(i, n)));
    i += n;
  }
  return runs;
}

}  // namespace paraxis::trace
