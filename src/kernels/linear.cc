#include "paraxis/kernels/linear.h"

#include <fmt/format.h>

#include <vector>

#include "kernels/dnnl_util.h"
#include "kernels/matmul_bf16.h"
#include "paraxis/kernels/matmul.h"
#include "paraxis/kernels/precision.h"

namespace paraxis {

namespace {
// y (N, out) = x (N, in) · w (out, in)^T + b, with the bias fused into oneDNN's matmul (no separate pass that
// first fills y with b).
void matmul_bias_dnnl(float* y, const float* x, const float* w, const float* b, int64_t n, int64_t in,
                      int64_t out) {
  using namespace dnnl;
  using dt        = memory::data_type;
  std::string key = fmt::format("bias,{},{},{}", n, in, out);
  memory::desc x_md({n, in}, dt::f32, memory::dims{in, 1});
  memory::desc w_md({in, out}, dt::f32, memory::dims{1, in});  // (out, in) row-major read as its transpose
  memory::desc b_md({1, out}, dt::f32, memory::dims{out, 1});
  memory::desc y_md({n, out}, dt::f32, memory::dims{out, 1});
  auto& cache = dnnl_util::cache<dnnl::matmul>();
  auto it     = cache.find(key);
  if (it == cache.end()) {
    dnnl::matmul::desc d(x_md, w_md, b_md, y_md);
    dnnl::matmul::primitive_desc pd(d, dnnl_util::engine());
    it = cache.emplace(key, dnnl::matmul(pd)).first;
  }
  auto& eng = dnnl_util::engine();
  memory xm(x_md, eng, const_cast<float*>(x)), wm(w_md, eng, const_cast<float*>(w));
  memory bm(b_md, eng, const_cast<float*>(b)), ym(y_md, eng, y);
  it->second.execute(dnnl_util::stream(),
                     {{DNNL_ARG_SRC, xm}, {DNNL_ARG_WEIGHTS, wm}, {DNNL_ARG_BIAS, bm}, {DNNL_ARG_DST, ym}});
  dnnl_util::stream().wait();
}
}  // namespace

bool linear_rounds_weights() {
  return kernel_path() == KernelPath::kFast && matmul_precision() == Precision::kBf16;
}

void linear_forward(float* y, const float* x, const float* w, const float* b, int64_t n, int64_t in,
                    int64_t out, uint16_t* w_bf16) {
  if (w_bf16 && linear_rounds_weights()) {
    to_bf16(w_bf16, w, in * out);
    if (n == 0) return;
    if (b) return bf16::matmul_bias(y, x, w, b, n, in, out, w_bf16);
    return bf16::matmul(y, x, w, n, out, in, false, true, 0.0f, 1, nullptr, w_bf16);
  }
  if (b && n > 0 && kernel_path() == KernelPath::kFast)
    return matmul_precision() == Precision::kBf16 ? bf16::matmul_bias(y, x, w, b, n, in, out)
                                                  : matmul_bias_dnnl(y, x, w, b, n, in, out);
  if (b) {
    for (int64_t i = 0; i < n; ++i)
      for (int64_t j = 0; j < out; ++j) y[i * out + j] = b[j];
  }
  matmul(y, x, w, n, out, in, false, true, b ? 1.0f : 0.0f);
}

namespace {
// matmul (matmul.h), reading an operand already rounded to bf16 where one is given (bf16 runs only).
void product(float* c, const float* a, const float* b, int64_t m, int64_t n, int64_t k, bool trans_a,
             bool trans_b, const uint16_t* a16, const uint16_t* b16) {
  if (a16 || b16) return bf16::matmul(c, a, b, m, n, k, trans_a, trans_b, 0.0f, 1, a16, b16);
  matmul(c, a, b, m, n, k, trans_a, trans_b, 0.0f);
}

// dx (N, in) = dy (N, out) · w (out, in) computed as its transpose dxᵀ (in, N) = wᵀ · dyᵀ into a per-thread
// scratch, then reordered into dx. Why: read as the plain right-hand operand, w is K = out rows of `in`
// floats each; oneDNN 2.6's brgemm packs that operand only when `in` is a power of two and otherwise walks
// it row by row (one page per row), which on this machine ran the demo's 3584 → 4096 input gradient at
// 25–33 GFLOP/s against 90–104 for 4096 → 4096 (256 and 32 rows; 3072 and 1792 alike). Read transposed as
// the left operand it runs at 90–100 GFLOP/s for every `in`; the reorder of the small (N, in) result costs
// 1–2% of the call.
void backward_input_transposed(float* dx, const float* dy, const float* w, int64_t n, int64_t in, int64_t out,
                               const uint16_t* w_bf16) {
  using namespace dnnl;
  using dt = memory::data_type;
  thread_local std::vector<float> scratch;
  if (scratch.size() < static_cast<size_t>(n * in)) scratch.resize(n * in);
  product(scratch.data(), w, dy, in, n, out, /*trans_a=*/true, /*trans_b=*/true, w_bf16, nullptr);
  memory::desc src_md({in, n}, dt::f32, memory::dims{n, 1}), dst_md({in, n}, dt::f32, memory::dims{1, in});
  const std::string key = fmt::format("transpose,{},{}", in, n);
  auto& cache           = dnnl_util::cache<dnnl::reorder>();
  auto it               = cache.find(key);
  auto& eng             = dnnl_util::engine();
  if (it == cache.end())
    it = cache.emplace(key, dnnl::reorder(reorder::primitive_desc(eng, src_md, eng, dst_md))).first;
  memory sm(src_md, eng, scratch.data()), dm(dst_md, eng, dx);
  it->second.execute(dnnl_util::stream(), sm, dm);
  dnnl_util::stream().wait();
}
}  // namespace

void linear_backward_input(float* dx, const float* dy, const float* w, int64_t n, int64_t in, int64_t out,
                           const uint16_t* w_bf16) {
  if (!linear_rounds_weights()) w_bf16 = nullptr;
  // Powers of two (where oneDNN packs w itself) stay on the direct call: 3–10% faster there.
  const bool power_of_two = (in & (in - 1)) == 0;
  if (kernel_path() == KernelPath::kFast && n > 0 && out > 0 && !power_of_two)
    return backward_input_transposed(dx, dy, w, n, in, out, w_bf16);
  if (n == 0 || out == 0) w_bf16 = nullptr;  // matmul's own empty cases
  product(dx, dy, w, n, in, out, false, false, nullptr, w_bf16);
}

void linear_backward_weight(float* dw, float* db, const float* dy, const float* x, int64_t n, int64_t in,
                            int64_t out) {
  matmul(dw, dy, x, out, in, n, true, false, 1.0f);
  if (db) {
    for (int64_t i = 0; i < n; ++i) {
      const float* row = dy + i * out;
#pragma omp simd
      for (int64_t j = 0; j < out; ++j) db[j] += row[j];
    }
  }
}

}  // namespace paraxis
