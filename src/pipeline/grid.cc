#include "paraxis/pipeline/grid.h"

#include <fmt/format.h>

#include <algorithm>

namespace paraxis::pipeline {

namespace {
bool is_marked(const std::vector<GridMark>& marks, int device, int step) {
  return std::any_of(marks.begin(), marks.end(),
                     [&](const GridMark& m) { return m.device == device && m.step == step; });
}
}  // namespace

std::string format_grid(const Schedule& s, const std::vector<GridMark>& marks) {
  size_t rows = 0, width = 5;
  for (const auto& list : s.actions) {
    rows = std::max(rows, list.size());
    for (const Action& a : list) width = std::max(width, to_string(a).size());
  }
  for (const GridMark& m : marks) rows = std::max(rows, static_cast<size_t>(m.step) + 1);
  width += 3;  // room for the two marks and a separating space
  std::string out = "step ";
  for (int d = 0; d < s.num_devices; ++d) out += fmt::format(" {:<{}}", fmt::format("dev {}", d), width);
  while (out.back() == ' ') out.pop_back();
  out += "\n";
  for (size_t r = 0; r < rows; ++r) {
    out += fmt::format("{:>4} ", r);
    for (int d = 0; d < s.num_devices; ++d) {
      const auto& list = s.actions[d];
      std::string cell = r < list.size() ? to_string(list[r]) : "";
      bool marked      = is_marked(marks, d, static_cast<int>(r));
      cell = marked ? fmt::format(">{}<", cell.empty() ? "(end)" : cell) : fmt::format(" {}", cell);
      out += fmt::format(" {:<{}}", cell, width);
    }
    while (!out.empty() && out.back() == ' ') out.pop_back();
    out += "\n";
  }
  return out;
}

}  // namespace paraxis::pipeline
