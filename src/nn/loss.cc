#include "paraxis/core/error.h"
#include "paraxis/kernels/cross_entropy.h"
#include "paraxis/nn/model.h"

namespace paraxis {

LossResult softmax_cross_entropy(const Tensor& logits, const Tensor& labels, float scale) {
  PX_USER_CHECK(logits.defined() && logits.dtype() == DType::kF32 && logits.ndim() >= 1 && logits.dim(-1) > 0,
                "cross-entropy: logits must be F32 (..., K) with K > 0, got {}",
                logits.defined() ? shape_str(logits.shape()) : "undefined");
  int64_t k = logits.dim(-1), n = logits.numel() / k;
  Shape rows(logits.shape().begin(), logits.shape().end() - 1);
  PX_USER_CHECK(labels.defined() && labels.dtype() == DType::kI32 && labels.numel() == n,
                "cross-entropy: labels must be int32 with shape {} to match logits {}, got {}",
                shape_str(rows), shape_str(logits.shape()),
                labels.defined() ? shape_str(labels.shape()) : "undefined");
  const int32_t* lab = labels.data_i32();
  for (int64_t i = 0; i < n; ++i)
    PX_USER_CHECK(lab[i] >= 0 && lab[i] < k, "cross-entropy: label {} at row {} is outside [0, {})", lab[i],
                  i, k);
  LossResult r;
  r.dlogits = Tensor::empty(logits.shape());
  r.loss =
      static_cast<float>(cross_entropy_forward_backward(r.dlogits.data(), logits.data(), lab, n, k, scale));
  return r;
}

}  // namespace paraxis
