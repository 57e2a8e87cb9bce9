#include "paraxis/train/progress.h"

#include <unistd.h>

#include <fmt/format.h>
#include <cstdio>

namespace paraxis {

namespace {
std::string format_duration(double s) {
  if (s < 0 || s > 1e7) return "?";
  int64_t t = static_cast<int64_t>(s + 0.5);
  if (t >= 3600) return fmt::format("{}h{:02}m", t / 3600, (t / 60) % 60);
  if (t >= 60) return fmt::format("{}m{:02}s", t / 60, t % 60);
  return fmt::format("{}s", t);
}
}  // namespace

Progress::Progress(const std::string& mode, int64_t total, int64_t start)
    : total_(total), start_(start), step_(start), t0_(std::chrono::steady_clock::now()), last_draw_(t0_) {
  if (mode == "bar" || (mode == "auto" && isatty(fileno(stderr))))
    bar_ = true;
  else if (mode == "lines" || mode == "auto")
    lines_ = true;
}

void Progress::update(int64_t step, double loss, double samples_per_s) {
  step_ = step, loss_ = loss, rate_ = samples_per_s;
  draw(step == total_);
}

void Progress::draw(bool force) {
  auto now        = std::chrono::steady_clock::now();
  double since    = std::chrono::duration<double>(now - last_draw_).count();
  double elapsed  = std::chrono::duration<double>(now - t0_).count();
  double per_step = step_ > start_ ? elapsed / static_cast<double>(step_ - start_) : 0;
  double eta      = per_step * static_cast<double>(total_ - step_);
  if (bar_) {
    if (!force && since < 0.1) return;
    const int width = 24;
    int filled      = total_ ? static_cast<int>(width * step_ / total_) : width;
    std::string bar(filled, '#');
    bar += std::string(width - filled, '.');
    fmt::print(stderr, "\r  step {:>{}}/{} [{}] loss {:.4f}  {:.0f} samples/s  ETA {}   ", step_,
               std::to_string(total_).size(), total_, bar, loss_, rate_, format_duration(eta));
    std::fflush(stderr);
    drawn_ = true;
  } else if (lines_) {
    // About 20 lines per run, and at least one every 10 seconds.
    int64_t every = std::max<int64_t>(1, total_ / 20);
    if (!force && step_ % every != 0 && since < 10) return;
    if (step_ == last_line_step_) return;
    last_line_step_ = step_;
    fmt::print(stderr, "step {}/{}: loss {:.4f}, {:.0f} samples/s, elapsed {}, ETA {}\n", step_, total_,
               loss_, rate_, format_duration(elapsed), format_duration(eta));
  } else {
    return;
  }
  last_draw_ = now;
}

void Progress::note(const std::string& line) {
  if (!bar_ && !lines_) return;
  if (bar_ && drawn_) fmt::print(stderr, "\r\033[K");
  fmt::print(stderr, "{}\n", line);
  if (bar_ && drawn_) draw(true);
}

void Progress::finish() {
  if (bar_ && drawn_) {
    draw(true);
    fmt::print(stderr, "\n");
  }
  bar_ = lines_ = false;
}

}  // namespace paraxis
