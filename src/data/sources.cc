#include "paraxis/data/sources.h"

#include <algorithm>
#include <filesystem>
#include <limits>

#include "paraxis/core/error.h"
#include "paraxis/core/rng.h"
#include "paraxis/data/idx.h"

namespace fs = std::filesystem;

namespace paraxis {

ClassificationDataset load_idx_classification(const std::string& images_path, const std::string& labels_path,
                                              bool images, const std::string& name) {
  IdxArray xs = read_idx(images_path);
  IdxArray ys = read_idx(labels_path);
  PX_USER_CHECK(xs.dims.size() == 2 || xs.dims.size() == 3,
                "'{}': images must be (N, H, W) or features (N, D), "
                "got dimensions {}",
                images_path, shape_str(xs.dims));
  PX_USER_CHECK(ys.dims.size() == 1, "'{}': labels must be one-dimensional (N), got dimensions {}",
                labels_path, shape_str(ys.dims));
  PX_USER_CHECK(xs.dims[0] == ys.dims[0], "'{}' has {} samples but '{}' has {} labels; they must pair up",
                images_path, xs.dims[0], labels_path, ys.dims[0]);
  PX_USER_CHECK(!images || xs.dims.size() == 3, "'{}': image layout (N, 1, H, W) needs 3-d IDX data, got {}",
                images_path, shape_str(xs.dims));
  const int64_t n = xs.dims[0];
  Shape shape =
      images ? Shape{n, 1, xs.dims[1], xs.dims[2]} : Shape{n, shape_numel(xs.dims) / std::max<int64_t>(n, 1)};
  Tensor x  = Tensor::empty(shape, DType::kF32);
  float* px = x.data();
  // x / 255 in float, as torchvision's ToTensor (img.float().div(255)).
  for (size_t i = 0; i < xs.data.size(); ++i) px[i] = static_cast<float>(xs.data[i]) / 255.0f;
  Tensor y          = Tensor::empty({n}, DType::kI32);
  int32_t* py       = y.data_i32();
  int32_t max_label = 0;
  for (int64_t i = 0; i < n; ++i) {
    py[i]     = ys.data[i];
    max_label = std::max(max_label, py[i]);
  }
  return ClassificationDataset(std::move(x), std::move(y), int64_t{max_label} + 1, name);
}

ClassificationDataset load_fashion_mnist(const std::string& split, bool images, const std::string& dir) {
  PX_USER_CHECK(split == "train" || split == "test", "fashion-mnist split '{}' is unknown; use train or test",
                split);
  const std::string prefix = split == "train" ? "train" : "t10k";
  auto find                = [&](const std::string& base) {
    for (const std::string& candidate : {base + ".gz", base})
      if (fs::exists(fs::path(dir) / candidate)) return (fs::path(dir) / candidate).string();
    PX_USER_FAIL(
                       "Fashion-MNIST file {}.gz not found in {}; install the Debian package dataset-fashion-mnist "
                                      "(scripts/install-deps)",
                       base, dir);
  };
  std::string images_path = find(prefix + "-images-idx3-ubyte");
  std::string labels_path = find(prefix + "-labels-idx1-ubyte");
  ClassificationDataset d =
      load_idx_classification(images_path, labels_path, images, "fashion-mnist " + split);
  const int64_t expected = split == "train" ? 60000 : 10000;
  PX_USER_CHECK(d.size() == expected && shape_numel(d.sample_shape()) == 784 && d.num_classes() == 10,
                "{}: expected {} samples of 28x28 in 10 classes, found {}; reinstall dataset-fashion-mnist",
                d.name(), expected, d.describe());
  return d;
}

std::vector<std::string> fortune_files(const std::string& dir) {
  std::vector<std::string> files;
  std::error_code ec;
  for (const fs::directory_entry& e : fs::directory_iterator(dir, ec)) {
    // Regular files only (the .u8 names are symlinks to the same text); no extension (skips .dat indexes).
    if (e.is_symlink() || !e.is_regular_file() || e.path().has_extension()) continue;
    files.push_back(e.path().string());
  }
  PX_USER_CHECK(!files.empty(),
                "no fortune files in {}{}; install the Debian package fortunes "
                "(scripts/install-deps) or give a text file",
                dir, ec ? " (" + ec.message() + ")" : "");
  std::sort(files.begin(), files.end());
  return files;
}

std::vector<uint8_t> read_fortunes(const std::string& dir) {
  std::vector<uint8_t> all;
  for (const std::string& f : fortune_files(dir)) {
    std::vector<uint8_t> bytes = read_file_bytes(f);
    all.insert(all.end(), bytes.begin(), bytes.end());
  }
  return all;
}

std::vector<uint8_t> read_text(const std::string& path) {
  return path.empty() ? read_fortunes() : read_file_bytes(path);
}

ClassificationDataset make_synthetic_classification(int64_t n, const Shape& sample_shape, int64_t classes,
                                                    uint64_t seed, float noise) {
  const int64_t D = shape_numel(sample_shape);
  PX_USER_CHECK(n > 0 && D > 0 && classes >= 2,
                "synthetic data: need n > 0 samples, a non-empty sample shape "
                "and at least 2 classes, got n={} shape {} classes={}",
                n, shape_str(sample_shape), classes);
  const Philox labels(seed, stream_id("synthetic.labels")), centres(seed, stream_id("synthetic.centres")),
      jitter(seed, stream_id("synthetic.noise"));
  Shape shape = {n};
  shape.insert(shape.end(), sample_shape.begin(), sample_shape.end());
  Tensor x    = Tensor::empty(shape, DType::kF32);
  Tensor y    = Tensor::empty({n}, DType::kI32);
  float* px   = x.data();
  int32_t* py = y.data_i32();
  for (int64_t i = 0; i < n; ++i) {
    int64_t k = labels.u32(i) % static_cast<uint64_t>(classes);
    py[i]     = static_cast<int32_t>(k);
    for (int64_t d = 0; d < D; ++d)
      px[i * D + d] = centres.normal(k * D + d) + noise * jitter.normal(i * D + d);
  }
  return ClassificationDataset(std::move(x), std::move(y), classes, "synthetic");
}

std::vector<Token> make_synthetic_tokens(int64_t n, int64_t vocab, uint64_t seed) {
  PX_USER_CHECK(n > 0 && vocab >= 1 && vocab <= std::numeric_limits<Token>::max(),
                "synthetic text: need n > 0 tokens and a vocabulary in [1, 2^31), got n={} vocab={}", n,
                vocab);
  const Philox rng(seed, stream_id("synthetic.tokens"));
  std::vector<Token> tokens(n);
  for (int64_t i = 0; i < n; ++i) tokens[i] = static_cast<Token>(rng.u32(i) % static_cast<uint64_t>(vocab));
  return tokens;
}

}  // namespace paraxis
