// paraxis/kernels/matmul.h — (batched) matrix products, the workhorse of every layer.
//
//   // C (M, N) = A (M, K) · B (K, N), both row-major; beta = 1 accumulates into C.
//   matmul(C, A, B, M, N, K);
//   // y (N, out) = x (N, in) · W^T, W stored (out, in) as in PyTorch:
//   matmul(y, x, W, N, out, in, /*trans_a=*/false, /*trans_b=*/true);
//
// trans_a: A is stored (K, M); trans_b: B is stored (N, K). batch > 1 runs `batch` independent products over
// consecutive matrices. The fast path is oneDNN (AVX-512 here, whatever OPENBLAS_CORETYPE says), with
// primitives cached per thread; ref::matmul is the naive triple loop kept as the oracle.
#pragma once

#include <cstdint>

#include "paraxis/core/threads.h"  // set_kernel_threads, kernel_threads: callers find them here too

namespace paraxis {

void matmul(float* c, const float* a, const float* b, int64_t m, int64_t n, int64_t k, bool trans_a = false,
            bool trans_b = false, float beta = 0.0f, int64_t batch = 1);

namespace ref {
void matmul(float* c, const float* a, const float* b, int64_t m, int64_t n, int64_t k, bool trans_a = false,
            bool trans_b = false, float beta = 0.0f, int64_t batch = 1);
}  // namespace ref

// Kernel selection for tests and debugging: PARAXIS_KERNELS=ref in the environment, or this call, routes
// every kernel with a reference twin to the reference.
enum class KernelPath { kFast, kRef };
void set_kernel_path(KernelPath p);
KernelPath kernel_path();

}  // namespace paraxis
