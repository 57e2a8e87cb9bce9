// paraxis/kernels/embedding.h — token + position embedding (the GPT `embed` block).
//
//   embedding_forward(y, ids, wte, wpe, B, T, C);              // y[b, t] = wte[ids[b, t]] + wpe[t]
//   embedding_backward_weight(dwte, dwpe, dy, ids, B, T, C);   // scatter-add; accumulates
//
// ids must lie in [0, V); the layer validates them (the kernel does not know V).
#pragma once

#include <cstdint>

namespace paraxis {

// y (B, T, C) = wte (V, C)[ids (B, T)] + wpe (>=T, C)[t]
void embedding_forward(float* y, const int32_t* ids, const float* wte, const float* wpe, int64_t b, int64_t t,
                       int64_t c);
// dwte (V, C) += dy rows scattered by ids;  dwpe (>=T, C) += sum over the batch of dy
void embedding_backward_weight(float* dwte, float* dwpe, const float* dy, const int32_t* ids, int64_t b,
                               int64_t t, int64_t c);

namespace ref {
template <class T>
void embedding_forward(T* y, const int32_t* ids, const T* wte, const T* wpe, int64_t b, int64_t t, int64_t c);
template <class T>
void embedding_backward_weight(T* dwte, T* dwpe, const T* dy, const int32_t* ids, int64_t b, int64_t t,
                               int64_t c);
}  // namespace ref

}  // namespace paraxis
