// Renders `paraxis report` in headless Chromium (Debian's `chromium`) and checks the rendered DOM: four
// synthetic traces side by side (timelines, bars, verdicts), and a long run of ~100k events whose page shows a
// readable window and zooms. Keeps screenshots next to the test binary: <build>/report.png, report_long.png.
#include <gtest/gtest.h>

#include <array>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <vector>

#include "paraxis/trace/chrome_trace.h"
#include "paraxis/trace/synthetic.h"
#include "test_support/paths.h"

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

std::string read_file(const fs::path& path) {
  std::stringstream text;
  text << std::ifstream(path).rdbuf();
  return text.str();
}

void expect_chromium() {
  int which = -1;
  run("command -v chromium >/dev/null 2>&1", &which);
  ASSERT_EQ(which, 0) << "Debian's `chromium` is not installed; the HTML report test needs it: run "
                         "scripts/install-deps (apt-get install chromium)";
}

// The page's DOM after its script ran; `url` may carry a #fragment.
std::string dump_dom(const fs::path& profile, const std::string& url) {
  int status      = -1;
  std::string dom = run(
      "timeout 120 chromium " + chromium_flags(profile) + " --dump-dom '" + url + "' 2>/dev/null", &status);
  EXPECT_EQ(status, 0) << "chromium --dump-dom failed";
  return dom;
}

// A screenshot of the page's top; checks it is a PNG with something drawn.
void expect_screenshot(const fs::path& profile, const fs::path& html, const fs::path& png) {
  fs::remove(png);
  int status = -1;
  const std::string out =
      run("timeout 120 chromium " + chromium_flags(profile) + " --screenshot=" + png.string() +
              " --window-size=1400,1000 file://" + html.string() + " 2>&1",
          &status);
  ASSERT_EQ(status, 0) << out;
  ASSERT_TRUE(fs::exists(png)) << out;
  std::ifstream in(png, std::ios::binary);
  char magic[8] = {};
  in.read(magic, 8);
  EXPECT_EQ(std::string(magic + 1, 3), "PNG");
  EXPECT_GT(fs::file_size(png), 10'000u) << "a blank page compresses to almost nothing";
}

// Self-contained: the script is inline, nothing is fetched.
void expect_self_contained(const std::string& page) {
  for (const char* external : {"http://", "https://", " src=", "<link", "@import", "url(http"})
    EXPECT_EQ(page.find(external), std::string::npos) << external;
  EXPECT_EQ(count(page, "<script>"), 1u);
}

// An event rect as the DOM holds it after the page's script laid it out.
struct DrawnEvent {
  std::string kind;  // F, B, P2P, OPT, ...
  bool critical = false;
  double x = 0, width = 0;
  bool hidden = false;  // out of the view
};

std::vector<DrawnEvent> drawn_events(const std::string& dom) {
  static const std::regex rect(
      R"re(<rect class="ev ([A-Z0-9]+)( crit)?" x="([-0-9.]+)" y="[-0-9.]+" width="([0-9.]+)"([^>]*)>)re");
  std::vector<DrawnEvent> out;
  for (auto it = std::sregex_iterator(dom.begin(), dom.end(), rect); it != std::sregex_iterator(); ++it) {
    const std::smatch& m = *it;
    out.push_back({m[1], m[2].matched, std::stod(m[3]), std::stod(m[4]),
                   m[5].str().find("display: none") != std::string::npos});
  }
  return out;
}

bool is_compute(const DrawnEvent& e) {
  return e.kind == "F" || e.kind == "B" || e.kind == "OPT";
}

}  // namespace

TEST(HtmlReport, RendersInHeadlessChromium) {
  const fs::path build = fs::path(paraxis::testing::paraxis_binary()).parent_path();
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
      run(paraxis::testing::paraxis_binary() + " report" + files + " -o " + html.string() + " 2>&1", &status);
  ASSERT_EQ(status, 0) << out;

  expect_self_contained(read_file(html));
  ASSERT_NO_FATAL_FAILURE(expect_chromium());
  const std::string dom = dump_dom(dir / "profile", "file://" + html.string());
  EXPECT_EQ(count(dom, R"(<svg class="timeline zoomable")"), 4u) << "the script made each timeline zoomable";
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
  EXPECT_EQ(count(dom, R"(<svg class="timeline[^>]* data-view="0\.000000:)"), 4u)
      << "the script laid them out";
  EXPECT_EQ(count(dom, R"(<div class="view-controls">)"), 1u);

  EXPECT_EQ(count(dom, R"(<p class="window" data-first="0" data-last="0" data-of="1">Showing step 0 of 1\.)"),
            4u)
      << "each one-step trace says it shows its only step";
  EXPECT_EQ(count(dom, R"(<svg class="steps")"), 0u) << "no step overview for one step";
  expect_screenshot(dir / "profile", html, build / "report.png");
  fs::remove_all(dir / "profile");
}

