// PyTorch profiler traces (paraxis/trace/torch_trace.h): the runs scripts/torch-traces recorded with Debian's
// PyTorch (tests/trace/fixtures/torch/) get the verdicts of their layouts; the reading rules on small
// hand-written traces; bad input is a user error that names the file and what would work.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <functional>
#include <set>
#include <tuple>

#include "paraxis/core/error.h"
#include "paraxis/trace/analysis.h"
#include "paraxis/trace/chrome_trace.h"
#include "paraxis/trace/torch_trace.h"
#include "test_support/paths.h"

namespace paraxis::trace {
namespace {

using nlohmann::json;

std::string fixture(const std::string& name) {
  return paraxis::testing::source_dir() + "/tests/trace/fixtures/torch/" + name + ".json";
}

TorchFile load(const std::string& name) {
  std::ifstream in(fixture(name));
  return {name, json::parse(in)};
}

TraceSet read_run(const std::string& run) {
  const std::vector<TorchFile> files = {load(run + ".rank0"), load(run + ".rank1")};
  return from_torch_traces(files);
}

TEST(TorchTrace, LayerPlacementIsWorkloadPartitioning) {
  const TraceSet set = read_run("placement");
  EXPECT_EQ(set.num_devices(), 2);
  EXPECT_EQ(set.steps.size(), 3u);
  EXPECT_TRUE(set.layout_info.placement);
  EXPECT_EQ(set.layout_info.pp, 2);
  EXPECT_EQ(set.layout_info.m, 1);
  EXPECT_EQ(set.layout.rfind("pytorch (gloo, 2 ranks)", 0), 0u) << set.layout;
  const Analysis a = analyze(set);
  EXPECT_EQ(a.kind, "workload partitioning");
  EXPECT_FALSE(a.parallel) << a.verdict;  // one stage computes while the other waits
  EXPECT_EQ(a.unmatched_sends + a.unmatched_recvs, 0);
}

TEST(TorchTrace, MicroBatchedStagesAreAGPipePipeline) {
  const TraceSet set = read_run("gpipe");
  EXPECT_FALSE(set.layout_info.placement);
  EXPECT_EQ(set.layout_info.m, 4);
  EXPECT_EQ(set.layout_info.schedule, "gpipe");
  const Analysis a = analyze(set);
  EXPECT_EQ(a.kind, "pipeline (GPipe, m = 4)");
  EXPECT_EQ(a.microbatches, 4);  // the events' micro-batch numbers, from the transfers around them
  for (int d = 0; d < 2; ++d) {
    std::set<std::pair<Kind, int>> seen;
    for (const Event& e : set.events[d])
      if ((e.kind == Kind::kForward || e.kind == Kind::kBackward) && e.microbatch >= 0)
        seen.insert({e.kind, e.microbatch});
    EXPECT_EQ(seen.size(), 8u) << "device " << d << ": F and B of micro-batches 0..3";
  }
  EXPECT_GT(a.parallel_fraction, 0) << "stage 1 works on a micro-batch while stage 0 forwards the next";
  EXPECT_EQ(a.unmatched_sends + a.unmatched_recvs, 0);
}

TEST(TorchTrace, DdpIsDataParallel) {
  const TraceSet set = read_run("ddp");
  EXPECT_EQ(set.layout_info.dp, 2);
  EXPECT_EQ(set.layout_info.pp, 1);
  EXPECT_EQ(set.devices[1].dp, 1);
  const Analysis a = analyze(set);
  EXPECT_EQ(a.kind, "data parallel");
  // Both ranks run forward and backward at once (how much depends on the machine the fixture was made on).
  EXPECT_GT(a.parallel_fraction, 0) << a.verdict;
}

// On the aligned clocks every receive ends after its send began and every all-reduce ends after both ranks
// entered it; the offsets are bounded (uncertainty finite) and rank 0 is the reference.
TEST(TorchTrace, AlignedClocksRespectCausality) {
  for (const std::string run : {"placement", "gpipe", "ddp"}) {
    const TraceSet set = read_run(run);
    ASSERT_EQ(set.clocks.size(), 2u) << run;
    EXPECT_EQ(set.clocks[0].offset_ns, 0);
    EXPECT_GE(set.clocks[1].uncertainty_ns, 0);
    for (const Flow& f : match_flows(set).flows)
      EXPECT_GE(set.events[f.dst_device][f.dst_index].t_end_ns + 2000,
                set.events[f.src_device][f.src_index].t_begin_ns)
          << run;
    std::vector<const Event*> reduces[2];
    for (int d = 0; d < 2; ++d)
      for (const Event& e : set.events[d])
        if (e.kind == Kind::kAllReduce) reduces[d].push_back(&e);
    ASSERT_EQ(reduces[0].size(), reduces[1].size()) << run;
    for (size_t i = 0; i < reduces[0].size(); ++i) {
      EXPECT_GE(reduces[0][i]->t_end_ns + 2000, reduces[1][i]->t_begin_ns) << run;
      EXPECT_GE(reduces[1][i]->t_end_ns + 2000, reduces[0][i]->t_begin_ns) << run;
    }
  }
}

// The files may come in any order: distributedInfo says which rank each is.
TEST(TorchTrace, RankComesFromTheFile) {
  const std::vector<TorchFile> swapped = {load("gpipe.rank1"), load("gpipe.rank0")};
  const TraceSet a = from_torch_traces(swapped), b = read_run("gpipe");
  ASSERT_EQ(a.num_devices(), b.num_devices());
  for (int d = 0; d < a.num_devices(); ++d) {
    ASSERT_EQ(a.events[d].size(), b.events[d].size());
    EXPECT_EQ(a.events[d].front().t_begin_ns, b.events[d].front().t_begin_ns);
    EXPECT_EQ(a.devices[d].pp, b.devices[d].pp);
  }
}

// One merged file (the rank files' events concatenated, a process id per rank) reads as the rank files do.
TEST(TorchTrace, MergedFileIsOneRun) {
  json merged = {{"schemaVersion", 1}, {"traceEvents", json::array()}};
  for (int r = 0; r < 2; ++r) {
    const TorchFile file = load("gpipe.rank" + std::to_string(r));
    for (json e : file.doc["traceEvents"]) {
      e["pid"] = 4000 + r;
      merged["traceEvents"].push_back(e);
    }
  }
  const std::vector<TorchFile> files = {{"merged", merged}};
  const TraceSet set                 = from_torch_traces(files);
  EXPECT_EQ(set.num_devices(), 2);
  EXPECT_EQ(analyze(set).kind, "pipeline (GPipe, m = 4)");
}

// ---- reading rules on hand-written traces ----------------------------------------------------------------

json x(const std::string& name, double ts, double dur, int tid = 1, const std::string& cat = "") {
  json e = {{"ph", "X"}, {"name", name}, {"ts", ts}, {"dur", dur}, {"pid", "CPU functions"}, {"tid", tid}};
  if (!cat.empty()) e["cat"] = cat, e["pid"] = 77;
  return e;
}

// One step of a one-rank run: a forward inside an annotation, an autograd function that starts an all-reduce
// (finished by gloo's worker thread), the optimizer; each nested operator is part of its parent.
json one_step(bool kineto) {
  const std::string op = kineto ? "cpu_op" : "", note = kineto ? "user_annotation" : "";
  json events = json::array({
      x("ProfilerStep#7", 0, 100, 1, note),
      x("DistributedDataParallel.forward", 5, 40, 1, kineto ? "python_function" : ""),
      x("aten::linear", 10, 30, 1, op),
      x("aten::t", 11, 2, 1, op),
      x("aten::addmm", 14, 25, 1, op),
      x("autograd::engine::evaluate_function: AddmmBackward0", 50, 30, 1, op),
      x("aten::mm", 52, 6, 1, op),
      x("c10d::allreduce_", 60, 5, 1, op),
      x("gloo:all_reduce", 61, 29, 2, note),
      x("Optimizer.step#SGD.step", 85, 10, 1, note),
  });
  if (kineto) events.push_back(x("cudaLaunchKernel", 12, 1, 1, "cuda_runtime"));
  return kineto ? json{{"schemaVersion", 1}, {"traceEvents", events}} : events;
}

TEST(TorchTrace, OutermostOperatorsAreTheCompute) {
  for (bool kineto : {false, true}) {
    const std::vector<TorchFile> files = {{"one step", one_step(kineto)}};
    const TraceSet set                 = from_torch_traces(files);
    ASSERT_EQ(set.num_devices(), 1);
    ASSERT_EQ(set.steps.size(), 1u);
    EXPECT_EQ(set.steps[0].t_end_ns - set.steps[0].t_begin_ns, 100000);
    std::vector<std::tuple<Kind, int64_t, int64_t>> got;
    for (const Event& e : set.events[0]) got.emplace_back(e.kind, e.t_begin_ns / 1000, e.t_end_ns / 1000);
    std::sort(got.begin(), got.end(), [](auto& a, auto& b) { return std::get<1>(a) < std::get<1>(b); });
    const std::vector<std::tuple<Kind, int64_t, int64_t>> want = {{Kind::kForward, 10, 40},
                                                                  {Kind::kBackward, 50, 60},
                                                                  {Kind::kAllReduce, 60, 90},
                                                                  {Kind::kBackward, 65, 80},
                                                                  {Kind::kOptStep, 85, 95}};
    EXPECT_EQ(got, want) << (kineto ? "kineto" : "legacy");
    EXPECT_EQ(analyze(set).kind, "one device");
  }
}

// ---- bad input --------------------------------------------------------------------------------------------

void expect_user_error(const std::function<void()>& f, const std::string& message) {
  try {
    f();
    ADD_FAILURE() << "accepted; expected: " << message;
  } catch (const Error& e) {
    EXPECT_EQ(e.exit_code(), 2) << e.what();
    EXPECT_NE(std::string(e.what()).find(message), std::string::npos) << e.what();
  }
}

TEST(TorchTraceBadInput, RanksMissingOrTwice) {
  expect_user_error([] { from_torch_traces(std::vector<TorchFile>{load("ddp.rank1")}); },
                    "ddp.rank1 is rank 1 of a 2-rank run, but 1 rank file was given");
  expect_user_error(
      [] {
        from_torch_traces(std::vector<TorchFile>{load("ddp.rank0"), load("ddp.rank0")});
      },
      "ddp.rank0 and ddp.rank0 both say they are rank 0");
}

TEST(TorchTraceBadInput, RanksOfDifferentRunsDoNotAlign) {
  // No call links a pipeline's stage to a DDP rank.
  expect_user_error(
      [] {
        from_torch_traces(std::vector<TorchFile>{load("placement.rank0"), load("ddp.rank1")});
      },
      "placement.rank0 and ddp.rank1 are not one run: in ProfilerStep#1 rank 0 makes 1 SEND call and rank 1 "
      "makes 0 RECV");
  // Two all-reduces whose bounds contradict each other: the second ends 400 µs apart on the two clocks.
  auto rank = [](int r, double second) {
    json events = json::array(
        {x("ProfilerStep#1", 0, 1000), x("c10d::allreduce_", 0, 10), x("c10d::allreduce_", second, 10)});
    return TorchFile{"rank" + std::to_string(r),
                     {{"distributedInfo", {{"rank", r}, {"world_size", 2}}}, {"traceEvents", events}}};
  };
  expect_user_error(
      [&] {
        from_torch_traces(std::vector<TorchFile>{rank(0, 100), rank(1, 500)});
      },
      "cannot align rank0 with the other ranks: its calls contradict theirs");
  // Only send/recv in one direction: the offset is bounded on one side only.
  auto one_way = [](int r) {
    json events =
        json::array({x("ProfilerStep#1", 0, 1000), x(r == 0 ? "c10d::send" : "c10d::recv_", 5, 10)});
    return TorchFile{"way" + std::to_string(r),
                     {{"distributedInfo", {{"rank", r}, {"world_size", 2}}}, {"traceEvents", events}}};
  };
  expect_user_error(
      [&] {
        from_torch_traces(std::vector<TorchFile>{one_way(0), one_way(1)});
      },
      "cannot align way1 (rank 1) with way0 (rank 0): its clock offset needs a bound on each side");
}

TEST(TorchTraceBadInput, GpuKernelsAreNotRead) {
  json doc = one_step(true);
  doc["traceEvents"].push_back(x("ampere_sgemm_64x64_nn", 20, 5, 7, "kernel"));
  expect_user_error(
      [&] {
        from_torch_traces(std::vector<TorchFile>{{"gpu.json", doc}});
      },
      "gpu.json holds GPU kernel events");
}

// Files on a command line: not a trace, another framework's trace, a paraxis trace among rank files, and
// `paraxis report`'s grouping of rank files into runs.
class TraceFiles : public ::testing::Test {
 protected:
  std::filesystem::path dir = std::filesystem::temp_directory_path() / "paraxis_torch_trace_test";
  void SetUp() override { std::filesystem::create_directories(dir); }
  void TearDown() override { std::filesystem::remove_all(dir); }
  std::string write(const std::string& name, const json& doc) {
    std::ofstream(dir / name) << doc.dump();
    return (dir / name).string();
  }
};

TEST_F(TraceFiles, NotATraceAndUnknownFrameworks) {
  const std::string hello = write("hello.json", {{"hello", 1}});
  expect_user_error([&] { read_trace_run(std::vector<std::string>{hello}); }, "is not a Chrome trace");
  const std::string tf = write(
      "tf.json",
      {{"traceEvents",
        json::array({{{"ph", "X"}, {"pid", 1}, {"tid", 1}, {"ts", 0}, {"dur", 5}, {"name", "MatMul"}}})}});
  expect_user_error([&] { read_trace_run(std::vector<std::string>{tf}); },
                    "tf.json' is a Chrome trace from an unknown framework");
}

TEST_F(TraceFiles, ParaxisTraceIsReadAlone) {
  TraceSet own;
  own.devices            = {DeviceInfo{}};
  own.events             = {{Event{.t_begin_ns = 0, .t_end_ns = 1000, .kind = Kind::kForward}}};
  const std::string mine = write("own.json", to_chrome_json(own));
  EXPECT_EQ(read_trace_run(std::vector<std::string>{mine}).num_devices(), 1);
  expect_user_error(
      [&] {
        read_trace_run(std::vector<std::string>{mine, fixture("ddp.rank1")});
      },
      "own.json' is a paraxis trace among PyTorch rank files");
}

TEST_F(TraceFiles, ReportGroupsRankFilesIntoRuns) {
  const std::vector<TraceRun> runs = read_trace_runs(std::vector<std::string>{
      fixture("placement.rank0"), fixture("placement.rank1"), fixture("ddp.rank1"), fixture("ddp.rank0")});
  ASSERT_EQ(runs.size(), 2u);
  EXPECT_EQ(runs[0].name, "placement.rank0.json + placement.rank1.json");
  EXPECT_EQ(runs[1].set.layout_info.dp, 2);
  expect_user_error([] { read_trace_runs(std::vector<std::string>{fixture("gpipe.rank0")}); },
                    "is rank 0 of a 2-rank PyTorch run, but only 0 files follow it");
}

// Checked in from the fuzz harness (tests/fuzz/regressions/trace): ts + dur past int64 nanoseconds was a
// signed overflow (the paraxis trace reader had the same; chrome_trace_test.cc).
TEST(TorchTrace, TimesOutOfRangeAreUserErrors) {
  const std::string path = paraxis::testing::source_dir() +
                           "/tests/fuzz/regressions/trace/torch-begin-plus-duration-overflows.json";
  expect_user_error([&] { read_trace_run(std::span(&path, 1)); }, "ts = 9000000000000000 µs is out of range");
}

}  // namespace
}  // namespace paraxis::trace
