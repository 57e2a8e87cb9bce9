#include "paraxis/data/dataset.h"

#include <cstring>

#include "paraxis/core/error.h"

namespace paraxis {

ClassificationDataset::ClassificationDataset(Tensor x, Tensor y, int64_t num_classes, std::string name)
    : x_(std::move(x)), y_(std::move(y)), num_classes_(num_classes), name_(std::move(name)) {
  PX_CHECK(x_.dtype() == DType::kF32 && x_.ndim() >= 2, "{}: features must be (N, ...) f32, got {}", name_,
           shape_str(x_.shape()));
  PX_CHECK(y_.dtype() == DType::kI32 && y_.ndim() == 1 && y_.dim(0) == x_.dim(0),
           "{}: labels must be (N) i32 with N = {}, got {}", name_, x_.dim(0), shape_str(y_.shape()));
  PX_USER_CHECK(x_.dim(0) > 0, "{}: the dataset is empty", name_);
  const int32_t* labels = y_.data_i32();
  for (int64_t i = 0; i < y_.numel(); ++i)
    PX_USER_CHECK(labels[i] >= 0 && labels[i] < num_classes_, "{}: label {} of sample {} is outside [0, {})",
                  name_, labels[i], i, num_classes_);
}

Batch ClassificationDataset::gather(std::span<const int64_t> indices) const {
  Shape xs = x_.shape();
  xs[0]    = static_cast<int64_t>(indices.size());
  Batch b{Tensor::empty(xs, DType::kF32), Tensor::empty({xs[0]}, DType::kI32)};
  const int64_t row = x_.numel() / x_.dim(0);
  const float* x    = x_.data();
  const int32_t* y  = y_.data_i32();
  float* bx         = b.x.data();
  int32_t* by       = b.y.data_i32();
  for (size_t r = 0; r < indices.size(); ++r) {
    int64_t i = indices[r];
    PX_CHECK(i >= 0 && i < size(), "{}: sample index {} outside [0, {})", name_, i, size());
    std::memcpy(bx + r * row, x + i * row, row * sizeof(float));
    by[r] = y[i];
  }
  return b;
}

ClassificationDataset ClassificationDataset::with_sample_shape(const Shape& sample_shape) const {
  Shape s = {x_.dim(0)};
  s.insert(s.end(), sample_shape.begin(), sample_shape.end());
  PX_USER_CHECK(shape_numel(s) == x_.numel(), "{}: samples of shape {} cannot be seen as {}", name_,
                shape_str(this->sample_shape()), shape_str(sample_shape));
  return ClassificationDataset(x_.view(s), y_, num_classes_, name_);
}

Shape ClassificationDataset::sample_shape() const {
  return Shape(x_.shape().begin() + 1, x_.shape().end());
}

std::string ClassificationDataset::describe() const {
  return fmt::format("{}: {} x {}, {} classes", name_, size(), shape_str(sample_shape()), num_classes_);
}

TextDataset::TextDataset(std::shared_ptr<const std::vector<Token>> tokens, int64_t begin, int64_t end,
                         int64_t context, int64_t vocab, std::string name)
    : tokens_(std::move(tokens)),
      begin_(begin),
      end_(end),
      context_(context),
      vocab_(vocab),
      name_(std::move(name)) {
  PX_CHECK(tokens_ && begin >= 0 && begin <= end && end <= static_cast<int64_t>(tokens_->size()),
           "{}: token range [{}, {})", name_, begin, end);
  PX_USER_CHECK(context > 0, "{}: context {} must be positive", name_, context);
  PX_USER_CHECK(vocab > 0, "{}: vocabulary {} must be positive", name_, vocab);
  PX_USER_CHECK(end - begin >= context + 1,
                "{}: {} tokens are too few for one sample of context {} (needs {}); "
                "use a context of at most {} or more text",
                name_, end - begin, context, context + 1, std::max<int64_t>(end - begin - 1, 0));
  for (int64_t i = begin; i < end; ++i)
    PX_USER_CHECK((*tokens_)[i] >= 0 && (*tokens_)[i] < vocab,
                  "{}: token {} at {} is outside the vocabulary of {} (ids 0 to {}); give --vocab {} or more",
                  name_, (*tokens_)[i], i, vocab, vocab - 1, (*tokens_)[i] + 1);
}

Batch TextDataset::gather(std::span<const int64_t> indices) const {
  const int64_t B = static_cast<int64_t>(indices.size()), T = context_;
  Batch b{Tensor::empty({B, T}, DType::kI32), Tensor::empty({B, T}, DType::kI32)};  // (B, T), (B, T)
  int32_t* bx      = b.x.data_i32();
  int32_t* by      = b.y.data_i32();
  const Token* tok = tokens_->data() + begin_;
  for (int64_t r = 0; r < B; ++r) {
    int64_t i = indices[r];
    PX_CHECK(i >= 0 && i < size(), "{}: sample index {} outside [0, {})", name_, i, size());
    const Token* w = tok + i * T;
    for (int64_t t = 0; t < T; ++t) {
      bx[r * T + t] = w[t];
      by[r * T + t] = w[t + 1];
    }
  }
  return b;
}

std::string TextDataset::describe() const {
  return fmt::format("{}: {} tokens, {} samples of T={}, vocabulary {}", name_, num_tokens(), size(),
                     context_, vocab_);
}

TextSplits make_text_splits(const std::vector<uint8_t>& bytes, int64_t context, double val_fraction,
                            int64_t vocab, const std::string& name) {
  return make_text_splits(std::vector<Token>(bytes.begin(), bytes.end()), context, val_fraction, vocab, name);
}

TextSplits make_text_splits(std::vector<Token> tokens, int64_t context, double val_fraction, int64_t vocab,
                            const std::string& name) {
  PX_USER_CHECK(val_fraction > 0 && val_fraction < 1,
                "{}: validation fraction {} must be in (0, 1); 0.1 is "
                "usual",
                name, val_fraction);
  const int64_t n       = static_cast<int64_t>(tokens.size());
  const int64_t n_train = static_cast<int64_t>(static_cast<double>(n) * (1.0 - val_fraction));
  auto shared           = std::make_shared<const std::vector<Token>>(std::move(tokens));
  TextSplits s;
  s.train = std::make_shared<TextDataset>(shared, 0, n_train, context, vocab, name + " train");
  s.val   = std::make_shared<TextDataset>(shared, n_train, n, context, vocab, name + " val");
  return s;
}

}  // namespace paraxis