// A run of 300 steps (~100k events) shows the median step and its neighbours, readable: events a few pixels
// wide, the critical path outlined on some of them only, a step overview; #view=A:B zooms in.
TEST(HtmlReport, LongTraceShowsAReadableWindow) {
  const fs::path build = fs::path(paraxis::testing::paraxis_binary()).parent_path();
  const fs::path dir   = build / "html_report_long_test";
  fs::remove_all(dir);
  fs::create_directories(dir);
  PipelineShape shape;  // 1F1B, 4 stages, 16 micro-batches: F 1 ms, B 2 ms
  shape.microbatches = 16;
  shape.comm_ns      = 5e4;
  shape.opt_ns       = 5e5;
  const TraceSet one = synthetic_pipeline(shape);
  size_t per_step    = 0;
  for (const auto& events : one.events) per_step += events.size();
  ASSERT_GE(300 * per_step, 95'000u) << "the test is about a ~100k-event trace";
  write_chrome_trace(repeat_steps(one, 300), (dir / "long.json").string());

  const fs::path html   = dir / "long.html";
  int status            = -1;
  const std::string out = run(paraxis::testing::paraxis_binary() + " report " + (dir / "long.json").string() +
                                  " -o " + html.string() + " 2>&1",
                              &status);
  ASSERT_EQ(status, 0) << out;
  const std::string page = read_file(html);
  expect_self_contained(page);
  EXPECT_EQ(count(page, R"(<rect class="ev )"), 3 * per_step) << "exactly the three steps' events are drawn";
  EXPECT_LT(page.size(), 1'000'000u) << "the page holds the window, not the run";

  ASSERT_NO_FATAL_FAILURE(expect_chromium());
  const fs::path profile = dir / "profile";
  const std::string dom  = dump_dom(profile, "file://" + html.string());
  EXPECT_EQ(count(dom, R"(<p class="window" data-first="148" data-last="150" data-of="300">Showing steps )"
                       R"(148–150 of 300 \(the median step and its neighbours)"),
            1u);
  EXPECT_EQ(count(dom, R"(<td>steps 148–150 of 300</td>)"), 1u) << "the summary table says it too";
  EXPECT_EQ(count(dom, R"(<rect class="step")"), 300u) << "the overview has a bar per step";
  EXPECT_EQ(count(dom, R"(<rect class="shown")"), 1u);

  const std::vector<DrawnEvent> events = drawn_events(dom);
  ASSERT_EQ(events.size(), 3 * per_step);
  size_t compute = 0, critical = 0;
  for (const DrawnEvent& e : events) {
    EXPECT_FALSE(e.hidden);
    if (e.kind == "F" || e.kind == "B") EXPECT_GE(e.width, 4.0) << e.kind << " at x " << e.x;
    compute += is_compute(e);
    if (e.critical) {
      ++critical;
      EXPECT_GE(e.width, 4.0) << "outlined only where the outline leaves colour to see";
    }
  }
  EXPECT_GT(critical, 0u);
  EXPECT_LT(critical, compute / 2) << "the critical path is outlined on some events, not over everything";

  // #view=57:77 shows 20 ms of the window: a forward (1 ms) is 43 px wide and carries its name.
  const std::string zoomed = dump_dom(profile, "file://" + html.string() + "#view=57:77");
  EXPECT_EQ(count(zoomed, R"(data-view="57\.000000:77\.000000")"), 1u);
  EXPECT_EQ(count(zoomed, R"(>60 ms<)"), 1u) << "the axis is redrawn for the view";
  EXPECT_EQ(count(zoomed, R"(>0 ms<)"), 0u);
  EXPECT_GT(count(zoomed, R"(<text class="evl")"), 10u) << "wide events are named";
  size_t shown = 0, full_forwards = 0;
  for (const DrawnEvent& e : drawn_events(zoomed)) {
    shown += !e.hidden;
    full_forwards += !e.hidden && e.kind == "F" && std::abs(e.width - 43.0) < 0.1;
  }
  EXPECT_GT(shown, 0u);
  EXPECT_LT(shown, events.size() / 4) << "events outside the view are hidden";
  EXPECT_GT(full_forwards, 4u);

  expect_screenshot(profile, html, build / "report_long.png");
  fs::remove_all(profile);
}

namespace {

// Plays a reader's gestures on the first timeline, each followed by a note of the view it left on <body>:
// Ctrl + wheel at a quarter of the plot, the zoom-in button, a drag 100 units to the left, a double-click.
const char* kGestures = R"js(<script>(() => {
  const svg = document.querySelector('svg.timeline');
  const note = (k) => document.body.setAttribute('data-' + k, svg.dataset.view);
  const box = svg.getBoundingClientRect();
  const x = (u) => box.left + u * box.width / svg.viewBox.baseVal.width;  // the client x of an svg x
  const plotX = Number(svg.dataset.plotX), plotW = Number(svg.dataset.plotW);
  svg.dispatchEvent(new WheelEvent('wheel', {deltaY: -500, ctrlKey: true, clientX: x(plotX + plotW / 4),
                                             bubbles: true, cancelable: true}));
  note('wheel');
  document.querySelector('.view-controls button[title="zoom in"]').click();
  note('plus');
  svg.dispatchEvent(new PointerEvent('pointerdown', {clientX: x(600), pointerId: 1, bubbles: true}));
  svg.dispatchEvent(new PointerEvent('pointermove', {clientX: x(500), pointerId: 1, bubbles: true}));
  svg.dispatchEvent(new PointerEvent('pointerup', {clientX: x(500), pointerId: 1, bubbles: true}));
  note('drag');
  svg.dispatchEvent(new MouseEvent('dblclick', {bubbles: true}));
  note('reset');
})();</script>)js";

