// Fast paths: convolutions through oneDNN, max pooling as a hand-written loop parallel over (N, C) planes.
//
// Callers hold plain row-major tensors (NCHW activations, OIHW weights). oneDNN's direct AVX-512 convolutions
// want channel-blocked layouts (nChw16c): measured here at batch 256, one thread, the 16->32 5x5 layer of the
// CNN took 25 + 31 + 38 ms (fwd, bwd-data, bwd-weights) with plain layouts (im2col + GEMM) and 9 + 9 + 10 ms
// blocked, while converting an argument costs 0.5-1.5 ms. So each primitive lets oneDNN choose its layouts
// (format_tag::any) and we reorder at its edges. One exception: backward-data with fewer than 16 input
// channels, where blocking pads the channels to 16 (1 channel: 25 ms blocked vs 11 ms plain).
// Primitives and their reorders are cached per thread, keyed by every size.
#include "paraxis/kernels/conv.h"

#include <fmt/format.h>

#include <cstdlib>
#include <cstring>
#include <memory>

#include "kernels/dnnl_util.h"
#include "paraxis/core/error.h"
#include "paraxis/kernels/matmul.h"
#include "paraxis/kernels/precision.h"

namespace paraxis {

namespace {
using namespace dnnl;
using tag = memory::format_tag;
using dt  = memory::data_type;

memory wrap(const memory::desc& md, const float* p) {
  return memory(md, dnnl_util::engine(), const_cast<float*>(p));
}

// Layout descriptions for one convolution: plain (what callers hold) or `any` (oneDNN chooses).
struct ConvDescs {
  memory::desc src, weights, bias, dst;
  memory::dims strides, pad_l, pad_r;
};

// The data types a primitive computes with: fp32 throughout, or under bf16 products (precision.h) its inputs
// in bf16 and its outputs (activations, gradients) in fp32. The caller's buffers stay fp32; the reorders at
// the primitive's edges (Arg) convert.
struct ConvTypes {
  dt src = dt::f32, weights = dt::f32, dst = dt::f32;
};
enum class Pass { kForward, kBackwardData, kBackwardWeights };
ConvTypes conv_types(Pass pass) {
  if (matmul_precision() != Precision::kBf16) return {};
  switch (pass) {
    case Pass::kForward:
      return {dt::bf16, dt::bf16, dt::f32};
    case Pass::kBackwardData:  // diff_src (the src desc) is the output
      return {dt::f32, dt::bf16, dt::bf16};
    default:  // diff_weights is the output
      return {dt::bf16, dt::f32, dt::bf16};
  }
}

ConvDescs make_descs(const Conv2dShape& s, bool plain, ConvTypes t = {}) {
  ConvDescs d;
  d.src     = memory::desc({s.n, s.cin, s.h, s.w}, t.src, plain ? tag::nchw : tag::any);
  d.weights = memory::desc({s.cout, s.cin, s.k, s.k}, t.weights, plain ? tag::oihw : tag::any);
  d.bias    = memory::desc({s.cout}, dt::f32, tag::x);
  d.dst     = memory::desc({s.n, s.cout, s.oh(), s.ow()}, t.dst, plain ? tag::nchw : tag::any);
  d.strides = {s.stride, s.stride};
  // oneDNN derives the output size with the same floor as PyTorch, so the right padding is the nominal one.
  d.pad_l = {s.pad, s.pad};
  d.pad_r = {s.pad, s.pad};
  return d;
}

// The forward primitive_desc is also the hint both backward primitives need.
convolution_forward::primitive_desc forward_pd(const ConvDescs& d, bool bias) {
  auto desc = bias ? convolution_forward::desc(prop_kind::forward_training, algorithm::convolution_direct,
                                               d.src, d.weights, d.bias, d.dst, d.strides, d.pad_l, d.pad_r)
                   : convolution_forward::desc(prop_kind::forward_training, algorithm::convolution_direct,
                                               d.src, d.weights, d.dst, d.strides, d.pad_l, d.pad_r);
  return convolution_forward::primitive_desc(desc, dnnl_util::engine());
}

// Per-thread staging buffers for arguments in the primitive's layout, shared by every cached primitive on the
// thread (calls are sequential), so staging costs the largest arguments once rather than once per shape.
float* staging(int slot, size_t bytes) {
  struct Buffer {
    std::unique_ptr<float, decltype(&std::free)> data{nullptr, &std::free};
    size_t bytes = 0;
  };
  thread_local Buffer slots[4];
  Buffer& b = slots[slot];
  if (b.bytes < bytes) {
    size_t rounded = (bytes + 63) / 64 * 64;
    b.data.reset(static_cast<float*>(std::aligned_alloc(64, rounded)));
    PX_CHECK(b.data, "conv2d: could not allocate {} bytes of staging memory", rounded);
    b.bytes = rounded;
  }
  return b.data.get();
}

// One argument of a primitive: the caller's plain buffer on one side, the primitive's layout (in a staging
// slot) on the other, and a cached reorder between them when they differ. `accumulate` outputs always go
// through staging and are added into the plain destination by a reorder with a sum post-op (oneDNN overwrites
// gradients; ours accumulate).
class Arg {
 public:
  Arg() = default;
  Arg(int slot, const memory::desc& plain, const memory::desc& chosen, bool is_input, bool accumulate = false)
      : slot_(slot), plain_(plain), chosen_(chosen), staged_(accumulate || chosen != plain) {
    if (!staged_) return;
    auto& eng = dnnl_util::engine();
    primitive_attr attr;
    if (accumulate) {
      post_ops po;
      po.append_sum(1.0f);
      attr.set_post_ops(po);
    }
    convert_ = is_input ? reorder(reorder::primitive_desc(eng, plain, eng, chosen))
                        : reorder(reorder::primitive_desc(eng, chosen, eng, plain, attr));
  }
  // The memory to hand the primitive for an input held at p.
  memory input(const float* p) {
    memory m = wrap(plain_, p);
    if (!staged_) return m;
    memory s = staged();
    convert_.execute(dnnl_util::stream(), m, s);
    return s;
  }
  // The memory the primitive writes an output into; finish_output(p) then lands (or adds) it at p.
  memory output(float* p) { return staged_ ? staged() : wrap(plain_, p); }
  void finish_output(float* p) {
    if (!staged_) return;
    memory s = staged(), m = wrap(plain_, p);
    convert_.execute(dnnl_util::stream(), s, m);
  }

