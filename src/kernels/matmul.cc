#include "paraxis/kernels/matmul.h"

#include <fmt/format.h>
#include <cstdlib>
#include <cstring>

#include "kernels/dnnl_util.h"
#include "kernels/matmul_bf16.h"
#include "paraxis/kernels/precision.h"

namespace paraxis {

namespace dnnl_util {
dnnl::engine& engine() {
  thread_local dnnl::engine e(dnnl::engine::kind::cpu, 0);
  return e;
}
dnnl::stream& stream() {
  thread_local dnnl::stream s(engine());
  return s;
}
}  // namespace dnnl_util

namespace {
KernelPath initial_path() {
  const char* env = std::getenv("PARAXIS_KERNELS");
  return (env && std::strcmp(env, "ref") == 0) ? KernelPath::kRef : KernelPath::kFast;
}
KernelPath g_path = initial_path();
}  // namespace

void set_kernel_path(KernelPath p) {
  g_path = p;
}
KernelPath kernel_path() {
  return g_path;
}

void matmul(float* c, const float* a, const float* b, int64_t m, int64_t n, int64_t k, bool trans_a,
            bool trans_b, float beta, int64_t batch) {
  if (m == 0 || n == 0 || batch == 0) return;
  if (k == 0) {
    if (beta == 0.0f) std::memset(c, 0, sizeof(float) * m * n * batch);
    return;
  }
  if (g_path == KernelPath::kRef) return ref::matmul(c, a, b, m, n, k, trans_a, trans_b, beta, batch);
  if (matmul_precision() == Precision::kBf16)
    return bf16::matmul(c, a, b, m, n, k, trans_a, trans_b, beta, batch);
  using namespace dnnl;
  using dt            = memory::data_type;
  std::string key     = fmt::format("{},{},{},{},{},{},{}", m, n, k, trans_a, trans_b, beta, batch);
  auto& cache         = dnnl_util::cache<dnnl::matmul>();
  auto it             = cache.find(key);
  memory::dims a_dims = {batch, m, k}, b_dims = {batch, k, n}, c_dims = {batch, m, n};
  memory::dims a_strides = trans_a ? memory::dims{m * k, 1, m} : memory::dims{m * k, k, 1};
  memory::dims b_strides = trans_b ? memory::dims{k * n, 1, k} : memory::dims{k * n, n, 1};
  memory::desc a_md(a_dims, dt::f32, a_strides), b_md(b_dims, dt::f32, b_strides);
  memory::desc c_md(c_dims, dt::f32, memory::dims{m * n, n, 1});
  if (it == cache.end()) {
    primitive_attr attr;
    if (beta != 0.0f) {
      post_ops po;
      po.append_sum(beta);
      attr.set_post_ops(po);
    }
    dnnl::matmul::desc d(a_md, b_md, c_md);
    dnnl::matmul::primitive_desc pd(d, attr, dnnl_util::engine());
    it = cache.emplace(key, dnnl::matmul(pd)).first;
  }
  auto& eng = dnnl_util::engine();
  memory am(a_md, eng, const_cast<float*>(a)), bm(b_md, eng, const_cast<float*>(b)), cm(c_md, eng, c);
  it->second.execute(dnnl_util::stream(), {{DNNL_ARG_SRC, am}, {DNNL_ARG_WEIGHTS, bm}, {DNNL_ARG_DST, cm}});
  dnnl_util::stream().wait();
}

}  // namespace paraxis
