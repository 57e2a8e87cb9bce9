// bf16 matrix products (matmul_bf16.h).
#include "kernels/matmul_bf16.h"

#include <fmt/format.h>

#include <vector>

#include "kernels/dnnl_util.h"
#include "paraxis/kernels/precision.h"

namespace paraxis::bf16 {
namespace {

using dt = dnnl::memory::data_type;

// The operand rounded to bf16 in a per-thread buffer (`slot` 0 for A, 1 for B), kept between calls.
uint16_t* rounded(const float* src, int64_t n, int slot) {
  thread_local std::vector<uint16_t> buffers[2];
  std::vector<uint16_t>& buf = buffers[slot];
  if (buf.size() < static_cast<size_t>(n)) buf.resize(n);
  to_bf16(buf.data(), src, n);
  return buf.data();
}

dnnl::matmul& primitive(const std::string& key, const dnnl::memory::desc& a, const dnnl::memory::desc& b,
                        const dnnl::memory::desc* bias, const dnnl::memory::desc& c, float beta) {
  auto& cache = dnnl_util::cache<dnnl::matmul>();
  auto it     = cache.find(key);
  if (it != cache.end()) return it->second;
  dnnl::primitive_attr attr;
  if (beta != 0.0f) {
    dnnl::post_ops po;
    po.append_sum(beta);
    attr.set_post_ops(po);
  }
  dnnl::matmul::desc d = bias ? dnnl::matmul::desc(a, b, *bias, c) : dnnl::matmul::desc(a, b, c);
  return cache.emplace(key, dnnl::matmul(dnnl::matmul::primitive_desc(d, attr, dnnl_util::engine())))
      .first->second;
}

}  // namespace

void matmul(float* c, const float* a, const float* b, int64_t m, int64_t n, int64_t k, bool trans_a,
            bool trans_b, float beta, int64_t batch, const uint16_t* a16, const uint16_t* b16) {
  using dnnl::memory;
  memory::dims a_strides = trans_a ? memory::dims{m * k, 1, m} : memory::dims{m * k, k, 1};
  memory::dims b_strides = trans_b ? memory::dims{k * n, 1, k} : memory::dims{k * n, n, 1};
  memory::desc a_md({batch, m, k}, dt::bf16, a_strides), b_md({batch, k, n}, dt::bf16, b_strides);
  memory::desc c_md({batch, m, n}, dt::f32, memory::dims{m * n, n, 1});
  const std::string key = fmt::format("bf16,{},{},{},{},{},{},{}", m, n, k, trans_a, trans_b, beta, batch);
  dnnl::matmul& p       = primitive(key, a_md, b_md, nullptr, c_md, beta);
  auto& eng             = dnnl_util::engine();
  memory am(a_md, eng, a16 ? const_cast<uint16_t*>(a16) : rounded(a, batch * m * k, 0));
  memory bm(b_md, eng, b16 ? const_cast<uint16_t*>(b16) : rounded(b, batch * k * n, 1));
  memory cm(c_md, eng, c);
  p.execute(dnnl_util::stream(), {{DNNL_ARG_SRC, am}, {DNNL_ARG_WEIGHTS, bm}, {DNNL_ARG_DST, cm}});
  dnnl_util::stream().wait();
}

void matmul_bias(float* y, const float* x, const float* w, const float* bias, int64_t n, int64_t in,
                 int64_t out, const uint16_t* w16) {
  using dnnl::memory;
  memory::desc x_md({n, in}, dt::bf16, memory::dims{in, 1});
  memory::desc w_md({in, out}, dt::bf16, memory::dims{1, in});  // (out, in) row-major read as its transpose
  memory::desc b_md({1, out}, dt::f32, memory::dims{out, 1});
  memory::desc y_md({n, out}, dt::f32, memory::dims{out, 1});
  dnnl::matmul& p = primitive(fmt::format("bf16,bias,{},{},{}", n, in, out), x_md, w_md, &b_md, y_md, 0.0f);
  auto& eng       = dnnl_util::engine();
  memory xm(x_md, eng, rounded(x, n * in, 0));
  memory wm(w_md, eng, w16 ? const_cast<uint16_t*>(w16) : rounded(w, in * out, 1));
  memory bm(b_md, eng, const_cast<float*>(bias)), ym(y_md, eng, y);
  p.execute(dnnl_util::stream(),
            {{DNNL_ARG_SRC, xm}, {DNNL_ARG_WEIGHTS, wm}, {DNNL_ARG_BIAS, bm}, {DNNL_ARG_DST, ym}});
  dnnl_util::stream().wait();
}

}  // namespace paraxis::bf16
