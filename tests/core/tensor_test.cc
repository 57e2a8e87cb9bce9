#include "paraxis/core/tensor.h"

#include <gtest/gtest.h>

#include <cstdint>

#include "core/big_blocks.h"

#include "paraxis/core/error.h"
#include "paraxis/core/rng.h"

using namespace paraxis;

TEST(Tensor, ViewsShareStorage) {
  Tensor x    = Tensor::from_vector({3, 2}, {1, 2, 3, 4, 5, 6});
  Tensor rows = x.slice(1, 3);
  EXPECT_EQ(rows.shape(), (Shape{2, 2}));
  EXPECT_TRUE(rows.same_storage(x));
  rows.data()[0] = 30;
  EXPECT_EQ(x.data()[2], 30);
  Tensor flat = x.view({-1});
  EXPECT_EQ(flat.shape(), (Shape{6}));
  EXPECT_THROW(x.view({4}), Error);
  EXPECT_THROW(x.slice(2, 4), Error);
  Tensor c    = x.clone();
  c.data()[0] = -1;
  EXPECT_EQ(x.data()[0], 1);
}

TEST(Tensor, DtypeIsChecked) {
  Tensor ids = Tensor::from_ints({2}, {3, 4});
  EXPECT_THROW(ids.data(), Error);
  EXPECT_EQ(ids.data_i32()[1], 4);
}

TEST(Tensor, ShapeMismatchNamesBothShapes) {
  Tensor x = Tensor::zeros({4, 783});
  try {
    check_shape(x, {-1, 784}, "fc1 input");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("(4, 783)"), std::string::npos);
    EXPECT_NE(std::string(e.what()).find("(*, 784)"), std::string::npos);
  }
}

TEST(Tensor, MemoryIsChargedToTheDevice) {
  set_current_device(7);
  auto before = memory_stats(7).current_bytes;
  {
    Tensor t = Tensor::empty({1000});
    EXPECT_EQ(memory_stats(7).current_bytes, before + 4000);
    EXPECT_GE(memory_stats(7).peak_bytes, before + 4000);
  }
  EXPECT_EQ(memory_stats(7).current_bytes, before);
  set_current_device(-1);
}

TEST(Rng, PhiloxKnownAnswer) {
  // Random123 known-answer test for philox4x32-10: counter 0, key 0.
  Philox r(0, 0);
  uint32_t w[4];
  r.block(0, w);
  EXPECT_EQ(w[0], 0x6627e8d5u);
  EXPECT_EQ(w[1], 0xe169c58du);
  EXPECT_EQ(w[2], 0xbc57ac4cu);
  EXPECT_EQ(w[3], 0x9b00dbd8u);
}

TEST(Rng, ShardEqualsSliceOfFull) {
  Philox r(42, stream_id("fc1.weight"));
  Tensor full = Tensor::empty({6, 5});
  rng_fill_uniform(full, -1, 1, r);
  // Rows 2..3 (a column-parallel shard) and columns 1..3 (a row-parallel shard).
  Tensor rows = Tensor::empty({2, 5});
  rng_fill_uniform(rows, -1, 1, r, {6, 5}, 0, 2);
  for (int i = 0; i < 10; ++i) EXPECT_EQ(rows.data()[i], full.data()[10 + i]);
  Tensor cols = Tensor::empty({6, 2});
  rng_fill_normal(cols, 0, 1, r, {6, 5}, 1, 1);
  Tensor fulln = Tensor::empty({6, 5});
  rng_fill_normal(fulln, 0, 1, r);
  for (int i = 0; i < 6; ++i)
    for (int j = 0; j < 2; ++j) EXPECT_EQ(cols.data()[i * 2 + j], fulln.data()[i * 5 + 1 + j]);
}

TEST(Rng, UniformMomentsAreSane) {
  Philox r(1, 2);
  double s = 0, s2 = 0;
  const int n = 100000;
  for (int i = 0; i < n; ++i) {
    double u = r.normal(i);
    s += u;
    s2 += u * u;
  }
  EXPECT_NEAR(s / n, 0.0, 0.02);
  EXPECT_NEAR(s2 / n, 1.0, 0.02);
}

// Blocks above glibc's largest mmap threshold are kept when freed and handed to the next tensor of that size
// (core/big_blocks.h): an activation of 40 MiB allocated every step is not mapped and faulted in each time.
TEST(Tensor, AFreedBigBlockIsReusedForTheSameSize) {
  using namespace paraxis::core_detail;
  const int64_t n    = (int64_t{40} << 20) / 4;  // 40 MiB of floats
  const float* first = nullptr;
  {
    paraxis::Tensor t = paraxis::Tensor::zeros({n});
    first             = t.data();
    EXPECT_EQ(reinterpret_cast<uintptr_t>(first) % 64, 0u);
  }
  EXPECT_GE(cached_big_block_bytes(), big_block_size(static_cast<size_t>(n) * 4));
  paraxis::Tensor again = paraxis::Tensor::zeros({n});
  EXPECT_EQ(again.data(), first);
  EXPECT_EQ(again.data()[n - 1], 0.0f);  // zeros() still zeroes a reused block
  paraxis::Tensor other = paraxis::Tensor::empty({n + (int64_t{4} << 20)});  // 56 MiB: another size
  EXPECT_NE(other.data(), first);
  EXPECT_EQ(big_block_size(1), kBigBlockGranule);
  EXPECT_EQ(big_block_size(kBigBlockGranule + 1), 2 * kBigBlockGranule);
}
