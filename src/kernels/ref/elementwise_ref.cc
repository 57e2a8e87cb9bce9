#include "paraxis/kernels/elementwise.h"

namespace paraxis::ref {

template <class T>
void add(T* y, const T* a, const T* b, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] = a[i] + b[i];
}

template <class T>
void dropout(T* y, const T* x, int64_t n, float p, const Philox& rng) {
  T scale = T(1) / (T(1) - T(p));
  for (int64_t i = 0; i < n; ++i) y[i] = rng.uniform(static_cast<uint64_t>(i)) >= p ? x[i] * scale : T(0);
}

template void add<float>(float*, const float*, const float*, int64_t);
template void add<double>(double*, const double*, const double*, int64_t);
template void dropout<float>(float*, const float*, int64_t, float, const Philox&);
template void dropout<double>(double*, const double*, int64_t, float, const Philox&);

}  // namespace paraxis::ref