// The view ("t0:t1" in ms) noted as data-<name> on <body>.
std::pair<double, double> noted_view(const std::string& dom, const std::string& name) {
  std::smatch m;
  if (!std::regex_search(dom, m, std::regex("data-" + name + R"re(="([0-9.]+):([0-9.]+)")re")))
    return {-1, -1};
  return {std::stod(m[1]), std::stod(m[2])};
}

}  // namespace

// The page's script answers a reader: Ctrl + wheel zooms keeping the time under the pointer, the button
// doubles the zoom, a drag pans by the distance dragged, a double-click shows the whole window again.
TEST(HtmlReport, ZoomsAndPansOnTheReadersGestures) {
  const fs::path build = fs::path(paraxis::testing::paraxis_binary()).parent_path();
  const fs::path dir   = build / "html_report_zoom_test";
  fs::remove_all(dir);
  fs::create_directories(dir);
  PipelineShape shape;
  shape.microbatches = 8;
  write_chrome_trace(repeat_steps(synthetic_pipeline(shape), 5), (dir / "run.json").string());
  const fs::path html   = dir / "run.html";
  int status            = -1;
  const std::string out = run(paraxis::testing::paraxis_binary() + " report " + (dir / "run.json").string() +
                                  " -o " + html.string() + " 2>&1",
                              &status);
  ASSERT_EQ(status, 0) << out;
  std::string page = read_file(html);
  std::smatch axis;
  ASSERT_TRUE(std::regex_search(page, axis, std::regex(R"re(data-axis-ms="([0-9.]+)")re")));
  const double span = std::stod(axis[1]);  // three steps of (8 + 3) × 3 ms
  EXPECT_NEAR(span, 99.0, 1e-6);
  const size_t end = page.rfind("</body>");
  ASSERT_NE(end, std::string::npos);
  std::ofstream(dir / "gestures.html") << page.insert(end, kGestures);

  ASSERT_NO_FATAL_FAILURE(expect_chromium());
  const std::string dom = dump_dom(dir / "profile", "file://" + (dir / "gestures.html").string());
  const auto [w0, w1]   = noted_view(dom, "wheel");
  EXPECT_NEAR(w0 + (w1 - w0) / 4, span / 4, 1e-5) << "the time under the pointer stays there";
  EXPECT_NEAR(span / (w1 - w0), std::exp(500 * 0.002), 1e-4) << "zoomed in by e^(deltaY/500)";
  const auto [p0, p1] = noted_view(dom, "plus");
  EXPECT_NEAR(p1 - p0, (w1 - w0) / 2, 1e-5);
  EXPECT_NEAR(p0 + p1, w0 + w1, 1e-5) << "the button zooms at the middle";
  const auto [d0, d1] = noted_view(dom, "drag");
  EXPECT_NEAR(d0 - p0, 100.0 / 860 * (p1 - p0), 1e-5) << "dragging left by 100 units shows later times";
  EXPECT_NEAR(d1 - d0, p1 - p0, 1e-5);
  const auto [r0, r1] = noted_view(dom, "reset");
  EXPECT_DOUBLE_EQ(r0, 0);
  EXPECT_NEAR(r1, span, 1e-5);
  fs::remove_all(dir / "profile");
}
