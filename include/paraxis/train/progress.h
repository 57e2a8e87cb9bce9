// paraxis/train/progress.h — what a long run shows while it works.
//
//   Progress p("auto", /*total=*/1000, /*start=*/0);   // a bar on a terminal, periodic lines otherwise
//   p.update(step, loss, samples_per_s);               // cheap; redraws at most ~10 times a second
//   p.note("step 100: test accuracy 85.1%");           // a line of its own, above the bar
//   p.finish();
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace paraxis {

class Progress {
 public:
  // mode: auto (bar if stderr is a terminal, else lines) | bar | lines | none
  Progress(const std::string& mode, int64_t total, int64_t start = 0);
  void update(int64_t step, double loss, double samples_per_s);
  void note(const std::string& line);
  void finish();

 private:
  void draw(bool force);
  bool bar_ = false, lines_ = false;
  int64_t total_, start_, step_ = 0;
  double loss_ = 0, rate_ = 0;
  bool drawn_ = false;
  std::chrono::steady_clock::time_point t0_, last_draw_;
  int64_t last_line_step_ = -1;
};

}  // namespace paraxis
