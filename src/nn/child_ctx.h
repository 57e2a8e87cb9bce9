// Composite layers keep one Ctx per sub-layer in ctx.children; the children see the parent's mode, step and
// micro-batch (dropout masks are keyed on them).
#pragma once

#include "paraxis/nn/layer.h"

namespace paraxis {

inline Ctx& child_ctx(Ctx& parent, size_t index, size_t count) {
  if (parent.children.size() != count) parent.children.resize(count);
  Ctx& c       = parent.children[index];
  c.training   = parent.training;
  c.step       = parent.step;
  c.microbatch = parent.microbatch;
  return c;
}

}  // namespace paraxis
