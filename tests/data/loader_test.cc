// Loader: deterministic shuffling, file order, last partial batch, resumable state, data-parallel shards.
#include "paraxis/data/loader.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <numeric>
#include <set>

#include "paraxis/core/error.h"
#include "paraxis/data/shard.h"
#include "paraxis/data/sources.h"

using namespace paraxis;

namespace {
// Sample i has feature value i and label i % 7, so a batch tells which samples it holds.
std::shared_ptr<ClassificationDataset> numbered(int64_t n) {
  std::vector<float> x(n);
  std::vector<int32_t> y(n);
  for (int64_t i = 0; i < n; ++i) x[i] = static_cast<float>(i), y[i] = static_cast<int32_t>(i % 7);
  return std::make_shared<ClassificationDataset>(Tensor::from_vector({n, 1}, x), Tensor::from_ints({n}, y), 7,
                                                 "numbered");
}
std::vector<int64_t> ids(const Batch& b) {
  std::vector<int64_t> out;
  for (float v : b.x.to_vector()) out.push_back(static_cast<int64_t>(v));
  return out;
}
}  // namespace

TEST(Shuffle, DeterministicPermutationDifferentPerEpochAndSeed) {
  std::vector<int64_t> a = shuffle_order(1000, 5, 0);
  EXPECT_EQ(a, shuffle_order(1000, 5, 0));
  std::vector<int64_t> sorted = a;
  std::sort(sorted.begin(), sorted.end());
  std::vector<int64_t> identity(1000);
  std::iota(identity.begin(), identity.end(), 0);
  EXPECT_EQ(sorted, identity);  // a permutation
  EXPECT_NE(a, identity);
  EXPECT_NE(a, shuffle_order(1000, 5, 1));
  EXPECT_NE(a, shuffle_order(1000, 6, 0));
  EXPECT_EQ(shuffle_order(1, 5, 0), std::vector<int64_t>{0});
  EXPECT_TRUE(shuffle_order(0, 5, 0).empty());
}

TEST(Loader, ShuffledEpochVisitsEverySampleOnceAndEpochsCanBeComputedDirectly) {
  auto data = numbered(100);
  Loader loader(data, {.batch_size = 10, .shuffle = true, .seed = 42});
  EXPECT_EQ(loader.batches_per_epoch(), 10);
  std::vector<int64_t> seen;
  for (int k = 0; k < 10; ++k) {
    std::vector<int64_t> b = ids(loader.next());
    seen.insert(seen.end(), b.begin(), b.end());
  }
  EXPECT_EQ(loader.state(), (LoaderState{1, 0}));
  EXPECT_EQ(seen, shuffle_order(100, 42, 0));
  // Epoch 3 computed without stepping through epochs 1 and 2.
  Loader fresh(data, {.batch_size = 10, .shuffle = true, .seed = 42});
  std::vector<int64_t> epoch3 = shuffle_order(100, 42, 3);
  EXPECT_EQ(ids(fresh.batch(3, 2)), std::vector<int64_t>(epoch3.begin() + 20, epoch3.begin() + 30));
  EXPECT_EQ(fresh.sample_index(3, 25), epoch3[25]);
}

TEST(Loader, NoShuffleIsFileOrder) {
  Loader loader(numbered(25), {.batch_size = 10, .shuffle = false});
  EXPECT_EQ(ids(loader.next()), (std::vector<int64_t>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}));
  EXPECT_EQ(ids(loader.next()), (std::vector<int64_t>{10, 11, 12, 13, 14, 15, 16, 17, 18, 19}));
  // drop_last (the default): samples 20..24 are skipped, the next epoch starts again at 0.
  EXPECT_EQ(loader.state(), (LoaderState{1, 0}));
  EXPECT_EQ(ids(loader.next())[0], 0);
  Batch labels = loader.next();
  EXPECT_EQ(labels.y.data_i32()[3], 13 % 7);
}

TEST(Loader, LastPartialBatchIsDroppedOrKept) {
  Loader dropping(numbered(25), {.batch_size = 10, .shuffle = true, .seed = 1});
  EXPECT_EQ(dropping.batches_per_epoch(), 2);
  Loader keeping(numbered(25), {.batch_size = 10, .shuffle = true, .seed = 1, .drop_last = false});
  EXPECT_EQ(keeping.batches_per_epoch(), 3);
  EXPECT_EQ(keeping.rows_in_batch(2), 5);
  keeping.next();
  keeping.next();
  Batch last = keeping.next();
  EXPECT_EQ(last.rows(), 5);
  std::vector<int64_t> order = shuffle_order(25, 1, 0);
  EXPECT_EQ(ids(last), std::vector<int64_t>(order.begin() + 20, order.end()));
  EXPECT_EQ(keeping.state(), (LoaderState{1, 0}));
  // 5 rows do not split over 2 data-parallel ranks: the error says why and what to do.
  try {
    keeping.batch(0, 2, /*dp=*/2, /*rank=*/0);
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("keep drop_last"), std::string::npos) << e.what();
  }
  EXPECT_EQ(keeping.batch(0, 1, 2, 1).rows(), 5);  // full batches still shard
  // A batch larger than the data only makes sense when the partial batch is kept.
  EXPECT_THROW(Loader(numbered(5), {.batch_size = 10}), Error);
  EXPECT_EQ(Loader(numbered(5), {.batch_size = 10, .drop_last = false}).next().rows(), 5);
}

