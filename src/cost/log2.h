// ⌈log2 n⌉: the latency rounds of a tree (Gholami et al. 2018's α·⌈log P⌉ terms; cost.cc, spatial.cc).
#pragma once

namespace paraxis::cost {

inline int ceil_log2(int n) {
  int k = 0;
  while ((1 << k) < n) ++k;
  return k;
}

}  // namespace paraxis::cost
