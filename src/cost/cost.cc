#include "paraxis/cost/cost.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <sstream>

#include "cost/log2.h"
#include "paraxis/core/error.h"
#include "paraxis/parallel/spatial.h"

namespace paraxis::cost {

namespace {
Cost scaled(const Cost& c, double s) {
  Cost o;
  o.fwd_flops        = c.fwd_flops * s;
  o.bwd_input_flops  = c.bwd_input_flops * s;
  o.bwd_weight_flops = c.bwd_weight_flops * s;
  o.fwd_bytes        = c.fwd_bytes * s;
  o.bwd_input_bytes  = c.bwd_input_bytes * s;
  o.bwd_weight_bytes = c.bwd_weight_bytes * s;
  o.param_bytes      = static_cast<int64_t>(std::llround(c.param_bytes * s));
  o.activation_bytes = static_cast<int64_t>(std::llround(c.activation_bytes * s));
  return o;
}
Cost difference(const Cost& a, const Cost& b) {  // a - b
  Cost o = a;
  o += scaled(b, -1.0);
  return o;
}
}  // namespace

// ---- collectives
// --------------------------------------------------------------------------------------------

double p2p_time(double bytes, const LinkProfile& link) {
  return link.time(bytes);
}

double allreduce_time(double bytes, int n, const LinkProfile& link, CollectiveAlgo algo) {
  if (n <= 1 || bytes <= 0) return 0;
  if (algo == CollectiveAlgo::kTree)  // binomial reduce then broadcast, whole message per level
    return 2.0 * ceil_log2(n) * (link.latency_s + bytes / link.achieved_bandwidth());
  // Two devices on a calibrated link: the measured all-reduce (it includes the reduction's memory traffic,
  // which the α–β line of the point-to-point copies leaves out).
  if (n == 2 && !link.allreduce_measured.empty()) return link.measured_allreduce_time(bytes);
  return 2.0 * (n - 1) / n * bytes / link.achieved_bandwidth() + 2.0 * (n - 1) * link.latency_s;
}

double reduce_scatter_time(double bytes, int n, const LinkProfile& link) {
  if (n <= 1 || bytes <= 0) return 0;
  return static_cast<double>(n - 1) / n * bytes / link.achieved_bandwidth() + (n - 1) * link.latency_s;
}

double all_gather_time(double bytes, int n, const LinkProfile& link) {
  return reduce_scatter_time(bytes, n, link);
}

double allreduce_bytes_sent(double bytes, int n) {
  return n <= 1 ? 0.0 : 2.0 * (n - 1) / n * bytes;
}

GholamiCost gholami_integrated(const std::vector<int64_t>& widths, int64_t batch, int pr, int pc,
                               const LinkProfile& link, int bytes_per_element) {
  PX_USER_CHECK(widths.size() >= 2, "gholami: need at least two widths (input and output), got {}",
                widths.size());
  PX_USER_CHECK(pr >= 1 && pc >= 1 && batch >= 1, "gholami: Pr {} Pc {} batch {} must be >= 1", pr, pc,
                batch);
  const double beta = 1.0 / link.achieved_bandwidth(), alpha = link.latency_s, e = bytes_per_element;
  GholamiCost g;
  for (size_t i = 1; i < widths.size(); ++i) {
    const double weights = static_cast<double>(widths[i - 1]) * widths[i] * e;  // |W_i| in bytes
    const double d       = static_cast<double>(widths[i]) * e;
    if (pc > 1)  // model-parallel over Pc on this row's B/Pr samples: 3 collectives of the activations
      g.model_parallel +=
          3.0 * (alpha * ceil_log2(pc) + beta * (static_cast<double>(batch) / pr) * (pc - 1.0) / pc * d);
    if (pr > 1)  // batch-parallel over Pr on this column's |W_i|/Pc weights
      g.batch_parallel += 2.0 * (alpha * ceil_log2(pr) + beta * (pr - 1.0) / pr * weights / pc);
  }
  g.total = g.batch_parallel + g.model_parallel;
  return g;
}

// ---- model description
// --------------------------------------------------------------------------------------

Cost BlockDesc::at_batch(double b) const {
  Cost c = fixed;
  c += scaled(per_sample, b);
  return c;
}

int64_t ModelDesc::num_params() const {
  int64_t n = 0;
  for (const auto& b : blocks) n += b.params;
  return n;
}

namespace {
int matmul_calls(const std::string& kind) {
  if (kind == "linear" || kind == "conv2d" || kind == "spatial_conv2d") return 1;
  if (kind == "transformer_block") return 6;  // qkv, q·kᵀ, p·v, proj, fc1, fc2
  return 0;
}
}  // namespace

ModelDesc describe_model(const ModelSpec& spec) {
  std::unique_ptr<Model> model = build_model(spec);
  ModelDesc d                  = describe_built(*model, spec, 1);
  d.partition_costs            = model->partition_costs(1);
  return d;
}

ModelDesc describe_built(const Model& model_ref, const ModelSpec& spec, int64_t unit) {
  const Model* model = &model_ref;
  ModelDesc d;
  d.name                   = spec.describe();
  d.spec                   = spec;
  const double u           = static_cast<double>(unit);
  d.input_bytes_per_sample = 4.0 * static_cast<double>(shape_numel(model->input_shape(unit))) / u;
  Shape s1 = model->input_shape(unit), s2 = model->input_shape(2 * unit);
  bool column_next       = true;  // Megatron pairing of matmul layers: column-parallel, then row-parallel
  int matmul_layers_left = 0;
  for (const auto& blk : model->blocks)
    if (std::string(blk->kind()) == "linear" || std::string(blk->kind()) == "conv2d") ++matmul_layers_left;
  bool sharded_activation =
      false;  // the running activation is split over tp (between a column and a row layer)
  for (const auto& blk : model->blocks) {
    BlockDesc b;
    b.name       = blk->name();
    b.kind       = blk->kind();
    Cost c1      = blk->cost(s1);
    Cost c2      = blk->cost(s2);
    b.per_sample = scaled(difference(c2, c1), 1.0 / u);  // unit samples more
    b.fixed      = difference(c1, scaled(b.per_sample, u));
    b.matmuls    = matmul_calls(b.kind);
    if (b.kind == "linear" || b.kind == "transformer_block")  // (…, rows, features): rows per sample
      b.rows_per_sample = static_cast<double>(shape_numel(s1)) / static_cast<double>(s1.back()) / u;
    if (b.kind == "linear") b.gemm_in = s1.back(), b.gemm_out = blk->output_shape(s1).back();
    b.conv = conv_call(*blk, s1);
    if (b.conv) b.conv->n = 1;  // per sample: a micro-batch of b samples calls it with n = b
    for (Param* p : blk->params()) {
      b.params += shape_numel(p->full_shape);
      b.param_sizes.push_back(shape_numel(p->full_shape));
    }
    Shape o1               = blk->output_shape(s1);
    b.out_bytes_per_sample = 4.0 * static_cast<double>(shape_numel(o1)) / u;
    if (spec.kind == "gpt") {
      if (b.kind == "transformer_block") {
        b.tp_split         = true;
        b.tp_allreduce_fwd = b.tp_allreduce_bwd = 2;  // after attention and after the MLP (Megatron)
        b.tp_allreduce_bytes_per_sample         = b.out_bytes_per_sample;
      }
    } else if (b.matmuls > 0) {
      if (column_next && matmul_layers_left >= 2) {  // column-parallel: all-reduce dx backward
        b.tp_split                      = true;
        b.tp_allreduce_bwd              = 1;
        b.tp_allreduce_bytes_per_sample = 4.0 * static_cast<double>(shape_numel(s1)) / u;
        sharded_activation              = true;
        column_next                     = false;
      } else if (!column_next) {  // row-parallel: all-reduce y forward
        b.tp_split                      = true;
        b.tp_allreduce_fwd              = 1;
        b.tp_allreduce_bytes_per_sample = b.out_bytes_per_sample;
        sharded_activation              = false;
        column_next                     = true;
      }
      --matmul_layers_left;
    } else {
      b.tp_split = sharded_activation;  // elementwise on the column-parallel layer's shard
    }
    // A ReLU keeps its output y and the next matmul layer keeps its input x: the same tensor, stored once
    // (Layer::cost reports it for both, each layer on its own).
    if (b.matmuls > 0 && !d.blocks.empty() && d.blocks.back().kind == "relu") {
      const double shared = 4.0 * static_cast<double>(shape_numel(s1)) / u;
      b.per_sample.activation_bytes -= static_cast<int64_t>(shared);
    }
    s1 = o1;
    s2 = blk->output_shape(s2);
    d.blocks.push_back(std::move(b));
  }
  if (spec.kind == "gpt") d.tp_divides = {spec.heads};
  if (spec.kind == "mlp") d.fc_widths = spec.mlp_sizes;
  d.first_block_skips_input_pass = model->first_block_skips_input_pass();
  return d;
}

namespace {

// Megatron's VocabParallelEmbedding plus learned positions.
BlockDesc symbolic_embedding(const GptSize& g, const TransformerDims& dims) {
  const double s = g.seq, h = g.hidden, V = g.vocab, sh = s * h;
  BlockDesc embed;
  embed.name = "embed", embed.kind = "embedding";
  embed.params                      = static_cast<int64_t>((V + s) * h);
  embed.fixed.param_bytes           = 4 * embed.params;
  embed.per_sample.fwd_flops        = sh;
  embed.per_sample.bwd_weight_flops = 2 * sh;
  embed.per_sample.fwd_bytes        = 4 * (s + 3 * sh);
  embed.per_sample.bwd_weight_bytes = 4 * (s + 5 * sh);
  embed.per_sample.activation_bytes = static_cast<int64_t>(4 * s);
  embed.out_bytes_per_sample        = 4 * sh;
  embed.dims                        = dims;
  embed.tp_split = true;  // vocabulary-parallel (Megatron's VocabParallelEmbedding): V/tp rows per device
  return embed;
}

// One transformer layer: attention and MLP, Megatron-LM's tensor-parallel split.
BlockDesc symbolic_layer(const GptSize& g, const TransformerDims& dims) {
  const double s = g.seq, h = g.hidden, a = g.heads, sh = s * h;
  BlockDesc layer;
  layer.kind            = "transformer_block";
  layer.matmuls         = 6;
  layer.rows_per_sample = s;
  layer.params          = static_cast<int64_t>(12 * h * h + 13 * h);
  // Megatron (Narayanan et al. 2021): 24·s·h² matmul flops in the four linears, 4·s²·h in q·kᵀ and p·v; plus
  // the small terms: biases 9sh, two LayerNorms 16sh, GELU ~4·4sh, residual adds 2sh, softmax 5·a·s².
  const double mm_lin = 24 * sh * h, mm_att = 4 * s * s * h, scores = a * s * s;
  layer.per_sample.fwd_flops        = mm_lin + mm_att + 9 * sh + 16 * sh + 16 * sh + 2 * sh + 5 * scores;
  layer.per_sample.bwd_input_flops  = mm_lin + 2 * mm_att + 20 * sh + 16 * sh + 2 * sh + 4 * scores;
  layer.per_sample.bwd_weight_flops = mm_lin + 9 * sh + 10 * sh;
  // Traffic: each linear reads its input and writes its output; attention moves q, k, v and the scores.
  const double lin_io = 4 * s * (h + 3 * h + h + h + h + 4 * h + 4 * h + h);
  const double att_io = 4 * (9 * sh + 3 * scores + 3 * sh), elem_io = 4 * (4 * sh + 8 * sh + 6 * sh);
  layer.per_sample.fwd_bytes        = lin_io + att_io + elem_io;
  layer.per_sample.bwd_input_bytes  = lin_io + 4 * (12 * sh + 4 * scores) + elem_io;
  layer.per_sample.bwd_weight_bytes = lin_io + elem_io / 2;
  layer.fixed.fwd_bytes = layer.fixed.bwd_input_bytes = 4 * (12 * h * h);
  layer.fixed.bwd_weight_bytes                        = 2 * 4 * (12 * h * h);
  layer.fixed.param_bytes                             = 4 * layer.params;
  // Stored activations, Korthikanti et al. 2022 ("Reducing Activation Recomputation"): s·h·(34 + 5·a·s/h)
  // bytes per sample in 16-bit, i.e. twice that in fp32 units.
  layer.per_sample.activation_bytes = static_cast<int64_t>(2 * sh * (34 + 5 * a * s / h));
  layer.out_bytes_per_sample        = 4 * sh;
  layer.tp_split                    = true;
  layer.tp_allreduce_fwd = layer.tp_allreduce_bwd = 2;
  layer.tp_allreduce_bytes_per_sample             = 4 * sh;
  layer.dims                                      = dims;
  return layer;
}

// The final LayerNorm (not split).
BlockDesc symbolic_final_layernorm(const GptSize& g, const TransformerDims& dims) {
  const double s = g.seq, h = g.hidden, sh = s * h;
  BlockDesc ln;
  ln.name = "ln_f", ln.kind = "layernorm";
  ln.params                      = static_cast<int64_t>(2 * h);
  ln.fixed.param_bytes           = 8 * h;
  ln.per_sample.fwd_flops        = 8 * sh;
  ln.per_sample.bwd_input_flops  = 10 * sh;
  ln.per_sample.bwd_weight_flops = 5 * sh;
  ln.per_sample.fwd_bytes        = 4 * (2 * sh + 2 * s);
  ln.per_sample.bwd_input_bytes  = 4 * (3 * sh + 2 * s);
  ln.per_sample.bwd_weight_bytes = 4 * (2 * sh + 2 * s);
  ln.per_sample.activation_bytes = static_cast<int64_t>(4 * (sh + 2 * s));
  ln.out_bytes_per_sample        = 4 * sh;
  return ln;
}

// The untied, vocabulary-parallel LM head.
BlockDesc symbolic_lm_head(const GptSize& g, const TransformerDims& dims) {
  const double s = g.seq, h = g.hidden, V = g.vocab, sh = s * h;
  BlockDesc head;
  head.name = "lm_head", head.kind = "linear";
  head.matmuls                     = 1;
  head.rows_per_sample             = s;
  head.params                      = static_cast<int64_t>(V * h);
  head.fixed.param_bytes           = 4 * head.params;
  head.fixed.fwd_bytes             = 4 * V * h;
  head.fixed.bwd_input_bytes       = 4 * V * h;
  head.fixed.bwd_weight_bytes      = 8 * V * h;
  head.per_sample.fwd_flops        = 2 * sh * V;
  head.per_sample.bwd_input_flops  = 2 * sh * V;
  head.per_sample.bwd_weight_flops = 2 * sh * V;
  head.per_sample.fwd_bytes = head.per_sample.bwd_input_bytes = head.per_sample.bwd_weight_bytes =
      4 * s * (h + V);
  head.per_sample.activation_bytes   = static_cast<int64_t>(4 * sh);
  head.out_bytes_per_sample          = 4 * s * V;
  head.tp_split                      = true;  // vocabulary-parallel; the loss reduces a few floats per token
  head.tp_allreduce_bwd              = 1;
  head.tp_allreduce_bytes_per_sample = 4 * sh;
  head.dims                          = dims;
  return head;
}

}  // namespace

ModelDesc gpt_symbolic(const GptSize& g) {
  PX_USER_CHECK(g.layers > 0 && g.hidden > 0 && g.heads > 0 && g.seq > 0 && g.vocab > 0,
                "gpt size L{} H{} NH{} T{} V{}: every size must be positive", g.layers, g.hidden, g.heads,
                g.seq, g.vocab);
  PX_USER_CHECK(g.hidden % g.heads == 0, "gpt heads {} must divide the hidden size {}", g.heads, g.hidden);
  const TransformerDims dims{
      .hidden = g.hidden, .heads = g.heads, .seq = g.seq, .ffn = 4 * g.hidden, .vocab = g.vocab};
  ModelDesc d;
  d.name = fmt::format("gpt L{} H{} NH{} T{} V{} (symbolic)", g.layers, g.hidden, g.heads, g.seq, g.vocab);
  d.symbolic               = true;
  d.tp_divides             = {g.heads};
  d.input_bytes_per_sample = 4.0 * static_cast<double>(g.seq);
  // All bytes are in fp32 units like Layer::cost (pass_time scales them to the profile's element size).
  d.blocks.push_back(symbolic_embedding(g, dims));
  BlockDesc layer = symbolic_layer(g, dims);
  for (int64_t i = 0; i < g.layers; ++i) {
    layer.name = fmt::format("blocks.{}", i);
    d.blocks.push_back(layer);
  }
  d.blocks.push_back(symbolic_final_layernorm(g, dims));
  d.blocks.push_back(symbolic_lm_head(g, dims));
  for (const BlockDesc& b : d.blocks) d.partition_costs.push_back(partition_cost(b.at_batch(1), false));
  return d;
}

GptSize parse_gpt_size(const std::string& text) {
  // GPT-3 paper (Brown et al. 2020, Table 2.1) shapes; hidden 5120 for 13B as Megatron-LM uses it. The
  // vocabulary is the one Megatron-LM trains: GPT-2's 50,257 tokens padded to a multiple of 128 · tp
  // (`_vocab_size_with_padding`, --make-vocab-size-divisible-by 128), 51,200 at tp 8 — the size Narayanan et
  // al. 2021 (§5.1) and Korthikanti et al. 2022 (Table 3) give for their GPT-3 runs.
  constexpr int64_t kMegatronVocab = 51200;
  if (text == "gpt-175b") return {96, 12288, 96, 2048, kMegatronVocab};
  if (text == "gpt-13b") return {40, 5120, 40, 2048, kMegatronVocab};
  if (text == "gpt-6.7b") return {32, 4096, 32, 2048, kMegatronVocab};
  if (text == "gpt-1.3b") return {24, 2048, 16, 2048, kMegatronVocab};
  if (text.rfind("gpt:", 0) == 0) {
    std::vector<int64_t> v;
    std::stringstream in(text.substr(4));
    std::string item;
    while (std::getline(in, item, ',')) {
      char* end   = nullptr;
      long long x = std::strtoll(item.c_str(), &end, 10);
      PX_USER_CHECK(!item.empty() && *end == '\0' && x > 0, "--model {}: '{}' is not a positive integer",
                    text, item);
      v.push_back(x);
    }
    PX_USER_CHECK(v.size() == 5,
                  "--model {}: give five sizes gpt:LAYERS,HIDDEN,HEADS,SEQ,VOCAB, e.g. "
                  "gpt:96,12288,96,2048,51200",
                  text);
    return {v[0], v[1], v[2], v[3], v[4]};
  }
  PX_USER_FAIL(
      "--model {}: use mlp, cnn, gpt (our models, sized by their flags), gpt-175b, gpt-13b, gpt-6.7b, "
      "gpt-1.3b or gpt:LAYERS,HIDDEN,HEADS,SEQ,VOCAB",
      text);
}

double pass_time(double flops, double bytes, int matmuls, const HardwareProfile& hw, int threads_per_device,
                 int concurrent_devices, PassKind kind, double rows_per_call, double gemm_in,
                 double gemm_out) {
  if (flops <= 0 && bytes <= 0) return 0;
  const bool together    = concurrent_devices > 1;
  const double conc      = together ? hw.concurrent_efficiency : 1.0;
  const double byte_time = bytes * (hw.bytes_per_element / 4.0) / hw.bandwidth(together);
  double compute;
  if (matmuls > 0) {
    // The layer kernels' own rate at this many rows where measured (the real shape of the call); else by
    // size.
    double rate = hw.shape_rate(kind, rows_per_call, gemm_in, gemm_out, together);
    if (rate <= 0) rate = hw.row_rate(kind, rows_per_call, together);
    if (rate <= 0) rate = hw.matmul_rate(flops / matmuls) * conc;
    compute = flops / (rate * threads_per_device);
  } else {  // elementwise: vector units at an eighth of the matmul peak; memory usually decides
    compute = flops / (hw.peak_flops / 8.0 * threads_per_device * conc);
  }
  return std::max(compute, byte_time) + hw.kernel_overhead_s * std::max(1, matmuls);
}

}  // namespace paraxis::cost
