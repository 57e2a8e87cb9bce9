#include "paraxis/kernels/embedding.h"

namespace paraxis::ref {

template <class T>
void embedding_forward(T* y, const int32_t* ids, const T* wte, const T* wpe, int64_t b, int64_t t,
                       int64_t c) {
  for (int64_t bi = 0; bi < b; ++bi)
    for (int64_t ti = 0; ti < t; ++ti)
      for (int64_t j = 0; j < c; ++j)
        y[(bi * t + ti) * c + j] = wte[static_cast<int64_t>(ids[bi * t + ti]) * c + j] + wpe[ti * c + j];
}

template <class T>
void embedding_backward_weight(T* dwte, T* dwpe, const T* dy, const int32_t* ids, int64_t b, int64_t t,
                               int64_t c) {
  for (int64_t bi = 0; bi < b; ++bi)
    for (int64_t ti = 0; ti < t; ++ti)
      for (int64_t j = 0; j < c; ++j) {
        T g = dy[(bi * t + ti) * c + j];
        dwte[static_cast<int64_t>(ids[bi * t + ti]) * c + j] += g;
        dwpe[ti * c + j] += g;
      }
}

#define PX_INSTANTIATE(T)                                                                                \
  template void embedding_forward<T>(T*, const int32_t*, const T*, const T*, int64_t, int64_t, int64_t); \
  template void embedding_backward_weight<T>(T*, T*, const T*, const int32_t*, int64_t, int64_t, int64_t);
PX_INSTANTIATE(float)
PX_INSTANTIATE(double)
#undef PX_INSTANTIATE

}  // namespace paraxis::ref
