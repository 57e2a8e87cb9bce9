// Sets of time intervals as sorted, disjoint [begin, end) lists — the arithmetic of the utilization figures.
#pragma once

#include <fmt/format.h>

#include <string>

#include <algorithm>
#include <cstdint>
#include <vector>

namespace paraxis::trace::detail {

struct Interval {
  int64_t begin, end;
};
using Intervals = std::vector<Interval>;  // sorted, disjoint, non-empty

// Sorts, clips to [lo, hi) and merges overlapping or touching intervals.
inline Intervals normalize(Intervals v, int64_t lo, int64_t hi) {
  Intervals out;
  for (auto& iv : v) {
    iv.begin = std::max(iv.begin, lo);
    iv.end   = std::min(iv.end, hi);
  }
  std::erase_if(v, [](const Interval& iv) { return iv.end <= iv.begin; });
  std::sort(v.begin(), v.end(), [](const Interval& a, const Interval& b) { return a.begin < b.begin; });
  for (const Interval& iv : v) {
    if (!out.empty() && iv.begin <= out.back().end)
      out.back().end = std::max(out.back().end, iv.end);
    else
      out.push_back(iv);
  }
  return out;
}

inline int64_t length(const Intervals& v) {
  int64_t n = 0;
  for (const Interval& iv : v) n += iv.end - iv.begin;
  return n;
}

inline int64_t intersection_length(const Intervals& a, const Intervals& b) {
  int64_t n = 0;
  size_t i = 0, j = 0;
  while (i < a.size() && j < b.size()) {
    int64_t lo = std::max(a[i].begin, b[j].begin), hi = std::min(a[i].end, b[j].end);
    if (hi > lo) n += hi - lo;
    if (a[i].end < b[j].end)
      ++i;
    else
      ++j;
  }
  return n;
}

inline Intervals unite(const Intervals& a, const Intervals& b, int64_t lo, int64_t hi) {
  Intervals all = a;
  all.insert(all.end(), b.begin(), b.end());
  return normalize(std::move(all), lo, hi);
}

// a minus b (both sorted and disjoint).
inline Intervals subtract(const Intervals& a, const Intervals& b) {
  Intervals out;
  size_t j = 0;
  for (Interval iv : a) {
    while (j < b.size() && b[j].end <= iv.begin) ++j;
    for (size_t k = j; k < b.size() && b[k].begin < iv.end; ++k) {
      if (b[k].begin > iv.begin) out.push_back({iv.begin, b[k].begin});
      iv.begin = std::max(iv.begin, b[k].end);
    }
    if (iv.end > iv.begin) out.push_back(iv);
  }
  return out;
}

// "12.3%".
inline std::string pct(double x) {
  return fmt::format("{:.1f}%", 100 * x);
}

// A pipeline's closed-form utilization m/(m+p-1): 1F1B / GPipe with equal stages and free communication
// (docs/architecture.md, reference facts).
inline double pipeline_utilization(int m, int p) {
  return static_cast<double>(m) / (m + p - 1);
}

}  // namespace paraxis::trace::detail