TEST(Loader, StateSaveRestoreResumesTheSameBatches) {
  LoaderOptions opt{.batch_size = 8, .shuffle = true, .seed = 9};
  Loader a(numbered(50), opt);  // 6 batches per epoch
  for (int i = 0; i < 8; ++i) a.next();
  LoaderState saved = a.state();
  EXPECT_EQ(saved, (LoaderState{1, 2}));
  std::vector<std::vector<int64_t>> want;
  for (int i = 0; i < 7; ++i) want.push_back(ids(a.next()));  // crosses into epoch 2

  Loader b(numbered(50), opt);
  b.restore(saved);
  for (int i = 0; i < 7; ++i) EXPECT_EQ(ids(b.next()), want[i]) << i;
  EXPECT_EQ(b.state(), a.state());
  EXPECT_THROW(b.restore({0, 6}), Error);  // batch 6 of 6: not from this data / batch size
}

TEST(Shard, ShardsConcatenateToTheGlobalBatch) {
  auto data = numbered(96);
  Loader loader(data, {.batch_size = 12, .shuffle = true, .seed = 3});
  for (int64_t dp : {1, 2, 3, 4, 6, 12}) {
    std::vector<int64_t> global = ids(loader.batch(1, 4));
    std::vector<int64_t> joined;
    for (int64_t r = 0; r < dp; ++r) {
      Batch mine = loader.batch(1, 4, dp, r);
      EXPECT_EQ(mine.rows(), 12 / dp);
      std::vector<int64_t> v = ids(mine);
      joined.insert(joined.end(), v.begin(), v.end());
      // The slice of an already gathered global batch is the same rows, as views.
      Batch global_batch = loader.batch(1, 4);
      Batch view         = shard_batch(global_batch, dp, r);
      EXPECT_TRUE(view.x.same_storage(global_batch.x));
      EXPECT_EQ(ids(view), v);
      for (int64_t i = 0; i < mine.rows(); ++i) EXPECT_EQ(view.y.data_i32()[i], mine.y.data_i32()[i]);
    }
    EXPECT_EQ(joined, global) << "dp " << dp;
  }
  RowRange r = dp_shard_rows(64, 4, 1);
  EXPECT_EQ(r.begin, 16);
  EXPECT_EQ(r.end, 32);
}

TEST(Shard, IndivisibleSizesListTheValidChoices) {
  try {
    dp_shard_rows(12, 5, 0);
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kUser);
    EXPECT_NE(std::string(e.what()).find("12 is not divisible by data-parallel size 5"), std::string::npos);
    EXPECT_NE(std::string(e.what()).find("1, 2, 3, 4, 6 or 12"), std::string::npos) << e.what();
  }
  Batch b{Tensor::zeros({6, 2}), Tensor::zeros({6}, DType::kI32)};
  try {
    split_microbatches(b, 4);
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("use 1, 2, 3 or 6 micro-batches"), std::string::npos) << e.what();
  }
}

TEST(Shard, MicroBatchesAreConsecutiveViews) {
  Loader loader(numbered(40), {.batch_size = 8, .shuffle = false});
  Batch b                  = loader.next();
  std::vector<Batch> micro = split_microbatches(b, 4);
  ASSERT_EQ(micro.size(), 4u);
  for (int j = 0; j < 4; ++j) {
    EXPECT_TRUE(micro[j].x.same_storage(b.x));
    EXPECT_EQ(ids(micro[j]), (std::vector<int64_t>{2 * j, 2 * j + 1}));
    EXPECT_EQ(micro[j].y.dim(0), 2);
  }
}

TEST(Synthetic, BlobsAreSeededAndLearnable) {
  ClassificationDataset a = make_synthetic_classification(2000, {16}, 4, /*seed=*/7);
  ClassificationDataset b = make_synthetic_classification(2000, {16}, 4, /*seed=*/7);
  EXPECT_EQ(a.features().to_vector(), b.features().to_vector());
  EXPECT_NE(a.features().to_vector(), make_synthetic_classification(2000, {16}, 4, 8).features().to_vector());
  // Nearest class mean, fitted on the first half, classifies the second half well: there is signal to learn.
  const float* x   = a.features().data();
  const int32_t* y = a.labels().data_i32();
  std::vector<double> mean(4 * 16, 0.0);
  std::vector<int> count(4, 0);
  for (int i = 0; i < 1000; ++i) {
    ++count[y[i]];
    for (int d = 0; d < 16; ++d) mean[y[i] * 16 + d] += x[i * 16 + d];
  }
  for (int k = 0; k < 4; ++k) {
    ASSERT_GT(count[k], 150);  // labels are spread over the classes
    for (int d = 0; d < 16; ++d) mean[k * 16 + d] /= count[k];
  }
  int correct = 0;
  for (int i = 1000; i < 2000; ++i) {
    int best      = 0;
    double best_d = 1e300;
    for (int k = 0; k < 4; ++k) {
      double dist = 0;
      for (int d = 0; d < 16; ++d)
        dist += (x[i * 16 + d] - mean[k * 16 + d]) * (x[i * 16 + d] - mean[k * 16 + d]);
      if (dist < best_d) best_d = dist, best = k;
    }
    correct += best == y[i];
  }
  EXPECT_GT(correct, 900);
  EXPECT_EQ(make_synthetic_classification(8, {1, 4, 4}, 3, 1).features().shape(), (Shape{8, 1, 4, 4}));
}
