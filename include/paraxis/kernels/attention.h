// paraxis/kernels/attention.h — the core of multi-head self-attention, between the qkv and proj linears.
//
//   // qkv (B, T, 3C) holds q | k | v; head h uses columns [h*hd, (h+1)*hd) of each, hd = C / NH.
//   attention_forward(out, lse, qkv, B, T, C, NH);              // out (B, T, C), lse (B*NH, T)
//   attention_backward(dqkv, dout, qkv, out, lse, B, T, C, NH);  // dqkv (B, T, 3C)
//
// The fast path is fused in the flash-attention manner (NOTE [fused attention], docs/layers.md): per
// (batch, head), blocks of 64 query rows meet blocks of 64 key rows with an online softmax, so no T × T
// matrix exists beyond one 64 × 64 block; the forward keeps only the per-row logsumexp of the scaled scores
// for the backward, which recomputes each block's probabilities from it. Causal blocks wholly above the
// diagonal are skipped. Memory is linear in T: the caller keeps qkv, out and lse.
//
// The reference (`ref::`) is the naive form, kept as the oracle: heads copied to (B*NH, T, hd), the full
// probability matrix (B*NH, T, T) written by the forward and read by the backward.
#pragma once

#include <cstdint>

namespace paraxis {

// out (B, T, C) = softmax(q k^T / sqrt(hd) [+ causal mask]) v per head; lse (B*NH, T) = the logsumexp of each
// row of the scaled, masked scores, kept for the backward.
void attention_forward(float* out, float* lse, const float* qkv, int64_t b, int64_t t, int64_t c, int64_t nh,
                       bool causal = true);
// dqkv (B, T, 3C) from dout (B, T, C), with the forward's qkv, out and lse.
void attention_backward(float* dqkv, const float* dout, const float* qkv, const float* out, const float* lse,
                        int64_t b, int64_t t, int64_t c, int64_t nh, bool causal = true);

// Score entries (i, j) the fused kernels compute per head: whole 64 × 64 blocks, those above the diagonal
// skipped when causal (the cost model counts this work).
double attention_block_entries(int64_t t, bool causal = true);

namespace ref {
// q, k, v (B*NH, T, hd) and probs (B*NH, T, T) are written for the backward; lse (B*NH, T) when not null.
template <class T>
void attention_forward(T* out, T* q, T* k, T* v, T* probs, const T* qkv, int64_t b, int64_t t, int64_t c,
                       int64_t nh, bool causal = true, T* lse = nullptr);
template <class T>
void attention_backward(T* dqkv, const T* dout, const T* q, const T* k, const T* v, const T* probs, int64_t b,
                        int64_t t, int64_t c, int64_t nh, bool causal = true);
}  // namespace ref

}  // namespace paraxis
