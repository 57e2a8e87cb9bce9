// Renders `paraxis report` of four synthetic traces in headless Chromium (Debian's `chromium`), checks the
// rendered DOM holds the timelines, bars and verdicts, and keeps a screenshot next to the test binary:
// <build>/report.png.
#include <gtest/gtest.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>

#include "paraxis/trace/chrome_trace.h"
#include "paraxis/trace/synthetic.h"

using namespace paraxis::trace;
namespace fs = std::filesystem;

namespace {

std::string run(const std::string& cmd, int* status) {
  std::string out;
  FILE* pipe = popen(cmd.c_str(), "r");
  if (!pipe) return out;
  std::array<char, 4096> buf;
  size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), pipe)) > 0) out.append(buf.data(), n);
  *status = pclose(pipe);
  return out;
}

size_t count(const std::string& text, const std::string& pattern) {
  std::regex re(pattern);
  return std::distance(std::sregex_iterator(text.begin(), text.end(), re), std::sregex_iterator());
}

std::string chromium_flags(const fs::path& profile) {
  return "--headless --no-sandbox --disable-gpu --disable-quic --no-first-run "
         "--disable-background-networking "
         "--disable-component-update --disable-sync --user-data-dir=" +
         profile.string();
}

}  // namespace

TEST(HtmlReport, RendersInHeadlessChromium) {
  const fs::path build = fs::path(PARAXIS_BINARY).parent_path();
  const fs::path dir   = build / "html_report_test";
  fs::remove_all(dir);
  fs::create_directories(dir);

  PipelineShape placement;
  placement.stages   = 4;
  placement.comm_ns  = 2e5;
  PipelineShape ofob = placement;
  ofob.microbatches  = 8;
  ofob.forward_ns /= 8;
  ofob.backward_ns /= 8;
  TensorParallelShape tp;
  tp.devices = 4;
  DataParallelShape dp;
  dp.devices                                                 = 4;
  const std::vector<std::pair<std::string, TraceSet>> traces = {
      {"placement.json", synthetic_pipeline(placement)},
      {"1f1b.json", synthetic_pipeline(ofob)},
      {"tp.json", synthetic_tensor_parallel(tp)},
      {"dp.json", synthetic_data_parallel(dp)}};
  std::string files;
  for (auto& [name, set] : traces) {
    write_chrome_trace(set, (dir / name).string());
    files += " " + (dir / name).string();
  }
  const fs::path html = dir / "report.html";
  int status          = -1;
  std::string out =
      run(std::string(PARAXIS_BINARY) + " report" + files + " -o " + html.string() + " 2>&1", &status);
  ASSERT_EQ(status, 0) << out;

  // Self-contained: no scripts, no external resources.
  std::stringstream page;
  page << std::ifstream(html).rdbuf();
  EXPECT_EQ(page.str().find("http://"), std::string::npos);
  EXPECT_EQ(page.str().find("https://"), std::string::npos);
  EXPECT_EQ(page.str().find("<script"), std::string::npos);

  int which = -1;
  run("command -v chromium >/dev/null 2>&1", &which);
  ASSERT_EQ(which, 0) << "Debian's `chromium` is not installed; the HTML report test needs it: run "
                         "scripts/install-deps --report (apt-get install chromium)";

  const std::string flags = chromium_flags(dir / "profile");
  std::string dom =
      run("timeout 120 chromium " + flags + " --dump-dom file://" + html.string() + " 2>/dev/null", &status);
  ASSERT_EQ(status, 0) << "chromium --dump-dom failed";
  EXPECT_EQ(count(dom, R"(<svg class="timeline")"), 4u);
  EXPECT_EQ(count(dom, R"(<g class="util-bar")"), 4u + 4 + 4 + 4) << "one bar per device";
  EXPECT_EQ(
      count(dom, R"(<p class="verdict partitioning">workload partitioning: at most one device computed)"),
      1u);
  EXPECT_EQ(count(dom, R"(<p class="verdict parallel">)"), 3u);
  EXPECT_EQ(count(dom, R"(: two or more devices computed)"), 3u);
  EXPECT_GE(count(dom, R"(<p class="verdict parallel">pipeline \()"), 1u) << "1F1B is named a pipeline";
  EXPECT_EQ(count(dom, R"(<p class="recommendation">)"), 4u);
  EXPECT_GE(count(dom, R"(<rect class="ev F)"), 4u + 32);
  EXPECT_GE(count(dom, R"(<rect class="ev B)"), 4u + 32);
  EXPECT_GE(count(dom, R"(<rect class="ev COLL)"), 1u);
  EXPECT_GE(count(dom, R"(<rect class="ev P2P)"), 1u);
  EXPECT_GE(count(dom, R"(>device 3 \(dp0 tp0 pp3\)<)"), 2u) << "device labels carry grid coordinates";
  EXPECT_GE(count(dom, R"(>0 ms<)"), 4u) << "every timeline has a time axis in ms";
  EXPECT_EQ(count(dom, R"(class="legend")"), 1u);

  const fs::path png = build / "report.png";
  fs::remove(png);
  out = run("timeout 120 chromium " + flags + " --screenshot=" + png.string() +
                " --window-size=1400,1000 file://" + html.string() + " 2>&1",
            &status);
  ASSERT_EQ(status, 0) << out;
  ASSERT_TRUE(fs::exists(png)) << out;
  std::ifstream in(png, std::ios::binary);
  char magic[8] = {};
  in.read(magic, 8);
  EXPECT_EQ(std::string(magic + 1, 3), "PNG");
  EXPECT_GT(fs::file_size(png), 10'000u) << "a blank page compresses to almost nothing";
  fs::remove_all(dir / "profile");
}
