// Row-range math of the spatial split: balanced parts, the input rows of a window's output rows.
#include "paraxis/core/error.h"
#include "paraxis/parallel/spatial.h"

namespace paraxis {

RowRange rows_of(int64_t count, int parts, int part) {
  PX_CHECK(parts >= 1 && part >= 0 && part < parts, "rows_of: part {} of {}", part, parts);
  return {count * part / parts, count * (part + 1) / parts};
}

RowRange input_rows(RowRange out, int64_t k, int64_t stride, int64_t pad) {
  // Output row o reads input rows o*stride - pad .. o*stride - pad + k - 1 (dilation 1).
  if (out.size() == 0) return {0, 0};
  return {out.begin * stride - pad, (out.end - 1) * stride - pad + k};
}

RowRange intersect(RowRange a, RowRange b) {
  RowRange r{std::max(a.begin, b.begin), std::min(a.end, b.end)};
  return r.size() > 0 ? r : RowRange{0, 0};
}

}  // namespace paraxis
