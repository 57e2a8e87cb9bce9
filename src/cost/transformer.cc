// Megatron-LM's GPT layer, kernel by kernel (paraxis/cost/transformer.h; docs/cost-model.md "Per kernel").
#include "paraxis/cost/transformer.h"

#include "paraxis/cost/cost.h"

namespace paraxis::cost {

namespace {

// The sizes every kernel list below is written in.
struct Shape {
  double T, h, a, s, f, V, t, e;
  double b;      // micro-batch
  double n_seq;  // elements of a LayerNorm / dropout / residual tensor on one device
  double z;      // attention scores on one device: b · (a/t) · s²
};

Shape shape_of(const TransformerDims& d, double b, const MegatronOptions& o, int elem) {
  Shape x{};
  x.b = b, x.s = static_cast<double>(d.seq), x.T = b * x.s, x.h = static_cast<double>(d.hidden);
  x.a = static_cast<double>(d.heads), x.f = static_cast<double>(d.ffn), x.V = static_cast<double>(d.vocab);
  x.t     = o.tp;
  x.e     = elem;
  x.n_seq = x.T * x.h / (o.sequence_parallel ? x.t : 1.0);
  x.z     = b * (x.a / x.t) * x.s * x.s;
  return x;
}

// The attention core's forward: q·kᵀ and p·v batched over b·a/t heads, softmax, dropout.
void attention_core(PassKernels& k, const Shape& x) {
  const double heads = x.b * x.a / x.t, dh = x.h / x.a;
  k.gemms.push_back({.m = x.s, .n = x.s, .k = dh, .batch = heads});  // scores = q · kᵀ
  k.memory_kernels.push_back(2 * x.z * x.e);                         // fused scale-mask-softmax
  k.memory_kernels.push_back(x.z * (2 * x.e + 1));                   // dropout: read, write, mask
  k.gemms.push_back({.m = x.s, .n = dh, .k = x.s, .batch = heads});  // context = p · v
}

// The tensor-parallel collectives of one direction: Megatron's two per layer.
void tp_collectives(PassKernels& k, const Shape& x, const MegatronOptions& o) {
  if (o.tp <= 1) return;
  const double bytes = x.T * x.h * x.e;
  for (int i = 0; i < 2; ++i) {
    if (o.sequence_parallel) {
      k.all_gather.push_back(bytes);
      k.reduce_scatter.push_back(bytes);
    } else {
      k.all_reduce.push_back(bytes);
    }
  }
}

}  // namespace

PassKernels layer_forward(const TransformerDims& d, double b, const MegatronOptions& o, int elem) {
  const Shape x = shape_of(d, b, o, elem);
  PassKernels k;
  k.memory_kernels.push_back(2 * x.n_seq * x.e);                // LayerNorm 1
  k.gemms.push_back({.m = x.T, .n = 3 * x.h / x.t, .k = x.h});  // QKV (column-parallel)
  attention_core(k, x);
  k.memory_kernels.push_back(2 * x.T * x.h / x.t * x.e);    // context permute to [s, b, h/t]
  k.gemms.push_back({.m = x.T, .n = x.h, .k = x.h / x.t});  // projection (row-parallel)
  k.memory_kernels.push_back(x.n_seq * (3 * x.e + 1));      // bias-dropout-add
  k.memory_kernels.push_back(2 * x.n_seq * x.e);            // LayerNorm 2
  k.gemms.push_back({.m = x.T, .n = x.f / x.t, .k = x.h});  // fc1 (column-parallel)
  k.memory_kernels.push_back(2 * x.T * x.f / x.t * x.e);    // bias-GELU
  k.gemms.push_back({.m = x.T, .n = x.h, .k = x.f / x.t});  // fc2 (row-parallel)
  k.memory_kernels.push_back(x.n_seq * (3 * x.e + 1));      // bias-dropout-add
  tp_collectives(k, x, o);
  return k;
}

PassKernels layer_backward_input(const TransformerDims& d, double b, const MegatronOptions& o, int elem) {
  const Shape x = shape_of(d, b, o, elem);
  PassKernels k;
  if (o.selective_recompute) attention_core(k, x);  // the attention core again, before its backward
  const double heads = x.b * x.a / x.t, dh = x.h / x.a;
  k.memory_kernels.push_back(x.n_seq * (2 * x.e + 1));               // bias-dropout-add (fc2): read dy, mask
  k.gemms.push_back({.m = x.T, .n = x.f / x.t, .k = x.h});           // fc2 dgrad
  k.memory_kernels.push_back(3 * x.T * x.f / x.t * x.e);             // GELU backward: dy, x → dx
  k.gemms.push_back({.m = x.T, .n = x.h, .k = x.f / x.t});           // fc1 dgrad
  k.memory_kernels.push_back(3 * x.n_seq * x.e);                     // LayerNorm 2 backward
  k.memory_kernels.push_back(3 * x.n_seq * x.e);                     // residual: the two gradients summed
  k.memory_kernels.push_back(x.n_seq * (2 * x.e + 1));               // bias-dropout-add (projection)
  k.gemms.push_back({.m = x.T, .n = x.h / x.t, .k = x.h});           // projection dgrad
  k.memory_kernels.push_back(2 * x.T * x.h / x.t * x.e);             // context permute backward
  k.gemms.push_back({.m = x.s, .n = x.s, .k = dh, .batch = heads});  // d(p) = d(context) · vᵀ
  k.gemms.push_back({.m = x.s, .n = dh, .k = x.s, .batch = heads});  // d(v) = pᵀ · d(context)
  k.memory_kernels.push_back(x.z * (2 * x.e + 1));                   // dropout backward
  k.memory_kernels.push_back(3 * x.z * x.e);                         // softmax backward: dy, y → dx
  k.gemms.push_back({.m = x.s, .n = dh, .k = x.s, .batch = heads});  // d(q) = d(scores) · k
  k.gemms.push_back({.m = x.s, .n = dh, .k = x.s, .batch = heads});  // d(k) = d(scores)ᵀ · q
  k.gemms.push_back({.m = x.T, .n = x.h, .k = 3 * x.h / x.t});       // QKV dgrad
  k.memory_kernels.push_back(3 * x.n_seq * x.e);                     // LayerNorm 1 backward
  k.memory_kernels.push_back(3 * x.n_seq * x.e);                     // residual: the two gradients summed
  tp_collectives(k, x, o);
  if (o.tp > 1 && o.sequence_parallel)  // the LayerNorm outputs again for the QKV and fc1 weight gradients
    for (int i = 0; i < 2; ++i) k.all_gather.push_back(x.T * x.h * x.e);
  return k;
}

PassKernels layer_backward_weight(const TransformerDims& d, double b, const MegatronOptions& o, int elem) {
  const Shape x = shape_of(d, b, o, elem);
  PassKernels k;
  // dW = xᵀ · dy over the T tokens: (in × out) outputs, k = T; bias gradients reduce dy over the tokens.
  for (const auto& [in, out] : {std::pair{x.h, 3 * x.h / x.t}, std::pair{x.h / x.t, x.h},
                                std::pair{x.h, x.f / x.t}, std::pair{x.f / x.t, x.h}}) {
    k.gemms.push_back({.m = in, .n = out, .k = x.T});
    k.memory_kernels.push_back(x.T * out * x.e);
  }
  return k;
}

PassKernels head_forward(const TransformerDims& d, double b, const MegatronOptions& o, int elem) {
  const Shape x = shape_of(d, b, o, elem);
  PassKernels k;
  if (o.tp > 1 && o.sequence_parallel) k.all_gather.push_back(x.T * x.h * x.e);  // the final LayerNorm's
  k.gemms.push_back({.m = x.T, .n = x.V / x.t, .k = x.h});                       // logits (vocab-parallel)
  // Vocab-parallel cross-entropy in fp32 over T·V/t logits: the cast (2 + 4 bytes), the max (4), the
  // shift and the exponent in place (8 + 8), the sum (4), the normalisation kept for the backward (8).
  k.memory_kernels.push_back(38.0 * x.T * x.V / x.t);
  return k;
}

PassKernels head_backward_input(const TransformerDims& d, double b, const MegatronOptions& o, int elem) {
  const Shape x = shape_of(d, b, o, elem);
  PassKernels k;
  k.memory_kernels.push_back(14.0 * x.T * x.V / x.t);  // softmax − one-hot in place (8), cast to 16 bits (6)
  k.gemms.push_back({.m = x.T, .n = x.h, .k = x.V / x.t});
  if (o.tp > 1) (o.sequence_parallel ? k.reduce_scatter : k.all_reduce).push_back(x.T * x.h * x.e);
  return k;
}

PassKernels head_backward_weight(const TransformerDims& d, double b, const MegatronOptions& o, int elem) {
  const Shape x = shape_of(d, b, o, elem);
  PassKernels k;
  k.gemms.push_back({.m = x.h, .n = x.V / x.t, .k = x.T});
  return k;
}

PassKernels embedding_forward(const TransformerDims& d, double b, const MegatronOptions& o, int elem) {
  const Shape x = shape_of(d, b, o, elem);
  PassKernels k;
  k.memory_kernels.push_back(2 * x.T * x.h * x.e);      // gather the rows of this rank's vocabulary part
  k.memory_kernels.push_back(3 * x.T * x.h * x.e);      // + position embeddings
  k.memory_kernels.push_back(x.n_seq * (2 * x.e + 1));  // dropout
  if (o.tp > 1) (o.sequence_parallel ? k.reduce_scatter : k.all_reduce).push_back(x.T * x.h * x.e);
  return k;
}

PassKernels embedding_backward_weight(const TransformerDims& d, double b, const MegatronOptions& o,
                                      int elem) {
  const Shape x = shape_of(d, b, o, elem);
  PassKernels k;
  if (o.tp > 1 && o.sequence_parallel) k.all_gather.push_back(x.T * x.h * x.e);
  k.memory_kernels.push_back(x.V / x.t * x.h * x.e);  // the dense gradient zeroed
  k.memory_kernels.push_back(3 * x.T * x.h * x.e);    // rows added in: read dy and the row, write it
  return k;
}

double kernels_time(const PassKernels& k, const HardwareProfile& hw, const LinkProfile& link, int tp) {
  double t = 0;
  for (const Gemm& g : k.gemms) t += gemm_time(g, hw);
  for (double bytes : k.memory_kernels) t += bytes / hw.bandwidth(false) + hw.kernel_overhead_s;
  for (double bytes : k.all_reduce) t += allreduce_time(bytes, tp, link);
  for (double bytes : k.all_gather) t += all_gather_time(bytes, tp, link);
  for (double bytes : k.reduce_scatter) t += reduce_scatter_time(bytes, tp, link);
  return t;
}

LayerPassTimes layer_pass_times(const TransformerDims& d, double b, const MegatronOptions& o,
                                const HardwareProfile& hw) {
  const LinkProfile link = hw.collective_link(o.tp, 1);
  const int e            = hw.bytes_per_element;
  return {kernels_time(layer_forward(d, b, o, e), hw, link, o.tp),
          kernels_time(layer_backward_input(d, b, o, e), hw, link, o.tp),
          kernels_time(layer_backward_weight(d, b, o, e), hw, link, o.tp)};
}

double layer_activation_bytes(const TransformerDims& d, double b, const MegatronOptions& o,
                              bool full_recompute) {
  const double s = static_cast<double>(d.seq), h = static_cast<double>(d.hidden);
  const double a = static_cast<double>(d.heads), t = o.tp, sbh = s * b * h;
  const bool sp = o.sequence_parallel && o.tp > 1;
  if (full_recompute) return 2 * sbh / (sp ? t : 1.0);
  const double attention = o.selective_recompute ? 0.0 : 5 * a * s / (h * t);
  return sbh * ((sp ? 34 / t : 10 + 24 / t) + attention);
}

}  // namespace paraxis::cost
