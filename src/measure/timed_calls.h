// The timing loop the pass measurements share (measure_layer_times, measure_conv_times; private to
// src/measure): a warm-up call on the first buffer set (primitive creation), then `reps` timed calls, each on
// the next set in turn, `sync` before every call.
#pragma once

#include <chrono>
#include <functional>
#include <vector>

namespace paraxis::measure {

// Cycles through `sets` from where `next` left it (the passes of one measurement continue the same cycle).
template <class Buffers, class Call>
std::vector<double> timed_calls(std::vector<Buffers>& sets, int& next, int reps,
                                const std::function<void()>& sync, Call&& call) {
  using Clock = std::chrono::steady_clock;
  sync();
  call(sets[0]);
  std::vector<double> t;
  for (int i = 0; i < reps; ++i) {
    Buffers& b = sets[++next % static_cast<int>(sets.size())];
    sync();
    const auto t0 = Clock::now();
    call(b);
    t.push_back(std::chrono::duration<double>(Clock::now() - t0).count());
  }
  return t;
}

}  // namespace paraxis::measure
