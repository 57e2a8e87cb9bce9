// Fast paths: convolutions through oneDNN (plain NCHW / OIHW so tensors stay row-major, primitives cached per
// thread and keyed by every size), max pooling as a hand-written loop parallel over (N, C) planes.
#include "paraxis/kernels/conv.h"

#include <fmt/format.h>

#include <cstring>
#include <vector>

#include "kernels/dnnl_util.h"
#include "paraxis/kernels/matmul.h"

namespace paraxis {

namespace {
using namespace dnnl;
using tag = memory::format_tag;
using dt  = memory::data_type;

struct ConvDescs {
  memory::desc src, weights, bias, dst;
  memory::dims strides, pad_l, pad_r;
};

ConvDescs make_descs(const Conv2dShape& s) {
  ConvDescs d;
  d.src     = memory::desc({s.n, s.cin, s.h, s.w}, dt::f32, tag::nchw);
  d.weights = memory::desc({s.cout, s.cin, s.k, s.k}, dt::f32, tag::oihw);
  d.bias    = memory::desc({s.cout}, dt::f32, tag::x);
  d.dst     = memory::desc({s.n, s.cout, s.oh(), s.ow()}, dt::f32, tag::nchw);
  d.strides = {s.stride, s.stride};
  // oneDNN derives the output size with the same floor as PyTorch, so the right padding is the nominal one.
  d.pad_l = {s.pad, s.pad};
  d.pad_r = {s.pad, s.pad};
  return d;
}

std::string shape_key(const Conv2dShape& s, bool bias) {
  return fmt::format("{},{},{},{},{},{},{},{},{}", s.n, s.cin, s.h, s.w, s.cout, s.k, s.stride, s.pad, bias);
}

// The forward primitive_desc is also the hint both backward primitives need.
convolution_forward::primitive_desc forward_pd(const ConvDescs& d, bool bias) {
  auto desc = bias ? convolution_forward::desc(prop_kind::forward_training, algorithm::convolution_direct,
                                               d.src, d.weights, d.bias, d.dst, d.strides, d.pad_l, d.pad_r)
                   : convolution_forward::desc(prop_kind::forward_training, algorithm::convolution_direct,
                                               d.src, d.weights, d.dst, d.strides, d.pad_l, d.pad_r);
  return convolution_forward::primitive_desc(desc, dnnl_util::engine());
}

memory wrap(const memory::desc& md, const float* p) {
  return memory(md, dnnl_util::engine(), const_cast<float*>(p));
}

// Scratch for the backward-weights temporaries (oneDNN overwrites its outputs; we must accumulate).
std::vector<float>& scratch(int which) {
  thread_local std::vector<float> buffers[2];
  return buffers[which];
}

bool empty_conv(const Conv2dShape& s) {
  return s.n == 0 || s.cin == 0 || s.cout == 0;
}
}  // namespace

void conv2d_forward(float* y, const float* x, const float* w, const float* b, const Conv2dShape& s) {
  if (kernel_path() == KernelPath::kRef) return ref::conv2d_forward<float>(y, x, w, b, s);
  if (s.n == 0 || s.cout == 0) return;
  if (s.cin == 0) return ref::conv2d_forward<float>(y, x, w, b, s);  // bias only; oneDNN rejects zero dims
  ConvDescs d = make_descs(s);
  auto& cache = dnnl_util::cache<convolution_forward>();
  auto key    = shape_key(s, b != nullptr);
  auto it     = cache.find(key);
  if (it == cache.end()) it = cache.emplace(key, convolution_forward(forward_pd(d, b != nullptr))).first;
  std::unordered_map<int, memory> args = {
      {DNNL_ARG_SRC, wrap(d.src, x)}, {DNNL_ARG_WEIGHTS, wrap(d.weights, w)}, {DNNL_ARG_DST, wrap(d.dst, y)}};
  if (b) args.emplace(DNNL_ARG_BIAS, wrap(d.bias, b));
  it->second.execute(dnnl_util::stream(), args);
  dnnl_util::stream().wait();
}

void conv2d_backward_data(float* dx, const float* dy, const float* w, const Conv2dShape& s) {
  if (kernel_path() == KernelPath::kRef) return ref::conv2d_backward_data<float>(dx, dy, w, s);
  if (s.n == 0 || s.cin == 0) return;
  if (s.cout == 0) return ref::conv2d_backward_data<float>(dx, dy, w, s);  // zeros
  ConvDescs d = make_descs(s);
  auto& cache = dnnl_util::cache<convolution_backward_data>();
  auto key    = shape_key(s, false);
  auto it     = cache.find(key);
  if (it == cache.end()) {
    convolution_backward_data::desc desc(algorithm::convolution_direct, d.src, d.weights, d.dst, d.strides,
                                         d.pad_l, d.pad_r);
    convolution_backward_data::primitive_desc pd(desc, dnnl_util::engine(), forward_pd(d, false));
    it = cache.emplace(key, convolution_backward_data(pd)).first;
  }
  it->second.execute(dnnl_util::stream(), {{DNNL_ARG_DIFF_DST, wrap(d.dst, dy)},
                                           {DNNL_ARG_WEIGHTS, wrap(d.weights, w)},
                                           {DNNL_ARG_DIFF_SRC, wrap(d.src, dx)}});
  dnnl_util::stream().wait();
}

void conv2d_backward_weights(float* dw, float* db, const float* dy, const float* x, const Conv2dShape& s) {
  if (kernel_path() == KernelPath::kRef) return ref::conv2d_backward_weights<float>(dw, db, dy, x, s);
  if (empty_conv(s)) return;  // nothing to add
  ConvDescs d = make_descs(s);
  auto& cache = dnnl_util::cache<convolution_backward_weights>();
  auto key    = shape_key(s, db != nullptr);
  auto it     = cache.find(key);
  if (it == cache.end()) {
    auto desc = db ? convolution_backward_weights::desc(algorithm::convolution_direct, d.src, d.weights,
                                                        d.bias, d.dst, d.strides, d.pad_l, d.pad_r)
                   : convolution_backward_weights::desc(algorithm::convolution_direct, d.src, d.weights,
                                                        d.dst, d.strides, d.pad_l, d.pad_r);
    convolution_backward_weights::primitive_desc pd(desc, dnnl_util::engine(), forward_pd(d, db != nullptr));
    it = cache.emplace(key, convolution_backward_weights(pd)).first;
  }
  // oneDNN overwrites diff_weights and has no sum post-op for this primitive: compute into scratch, then add.
  const int64_t nw       = s.cout * s.cin * s.k * s.k;
  std::vector<float>& tw = scratch(0);
  std::vector<float>& tb = scratch(1);
  tw.resize(nw);
  tb.resize(s.cout);
  std::unordered_map<int, memory> args = {{DNNL_ARG_SRC, wrap(d.src, x)},
                                          {DNNL_ARG_DIFF_DST, wrap(d.dst, dy)},
                                          {DNNL_ARG_DIFF_WEIGHTS, wrap(d.weights, tw.data())}};
  if (db) args.emplace(DNNL_ARG_DIFF_BIAS, wrap(d.bias, tb.data()));
  it->second.execute(dnnl_util::stream(), args);
  dnnl_util::stream().wait();
  for (int64_t i = 0; i < nw; ++i) dw[i] += tw[i];
  if (db)
    for (int64_t i = 0; i < s.cout; ++i) db[i] += tb[i];
}

void maxpool2d_forward(float* y, int32_t* argmax, const float* x, const Pool2dShape& s) {
  const int64_t oh = s.oh(), ow = s.ow(), planes = s.n * s.c, in_plane = s.h * s.w;
#pragma omp parallel for if (planes * oh * ow > 32768)
  for (int64_t p = 0; p < planes; ++p) {
    const float* xp = x + p * in_plane;
    float* yp       = y + p * oh * ow;
    int32_t* ap     = argmax + p * oh * ow;
    for (int64_t i = 0; i < oh; ++i)
      for (int64_t j = 0; j < ow; ++j) {
        int64_t best = i * s.stride * s.w + j * s.stride;
        float m      = xp[best];
        for (int64_t ki = 0; ki < s.k; ++ki) {
          const int64_t row = (i * s.stride + ki) * s.w + j * s.stride;
          for (int64_t kj = 0; kj < s.k; ++kj)
            if (xp[row + kj] > m) m = xp[row + kj], best = row + kj;  // strict: the first maximum wins
        }
        yp[i * ow + j] = m;
        ap[i * ow + j] = static_cast<int32_t>(best);
      }
  }
}

void maxpool2d_backward(float* dx, const float* dy, const int32_t* argmax, const Pool2dShape& s) {
  const int64_t out_plane = s.oh() * s.ow(), planes = s.n * s.c, in_plane = s.h * s.w;
#pragma omp parallel for if (planes * in_plane > 32768)
  for (int64_t p = 0; p < planes; ++p) {
    float* dxp = dx + p * in_plane;
    std::memset(dxp, 0, sizeof(float) * in_plane);
    const float* dyp  = dy + p * out_plane;
    const int32_t* ap = argmax + p * out_plane;
    for (int64_t o = 0; o < out_plane; ++o) dxp[ap[o]] += dyp[o];
  }
}

}  // namespace paraxis
