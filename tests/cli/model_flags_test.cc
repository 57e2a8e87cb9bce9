#include "cli/model_flags.h"

#include <gtest/gtest.h>

#include "paraxis/core/error.h"
#include "test_support/user_error.h"

using namespace paraxis;

namespace {

// Parses `args` (after the program name) with the model flags, then validates.
ModelSpec parse(std::vector<std::string> args) {
  CLI::App app;
  ModelSpec spec;
  cli::add_model_flags(app, spec);
  std::reverse(args.begin(), args.end());  // CLI11 takes a reversed vector
  app.parse(args);
  cli::validate_model_spec(spec);
  return spec;
}

// Expects a user error (exit 2) whose message has every fragment.
void expect_user_error(std::vector<std::string> args, const std::vector<std::string>& fragments) {
  EXPECT_USER_ERROR(parse(args), fragments);
}

}  // namespace

TEST(ModelFlags, DefaultsAreValid) {
  ModelSpec s = parse({});
  EXPECT_EQ(s.kind, "mlp");
  EXPECT_EQ(s.mlp_sizes, (std::vector<int64_t>{784, 256, 10}));
}

TEST(ModelFlags, FillEachFamilysSizes) {
  EXPECT_EQ(parse({"--model", "mlp", "--mlp-sizes", "20,32,16,5"}).mlp_sizes,
            (std::vector<int64_t>{20, 32, 16, 5}));
  ModelSpec c =
      parse({"--model", "cnn", "--cnn-c1", "4", "--cnn-c2", "8", "--cnn-fc", "32", "--classes", "7"});
  EXPECT_EQ(c.kind, "cnn");
  EXPECT_EQ(std::vector<int64_t>({c.cnn_c1, c.cnn_c2, c.cnn_fc, c.classes}),
            (std::vector<int64_t>{4, 8, 32, 7}));
  ModelSpec g = parse({"--model", "gpt", "--vocab", "32", "--context", "8", "--width", "16", "--heads", "2",
                       "--layers", "3"});
  EXPECT_EQ(std::vector<int64_t>({g.vocab, g.context, g.width, g.heads, g.layers}),
            (std::vector<int64_t>{32, 8, 16, 2, 3}));
}

TEST(ModelFlags, UnknownModel) {
  expect_user_error({"--model", "rnn"}, {"--model rnn", "use --model mlp"});
}

TEST(ModelFlags, MalformedMlpSizes) {
  expect_user_error({"--mlp-sizes", "784,,10"}, {"'784,,10'", "'' is not a positive integer", "784,256,10"});
  expect_user_error({"--mlp-sizes", "784,x"}, {"'x' is not a positive integer"});
  expect_user_error({"--mlp-sizes", "784,-3"}, {"'-3' is not a positive integer"});
}

TEST(ModelFlags, MlpNeedsTwoWidths) {
  expect_user_error({"--mlp-sizes", "784"}, {"1 width(s)", "at least"});
}

TEST(ModelFlags, ZeroMlpWidth) {
  expect_user_error({"--mlp-sizes", "784,0,10"}, {"--mlp-sizes 784,0,10: width 0 is not positive"});
}

TEST(ModelFlags, NonPositiveCnnSizes) {
  expect_user_error({"--model", "cnn", "--cnn-c1", "0"}, {"--cnn-c1 0", "positive", "--cnn-c1 16"});
  expect_user_error({"--model", "cnn", "--classes", "-2"}, {"--classes -2", "positive"});
}

TEST(ModelFlags, NonPositiveGptSizes) {
  expect_user_error({"--model", "gpt", "--layers", "0"}, {"--layers 0", "positive"});
  expect_user_error({"--model", "gpt", "--vocab", "-1"}, {"--vocab -1", "positive"});
}

TEST(ModelFlags, WidthNotDivisibleByHeads) {
  expect_user_error(
      {"--model", "gpt", "--width", "12", "--heads", "5"},
      {"--width 12 is not divisible by --heads 5", "use --heads 1, 2, 3, 4, 6", "or --width 15"});
}

TEST(ModelFlags, OtherFamilysFlagsAreIgnored) {
  // A bad gpt width does not matter for an mlp.
  EXPECT_EQ(parse({"--model", "mlp", "--width", "12", "--heads", "5"}).kind, "mlp");
}

TEST(ModelFlags, AbsurdSizeIsRefusedBeforeAllocating) {
  expect_user_error({"--model", "gpt", "--width", "1048576", "--heads", "1"},
                    {"parameters", "smaller sizes"});
}

TEST(ModelFlags, EstimateMatchesTheGoldenModels) {
  // Counts printed by tests/golden/make_goldens.py from the PyTorch models.
  EXPECT_EQ(cli::estimate_num_params(parse({"--mlp-sizes", "20,32,16,5"})), 1285);
  EXPECT_EQ(cli::estimate_num_params(parse(
                {"--model", "cnn", "--cnn-c1", "4", "--cnn-c2", "8", "--cnn-fc", "32", "--classes", "10"})),
            13818);
  EXPECT_EQ(cli::estimate_num_params(parse({"--model", "gpt", "--vocab", "32", "--context", "8", "--width",
                                            "16", "--heads", "2", "--layers", "2"})),
            7744);
}
