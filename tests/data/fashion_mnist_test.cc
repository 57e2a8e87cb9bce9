// The real Fashion-MNIST from Debian's dataset-fashion-mnist (installed by scripts/install-deps, also in CI).
#include <gtest/gtest.h>

#include <algorithm>

#include "paraxis/data/idx.h"
#include "paraxis/data/sources.h"

using namespace paraxis;

TEST(FashionMnist, TrainAndTestLoadWithTheirKnownShapes) {
  for (auto [split, n] : {std::pair{"train", 60000}, std::pair{"test", 10000}}) {
    ClassificationDataset d = load_fashion_mnist(split);
    EXPECT_EQ(d.size(), n);
    EXPECT_EQ(d.features().shape(), (Shape{n, 784}));
    EXPECT_EQ(d.num_classes(), 10);
    // Fashion-MNIST is balanced: every class has a tenth of the samples.
    std::vector<int> count(10);
    for (int64_t i = 0; i < n; ++i) ++count[d.labels().data_i32()[i]];
    EXPECT_EQ(count, std::vector<int>(10, n / 10)) << split;
    auto [lo, hi] = std::minmax_element(d.features().data(), d.features().data() + d.features().numel());
    EXPECT_EQ(*lo, 0.0f);
    EXPECT_EQ(*hi, 1.0f);
  }
}

TEST(FashionMnist, PixelsAreRawBytesOver255InFileOrder) {
  const std::string dir   = kFashionMnistDir;
  IdxArray raw            = read_idx(dir + "/t10k-images-idx3-ubyte.gz");
  IdxArray labels         = read_idx(dir + "/t10k-labels-idx1-ubyte.gz");
  ClassificationDataset d = load_fashion_mnist("test", /*images=*/true);
  EXPECT_EQ(d.features().shape(), (Shape{10000, 1, 28, 28}));
  const float* x = d.features().data();
  for (size_t i = 0; i < raw.data.size(); i += 997) ASSERT_EQ(x[i], raw.data[i] / 255.0f) << i;
  for (int64_t i = 0; i < 10000; i += 101) ASSERT_EQ(d.labels().data_i32()[i], labels.data[i]) << i;
  // The image view shares storage with the flat one.
  ClassificationDataset flat = d.with_sample_shape({784});
  EXPECT_TRUE(flat.features().same_storage(d.features()));
  Batch b = flat.gather(std::vector<int64_t>{5, 0});
  EXPECT_EQ(b.x.shape(), (Shape{2, 784}));
  EXPECT_EQ(b.x.data()[784 + 300], x[300]);
  EXPECT_EQ(b.y.data_i32()[0], labels.data[5]);
}
