#include "paraxis/kernels/linear.h"

#include <fmt/format.h>

#include "kernels/dnnl_util.h"
#include "paraxis/kernels/matmul.h"

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

void linear_forward(float* y, const float* x, const float* w, const float* b, int64_t n, int64_t in,
                    int64_t out) {
  if (b && n > 0 && kernel_path() == KernelPath::kFast) return matmul_bias_dnnl(y, x, w, b, n, in, out);
  if (b) {
    for (int64_t i = 0; i < n; ++i)
      for (int64_t j = 0; j < out; ++j) y[i * out + j] = b[j];
  }
  matmul(y, x, w, n, out, in, false, true, b ? 1.0f : 0.0f);
}

void linear_backward_input(float* dx, const float* dy, const float* w, int64_t n, int64_t in, int64_t out) {
  matmul(dx, dy, w, n, in, out, false, false, 0.0f);
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
