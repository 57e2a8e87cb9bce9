// Text datasets: windows, shifted targets, train/validation split, the default fortunes text.
#include <gtest/gtest.h>

#include <algorithm>
#include <numeric>

#include "paraxis/core/error.h"
#include "paraxis/data/loader.h"
#include "paraxis/data/sources.h"
#include "test_support/user_error.h"

using namespace paraxis;

TEST(Text, SplitSizesAndWindows) {
  std::vector<uint8_t> bytes(1000);
  std::iota(bytes.begin(), bytes.end(), 0);  // wraps at 256: token i is i % 256
  TextSplits s = make_text_splits(bytes, /*context=*/8, /*val_fraction=*/0.1);
  EXPECT_EQ(s.train->num_tokens(), 900);
  EXPECT_EQ(s.val->num_tokens(), 100);
  EXPECT_EQ(s.train->size(), (900 - 1) / 8);  // 112 windows of 9 tokens overlapping by one
  EXPECT_EQ(s.val->size(), (100 - 1) / 8);
  Batch b = s.val->gather(std::vector<int64_t>{1, 0});
  EXPECT_EQ(b.x.shape(), (Shape{2, 8}));
  EXPECT_EQ(b.y.shape(), (Shape{2, 8}));
  EXPECT_EQ(b.x.dtype(), DType::kI32);
  for (int t = 0; t < 8; ++t) {
    EXPECT_EQ(b.x.data_i32()[t], (900 + 8 + t) % 256);  // window 1 of the validation split starts at 900 + 8
    EXPECT_EQ(b.y.data_i32()[t], (900 + 8 + t + 1) % 256);
    EXPECT_EQ(b.x.data_i32()[8 + t], (900 + t) % 256);
  }
  // The last window's last target is within the split.
  Batch last = s.train->gather(std::vector<int64_t>{s.train->size() - 1});
  EXPECT_EQ(last.y.data_i32()[7], (111 * 8 + 8) % 256);
}

TEST(Text, TooShortOrBadSplitIsAUserError) {
  std::vector<uint8_t> bytes(50, 'a');
  try {
    make_text_splits(bytes, /*context=*/8, /*val_fraction=*/0.1);  // 5 validation bytes < 9
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kUser);
    EXPECT_NE(std::string(e.what()).find("context of at most 4"), std::string::npos) << e.what();
  }
  EXPECT_THROW(make_text_splits(bytes, 4, 0.0), Error);
  EXPECT_THROW(make_text_splits(bytes, 4, 1.0), Error);
  EXPECT_THROW(make_text_splits(std::vector<uint8_t>(100, 200), 4, 0.1, /*vocab=*/64), Error);
}

TEST(Text, FortunesAreTheDefaultText) {
  std::vector<std::string> files = fortune_files();
  EXPECT_GT(files.size(), 10u);
  EXPECT_TRUE(std::is_sorted(files.begin(), files.end()));
  for (const auto& f : files) EXPECT_EQ(f.find(".dat"), std::string::npos) << f;
  std::vector<uint8_t> text = read_text("");
  EXPECT_GT(text.size(), 1000000u);  // a few MB of English
  EXPECT_EQ(text, read_fortunes());
  std::string head(text.begin(), text.begin() + 1000);
  EXPECT_NE(head.find("\n%\n"), std::string::npos);  // fortune separators: it is the fortunes text
  EXPECT_THROW(fortune_files("/nonexistent/paraxis"), Error);
}

TEST(Text, SyntheticTokensAreSeededAndInVocabulary) {
  std::vector<Token> a = make_synthetic_tokens(4096, 17, 3), b = make_synthetic_tokens(4096, 17, 3);
  EXPECT_EQ(a, b);
  EXPECT_NE(a, make_synthetic_tokens(4096, 17, 4));
  EXPECT_EQ(*std::max_element(a.begin(), a.end()), 16);
  TextSplits s = make_text_splits(a, 16, 0.25, 17, "synthetic");
  Loader loader(s.train, {.batch_size = 4, .seed = 1});
  Batch batch = loader.next();
  EXPECT_EQ(batch.x.shape(), (Shape{4, 16}));
}

// GPT-2's vocabulary (50,257 ids) needs tokens wider than a byte: ids above 255 reach the batch intact.
TEST(Text, TokensBeyondAByteForALargeVocabulary) {
  std::vector<Token> a = make_synthetic_tokens(1 << 14, 50257, 1);
  EXPECT_GT(*std::max_element(a.begin(), a.end()), 50000);
  TextSplits s     = make_text_splits(a, 64, 0.1, 50257, "synthetic");
  Batch batch      = Loader(s.train, {.batch_size = 2, .seed = 1}).next();
  const int32_t* x = batch.x.data_i32();
  EXPECT_GT(*std::max_element(x, x + batch.x.numel()), 255);
  EXPECT_USER_ERROR(make_text_splits(a, 64, 0.1, 50000, "small"), "outside the vocabulary of 50000",
                    "give --vocab");
}
