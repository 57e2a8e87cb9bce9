// paraxis/data/sources.h — where datasets come from: IDX files, text files, seeded synthetic data.
//
//   ClassificationDataset train = load_fashion_mnist("train");                 // x (60000, 784), y (60000)
//   ClassificationDataset test  = load_fashion_mnist("test", /*images=*/true); // x (10000, 1, 28, 28)
//   ClassificationDataset mine  = load_idx_classification("imgs-idx3-ubyte.gz", "labels-idx1-ubyte");
//   TextSplits text = make_text_splits(read_text(""), /*context=*/128);        // "" = Debian's fortunes
//   ClassificationDataset blobs = make_synthetic_classification(4096, {32}, /*classes=*/4, /*seed=*/1);
//   TextSplits noise = make_text_splits(make_synthetic_tokens(1 << 16, /*vocab=*/64, 1), 32, 0.1, 64);
//
// Pixels are scaled x / 255 to [0, 1] (as torchvision's ToTensor) and nothing else: no mean/std
// normalisation. Missing system datasets fail with a user error naming the Debian package to install.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "paraxis/data/dataset.h"

namespace paraxis {

inline constexpr const char* kFashionMnistDir = "/usr/share/datasets/fashion-mnist";  // dataset-fashion-mnist
inline constexpr const char* kFortunesDir     = "/usr/share/games/fortunes";          // fortunes

// split "train" (60000 samples) or "test" (10000); images=false gives (N, 784), true (N, 1, 28, 28).
ClassificationDataset load_fashion_mnist(const std::string& split, bool images = false,
                                         const std::string& dir = kFashionMnistDir);
// Any pair of unsigned-byte IDX files, gzipped or plain: images (N, H, W) or features (N, D), labels (N).
// num_classes = largest label + 1. images=true gives (N, 1, H, W) (needs 3-d images).
ClassificationDataset load_idx_classification(const std::string& images_path, const std::string& labels_path,
                                              bool images = false, const std::string& name = "idx");

// The English fortune files: every regular file in dir whose name has no extension (the .dat indexes and
// .u8 links are skipped), sorted by name. Their bytes concatenated in that order are the default text.
std::vector<std::string> fortune_files(const std::string& dir = kFortunesDir);
std::vector<uint8_t> read_fortunes(const std::string& dir = kFortunesDir);
// The bytes of any file (gunzipped if gzip); "" means read_fortunes().
std::vector<uint8_t> read_text(const std::string& path);

// Gaussian blobs, learnable by a linear model or an MLP. With Philox streams named below (rng.h):
//   label  y_i      = u32(i) % classes                           stream "synthetic.labels"
//   centre c_k[d]   = normal(k * D + d)                          stream "synthetic.centres"
//   sample x_i[d]   = c_{y_i}[d] + noise * normal(i * D + d)     stream "synthetic.noise"
// D = numel(sample_shape); x has shape (n, sample_shape...).
ClassificationDataset make_synthetic_classification(int64_t n, const Shape& sample_shape, int64_t classes,
                                                    uint64_t seed, float noise = 1.0f);
// Uniform random tokens: token_i = u32(i) % vocab, stream "synthetic.tokens". For benchmarks and tests.
std::vector<Token> make_synthetic_tokens(int64_t n, int64_t vocab, uint64_t seed);

}  // namespace paraxis
