// paraxis/kernels/attention.h — the core of causal multi-head self-attention, between the qkv and proj
// linears.
//
//   // qkv (B, T, 3C) holds q | k | v; head h uses columns [h*hd, (h+1)*hd) of each, hd = C / NH.
//   attention_forward(out, q, k, v, probs, qkv, B, T, C, NH);       // out (B, T, C)
//   attention_backward(dqkv, dout, q, k, v, probs, B, T, C, NH);    // dqkv (B, T, 3C)
//
// The forward writes the heads of q, k, v in (B*NH, T, hd) layout and the causal softmax probabilities
// (B*NH, T, T), zero above the diagonal; the backward reads them back. The fast path runs the four products
// as batched oneDNN matmuls over B*NH (the full T x T square; the masked half is wasted work, counted in
// cost()).
#pragma once

#include <cstdint>

namespace paraxis {

// out (B, T, C) = softmax(q k^T / sqrt(hd) + causal mask) v per head;
// q, k, v (B*NH, T, hd), probs (B*NH, T, T) are outputs kept for the backward.
void attention_forward(float* out, float* q, float* k, float* v, float* probs, const float* qkv, int64_t b,
                       int64_t t, int64_t c, int64_t nh);
// dqkv (B, T, 3C) from dout (B, T, C)
void attention_backward(float* dqkv, const float* dout, const float* q, const float* k, const float* v,
                        const float* probs, int64_t b, int64_t t, int64_t c, int64_t nh);

namespace ref {
template <class T>
void attention_forward(T* out, T* q, T* k, T* v, T* probs, const T* qkv, int64_t b, int64_t t, int64_t c,
                       int64_t nh);
template <class T>
void attention_backward(T* dqkv, const T* dout, const T* q, const T* k, const T* v, const T* probs, int64_t b,
                        int64_t t, int64_t c, int64_t nh);
}  // namespace ref

}  // namespace paraxis
