// The property every analysed run keeps: its recommendation never repeats the layout under analysis.
//
//   expect_recommendation_is_new(trace::analyze(set));   // synthetic, measured, predicted or PyTorch traces
//
// The suggested flags, applied to the run's layout, give a different layout; the recommendation's text names
// them; a pipeline is never told to stream the micro-batches it already streams, nor called workload
// partitioning; a tp or dp run is never told its own degree.
#pragma once

#include <gtest/gtest.h>

#include <fmt/format.h>

#include <sstream>
#include <string>

#include "paraxis/trace/analysis.h"

namespace paraxis::testing {

// The layout `flags` leave when applied to `l` (the flags recommendations use).
inline trace::LayoutInfo apply_flags(trace::LayoutInfo l, const std::string& flags) {
  std::istringstream in(flags);
  std::string flag, value;
  while (in >> flag >> value) {
    if (flag == "--dp") l.dp = std::stoi(value);
    if (flag == "--tp") l.tp = std::stoi(value);
    if (flag == "--pp") l.pp = std::stoi(value);
    if (flag == "--microbatches") l.m = std::stoi(value), l.placement = false;
    if (flag == "--virtual") l.v = std::stoi(value);
    if (flag == "--schedule") l.schedule = value, l.placement = false;
  }
  return l;
}

inline bool same_layout(const trace::LayoutInfo& x, const trace::LayoutInfo& y) {
  return x.dp == y.dp && x.tp == y.tp && x.pp == y.pp && x.m == y.m && x.v == y.v &&
         x.schedule == y.schedule && x.placement == y.placement;
}

inline void expect_recommendation_is_new(const trace::Analysis& a) {
  const trace::LayoutInfo& l = a.layout_info;
  SCOPED_TRACE(a.verdict + " | " + a.recommendation);
  if (!a.suggested_flags.empty()) {
    EXPECT_FALSE(same_layout(apply_flags(l, a.suggested_flags), l)) << a.suggested_flags;
    EXPECT_NE(a.recommendation.find(a.suggested_flags), std::string::npos);
  }
  if (l.pp > 1 && !l.placement) {
    EXPECT_EQ(a.recommendation.find(fmt::format("--microbatches {}", l.m)), std::string::npos);
    EXPECT_EQ(a.recommendation.find(fmt::format("stream {} micro-batches", l.m)), std::string::npos);
    EXPECT_EQ(a.verdict.find("workload partitioning"), std::string::npos);
  }
  if (l.tp > 1) EXPECT_EQ(a.suggested_flags.find(fmt::format("--tp {}", l.tp)), std::string::npos);
  if (l.dp > 1) EXPECT_EQ(a.suggested_flags.find(fmt::format("--dp {}", l.dp)), std::string::npos);
}

}  // namespace paraxis::testing
