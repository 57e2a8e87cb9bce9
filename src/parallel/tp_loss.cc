// Vocab-parallel cross-entropy and arg-max, and the tensor-parallel divisibility rules.
#include <algorithm>
#include <cmath>
#include <numeric>

#include "paraxis/comm/communicator.h"
#include "paraxis/core/error.h"
#include "paraxis/parallel/tensor_parallel.h"

namespace paraxis {

LossResult vocab_parallel_cross_entropy(const TpInfo& tp, const Tensor& logits_shard, const Tensor& labels,
                                        float scale) {
  if (tp.size == 1) return softmax_cross_entropy(logits_shard, labels, scale);
  PX_USER_CHECK(logits_shard.defined() && logits_shard.dtype() == DType::kF32 && logits_shard.ndim() >= 1,
                "vocab-parallel cross-entropy: logits must be F32 (..., V/tp)");
  const int64_t k = logits_shard.dim(-1), rows = logits_shard.numel() / k, v = k * tp.size, v0 = tp.rank * k;
  PX_USER_CHECK(
      labels.defined() && labels.dtype() == DType::kI32 && labels.numel() == rows,
      "vocab-parallel cross-entropy: labels must be I32 with one entry per logits row ({} rows), got {}",
      rows, labels.defined() ? shape_str(labels.shape()) : "undefined");
  const int32_t* y = labels.data_i32();
  for (int64_t i = 0; i < rows; ++i)
    PX_USER_CHECK(y[i] >= 0 && y[i] < v, "cross-entropy: label {} at row {} is outside [0, {})", y[i], i, v);

  const float* l = logits_shard.data();
  Tensor row_max = Tensor::empty({rows});     // (rows) global max per row
  Tensor stats   = Tensor::empty({2, rows});  // (2, rows): sum of exp(l - max), target logit
  float* mx      = row_max.data();
  for (int64_t i = 0; i < rows; ++i) mx[i] = *std::max_element(l + i * k, l + (i + 1) * k);
  tp.comm->all_reduce(mx, rows, ReduceOp::kMax);

  LossResult r;
  r.dlogits    = Tensor::empty(logits_shard.shape());
  float* d     = r.dlogits.data();
  float* sum   = stats.data();
  float* logit = sum + rows;
#pragma omp parallel for if (rows * k > (1 << 16))
  for (int64_t i = 0; i < rows; ++i) {
    double s = 0;
    for (int64_t j = 0; j < k; ++j) {
      float e      = std::exp(l[i * k + j] - mx[i]);
      d[i * k + j] = e;
      s += e;
    }
    sum[i]        = static_cast<float>(s);
    int64_t local = y[i] - v0;
    logit[i]      = local >= 0 && local < k ? l[i * k + local] : 0.0f;
  }
  tp.comm->all_reduce(sum, 2 * rows, ReduceOp::kSum);  // one call for both: each target lives on one rank

  const float g = scale / static_cast<float>(rows);
  double loss   = 0;
#pragma omp parallel for reduction(+ : loss) if (rows * k > (1 << 16))
  for (int64_t i = 0; i < rows; ++i) {
    loss += std::log(static_cast<double>(sum[i])) + mx[i] - logit[i];
    const float inv = g / sum[i];
    for (int64_t j = 0; j < k; ++j) d[i * k + j] *= inv;
    int64_t local = y[i] - v0;
    if (local >= 0 && local < k) d[i * k + local] -= g;
  }
  r.loss = static_cast<float>(loss / static_cast<double>(rows));
  return r;
}

Tensor vocab_parallel_argmax(const TpInfo& tp, const Tensor& logits_shard) {
  const int64_t k = logits_shard.dim(-1), rows = logits_shard.numel() / k;
  Tensor out     = Tensor::empty({rows}, DType::kI32);
  const float* l = logits_shard.data();
  // Each rank's best (value, global index) per row; indices travel as floats, exact below 2^24.
  PX_CHECK(k * tp.size < (1 << 24), "vocab-parallel arg-max: vocabulary {} too large", k * tp.size);
  Tensor mine = Tensor::empty({rows, 2});
  for (int64_t i = 0; i < rows; ++i) {
    const float* row       = l + i * k;
    int64_t j              = std::max_element(row, row + k) - row;
    mine.data()[2 * i]     = row[j];
    mine.data()[2 * i + 1] = static_cast<float>(tp.rank * k + j);
  }
  Tensor all = Tensor::empty({tp.size, rows, 2});
  if (tp.size > 1)
    tp.comm->all_gather(all.data(), mine.data(), rows * 2);
  else
    all.copy_from(mine.view({1, rows, 2}));
  for (int64_t i = 0; i < rows; ++i) {
    float best = all.data()[2 * i];
    int32_t at = static_cast<int32_t>(all.data()[2 * i + 1]);
    for (int r = 1; r < tp.size; ++r) {  // ranks hold increasing index ranges: strict > keeps the first max
      const float* e = all.data() + (r * rows + i) * 2;
      if (e[0] > best) best = e[0], at = static_cast<int32_t>(e[1]);
    }
    out.data_i32()[i] = at;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------------

namespace {

// "1, 2, 4 or 8": the tp values up to 256 that divide every split size.
std::string valid_tp_values(const std::vector<int64_t>& sizes) {
  int64_t g = 0;
  for (int64_t s : sizes) g = std::gcd(g, s);
  std::vector<int64_t> ok;
  for (int64_t d = 1; d <= std::min<int64_t>(g, 256); ++d)
    if (g % d == 0) ok.push_back(d);
  std::string out;
  for (size_t i = 0; i < ok.size(); ++i)
    out += (i == 0 ? "" : i + 1 == ok.size() ? " or " : ", ") + std::to_string(ok[i]);
  return out.empty() ? "1" : out;
}

}  // namespace

void validate_tensor_parallel(const ModelSpec& spec, int tp) {
  PX_USER_CHECK(tp >= 1, "--tp {} must be at least 1; use --tp 1 (no tensor parallelism)", tp);
  if (tp == 1) return;
  struct Rule {
    int64_t size;
    std::string what;  // "8 attention heads"
  };
  std::vector<Rule> rules;
  PX_USER_CHECK(spec.kind != "alexnet" || tp == 1,
                "--tp {} with --model alexnet is not supported yet (its layers have no tensor-parallel "
                "shards); use --tp 1 with --dp, --pp or --sp",
                tp);
  if (spec.kind == "mlp") {
    // Column-parallel Linears are fc1, fc3, ... when a row-parallel partner follows: their widths split.
    const auto& s = spec.mlp_sizes;
    for (size_t i = 0; i + 2 < s.size(); i += 2)
      rules.push_back(
          {s[i + 1], fmt::format("the hidden size {} of fc{} ({})", s[i + 1], i + 1, spec.describe())});
  } else if (spec.kind == "cnn") {
    rules.push_back(
        {spec.cnn_c1, fmt::format("the {} output channels of conv1 ({}; filter parallelism splits "
                                  "them)",
                                  spec.cnn_c1, spec.describe())});
    rules.push_back({spec.cnn_fc, fmt::format("the {} features of fc1 ({})", spec.cnn_fc, spec.describe())});
  } else if (spec.kind == "gpt") {
    // heads | width, so tp | heads also splits the width C and the MLP's 4C evenly.
    rules.push_back({spec.heads, fmt::format("{} attention heads", spec.heads)});
    rules.push_back(
        {spec.vocab, fmt::format("the vocabulary of {} tokens (the embedding and lm_head are split "
                                 "by vocabulary)",
                                 spec.vocab)});
  }
  std::vector<int64_t> sizes;
  for (const Rule& r : rules) sizes.push_back(r.size);
  for (const Rule& r : rules)
    PX_USER_CHECK(r.size > 0 && r.size % tp == 0, "--tp {} does not divide {}; use --tp {}.", tp, r.what,
                  valid_tp_values(sizes));
}

}  // namespace paraxis
