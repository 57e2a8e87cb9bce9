// paraxis/data/dataset.h — in-memory datasets that gather batches of rows: images/features + labels, text.
//
//   auto train = std::make_shared<ClassificationDataset>(load_fashion_mnist("train"));  // x (60000, 784)
//   Batch b    = train->gather({7, 3, 11});          // b.x (3, 784) f32 in [0, 1], b.y (3) i32
//   auto imgs  = train->with_sample_shape({1, 28, 28});   // same storage; batches (B, 1, 28, 28)
//
//   TextSplits text = make_text_splits(read_fortunes(), /*context=*/64);   // 90% train, 10% validation
//   Batch t = text.train->gather({0});               // t.x (1, 64) i32 bytes, t.y (1, 64) = t.x shifted by
//   one
//
// Sources (loaders for files and synthetic data) are in paraxis/data/sources.h; batching, shuffling and
// data-parallel sharding in paraxis/data/loader.h. Conventions (scaling, splits, sample boundaries) are
// documented in docs/data.md.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "paraxis/core/tensor.h"

namespace paraxis {

// One batch: inputs and targets, rows along the first dimension.
//   classification: x (B, ...) f32, y (B) i32;   text: x (B, T) i32, y (B, T) i32
struct Batch {
  Tensor x, y;
  int64_t rows() const { return x.defined() ? x.dim(0) : 0; }
};

class Dataset {
 public:
  virtual ~Dataset()           = default;
  virtual int64_t size() const = 0;  // number of samples (rows)
  // Rows in the given order; every index must be in [0, size()).
  virtual Batch gather(std::span<const int64_t> indices) const = 0;
  virtual std::string describe() const = 0;  // "fashion-mnist train: 60000 x (784), 10 classes"
};

class ClassificationDataset : public Dataset {
 public:
  // x (N, ...) f32, y (N) i32 with labels in [0, num_classes).
  ClassificationDataset(Tensor x, Tensor y, int64_t num_classes, std::string name);
  int64_t size() const override { return x_.dim(0); }
  Batch gather(std::span<const int64_t> indices) const override;
  std::string describe() const override;

  // The same samples seen with another per-sample shape of equal size: (784) <-> (1, 28, 28). No copy.
  ClassificationDataset with_sample_shape(const Shape& sample_shape) const;
  Shape sample_shape() const;  // x's shape without N
  int64_t num_classes() const { return num_classes_; }
  const Tensor& features() const { return x_; }  // (N, ...)
  const Tensor& labels() const { return y_; }    // (N)
  const std::string& name() const { return name_; }

 private:
  Tensor x_, y_;
  int64_t num_classes_;
  std::string name_;
};

// Byte- (or token-) level text: sample i is the window of T + 1 tokens starting at token i*T of this split;
// x = its first T tokens, y = its last T (the next-token targets). Windows overlap by one token, so every
// token of the split except the first is a target exactly once per epoch: size() = (tokens - 1) / T.
// A token id: a byte of text (vocabulary 256) or any id below a larger vocabulary (GPT-2's 50,257).
using Token = int32_t;

class TextDataset : public Dataset {
 public:
  // Tokens [begin, end) of a shared buffer; each token in [0, vocab).
  TextDataset(std::shared_ptr<const std::vector<Token>> tokens, int64_t begin, int64_t end, int64_t context,
              int64_t vocab, std::string name);
  int64_t size() const override { return (end_ - begin_ - 1) / context_; }
  Batch gather(std::span<const int64_t> indices) const override;
  std::string describe() const override;

  int64_t context() const { return context_; }  // T
  int64_t vocab() const { return vocab_; }      // V (256 for bytes)
  int64_t num_tokens() const { return end_ - begin_; }

 private:
  std::shared_ptr<const std::vector<Token>> tokens_;
  int64_t begin_, end_, context_, vocab_;
  std::string name_;
};

struct TextSplits {
  std::shared_ptr<TextDataset> train, val;
};
// Train = the first floor(n * (1 - val_fraction)) tokens, validation = the rest (nanoGPT's split). Each part
// must hold at least context + 1 tokens; val_fraction in (0, 1).
TextSplits make_text_splits(std::vector<Token> tokens, int64_t context, double val_fraction = 0.1,
                            int64_t vocab = 256, const std::string& name = "text");
// Bytes of text as tokens (vocabulary 256).
TextSplits make_text_splits(const std::vector<uint8_t>& bytes, int64_t context, double val_fraction = 0.1,
                            int64_t vocab = 256, const std::string& name = "text");

}  // namespace paraxis