 private:
  memory staged() { return memory(chosen_, dnnl_util::engine(), staging(slot_, chosen_.get_size())); }
  int slot_ = 0;
  memory::desc plain_, chosen_;
  bool staged_ = false;
  reorder convert_;
};

struct ForwardEntry {
  convolution_forward prim;
  Arg src, weights, bias, dst;
};
struct BackwardDataEntry {
  convolution_backward_data prim;
  Arg diff_dst, weights, diff_src;
};
struct BackwardWeightsEntry {
  convolution_backward_weights prim;
  Arg src, diff_dst, diff_weights, diff_bias;
};

std::string shape_key(const Conv2dShape& s, bool bias) {
  return fmt::format("{},{},{},{},{},{},{},{},{},{}", s.n, s.cin, s.h, s.w, s.cout, s.k, s.stride, s.pad,
                     bias, precision_name(matmul_precision()));
}

ForwardEntry& forward_entry(const Conv2dShape& s, bool bias) {
  auto& cache = dnnl_util::cache<ForwardEntry>();
  auto key    = shape_key(s, bias);
  auto it     = cache.find(key);
  if (it != cache.end()) return it->second;
  ConvDescs plain = make_descs(s, true);
  auto pd         = forward_pd(make_descs(s, false, conv_types(Pass::kForward)), bias);
  ForwardEntry e{convolution_forward(pd), Arg(0, plain.src, pd.src_desc(), true),
                 Arg(1, plain.weights, pd.weights_desc(), true),
                 bias ? Arg(2, plain.bias, pd.bias_desc(), true) : Arg(),
                 Arg(3, plain.dst, pd.dst_desc(), false)};
  return cache.emplace(key, std::move(e)).first->second;
}

BackwardDataEntry& backward_data_entry(const Conv2dShape& s) {
  auto& cache = dnnl_util::cache<BackwardDataEntry>();
  auto key    = shape_key(s, false);
  auto it     = cache.find(key);
  if (it != cache.end()) return it->second;
  ConvDescs plain    = make_descs(s, true);
  const bool blocked = s.cin >= 16;  // see the note at the top
  ConvDescs d        = make_descs(s, !blocked, conv_types(Pass::kBackwardData));
  convolution_backward_data::desc desc(algorithm::convolution_direct, d.src, d.weights, d.dst, d.strides,
                                       d.pad_l, d.pad_r);
  const auto hint = forward_pd(make_descs(s, !blocked, conv_types(Pass::kForward)), false);
  convolution_backward_data::primitive_desc pd(desc, dnnl_util::engine(), hint);
  BackwardDataEntry e{convolution_backward_data(pd), Arg(0, plain.dst, pd.diff_dst_desc(), true),
                      Arg(1, plain.weights, pd.weights_desc(), true),
                      Arg(2, plain.src, pd.diff_src_desc(), false)};
  return cache.emplace(key, std::move(e)).first->second;
}

BackwardWeightsEntry& backward_weights_entry(const Conv2dShape& s, bool bias) {
  auto& cache = dnnl_util::cache<BackwardWeightsEntry>();
  auto key    = shape_key(s, bias);
  auto it     = cache.find(key);
  if (it != cache.end()) return it->second;
  ConvDescs plain = make_descs(s, true);
  ConvDescs d     = make_descs(s, false, conv_types(Pass::kBackwardWeights));
  auto desc       = bias ? convolution_backward_weights::desc(algorithm::convolution_direct, d.src, d.weights,
                                                              d.bias, d.dst, d.strides, d.pad_l, d.pad_r)
                         : convolution_backward_weights::desc(algorithm::convolution_direct, d.src, d.weights,
                                                              d.dst, d.strides, d.pad_l, d.pad_r);
  const auto hint = forward_pd(make_descs(s, false, conv_types(Pass::kForward)), bias);
  convolution_backward_weights::primitive_desc pd(desc, dnnl_util::engine(), hint);
  BackwardWeightsEntry e{convolution_backward_weights(pd), Arg(0, plain.src, pd.src_desc(), true),
                         Arg(1, plain.dst, pd.diff_dst_desc(), true),
                         Arg(2, plain.weights, pd.diff_weights_desc(), false, /*accumulate=*/true),
                         bias ? Arg(3, plain.bias, pd.diff_bias_desc(), false, /*accumulate=*/true) : Arg()};
  return cache.emplace(key, std::move(e)).first->second;
}
}  // namespace

void conv2d_forward(float* y, const float* x, const float* w, const float* b, const Conv2dShape& s) {
  if (kernel_path() == KernelPath::kRef) return ref::conv2d_forward<float>(y, x, w, b, s);
  if (s.n == 0 || s.cout == 0) return;
  if (s.cin == 0) return ref::conv2d_forward<float>(y, x, w, b, s);  // bias only; oneDNN rejects zero dims
  ForwardEntry& e                      = forward_entry(s, b != nullptr);
  std::unordered_map<int, memory> args = {{DNNL_ARG_SRC, e.src.input(x)},
                                          {DNNL_ARG_WEIGHTS, e.weights.input(w)},
                                          {DNNL_ARG_DST, e.dst.output(y)}};
  if (b) args.emplace(DNNL_ARG_BIAS, e.bias.input(b));
  e.prim.execute(dnnl_util::stream(), args);
  e.dst.finish_output(y);
  dnnl_util::stream().wait();
}

void conv2d_backward_data(float* dx, const float* dy, const float* w, const Conv2dShape& s) {
  if (kernel_path() == KernelPath::kRef) return ref::conv2d_backward_data<float>(dx, dy, w, s);
  if (s.n == 0 || s.cin == 0) return;
  if (s.cout == 0) return ref::conv2d_backward_data<float>(dx, dy, w, s);  // zeros
  BackwardDataEntry& e = backward_data_entry(s);
  e.prim.execute(dnnl_util::stream(), {{DNNL_ARG_DIFF_DST, e.diff_dst.input(dy)},
                                       {DNNL_ARG_WEIGHTS, e.weights.input(w)},
                                       {DNNL_ARG_DIFF_SRC, e.diff_src.output(dx)}});
  e.diff_src.finish_output(dx);
  dnnl_util::stream().wait();
}

void conv2d_backward_weights(float* dw, float* db, const float* dy, const float* x, const Conv2dShape& s) {
  if (kernel_path() == KernelPath::kRef) return ref::conv2d_backward_weights<float>(dw, db, dy, x, s);
  if (s.n == 0 || s.cin == 0 || s.cout == 0) return;  // nothing to add
  BackwardWeightsEntry& e              = backward_weights_entry(s, db != nullptr);
  std::unordered_map<int, memory> args = {{DNNL_ARG_SRC, e.src.input(x)},
                                          {DNNL_ARG_DIFF_DST, e.diff_dst.input(dy)},
                                          {DNNL_ARG_DIFF_WEIGHTS, e.diff_weights.output(dw)}};
  if (db) args.emplace(DNNL_ARG_DIFF_BIAS, e.diff_bias.output(db));
  e.prim.execute(dnnl_util::stream(), args);
  e.diff_weights.finish_output(dw);  // adds: a reorder with a sum post-op
  if (db) e.diff_bias.finish_output(db);
  dnnl_util::stream().wait();
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
