// Tensor parallelism: sharded initialisation equals the slice of the full one, the vocab-parallel loss and
// arg-max equal the full ones, checkpoint loading into shards, gather_params, and every validation rule's
// message. Layout equivalence (tp vs one device) is in tp_equivalence_test.cc.
#include <gtest/gtest.h>

#include <mutex>

#include "paraxis/comm/launch.h"
#include "paraxis/core/error.h"
#include "paraxis/core/rng.h"
#include "paraxis/core/safetensors.h"
#include "paraxis/nn/linear.h"
#include "paraxis/nn/param_io.h"
#include "paraxis/parallel/engine.h"
#include "paraxis/parallel/tensor_parallel.h"
#include "test_support/user_error.h"

using namespace paraxis;

namespace {

ModelSpec tp_gpt() {
  return ModelSpec::gpt(/*vocab=*/32, /*context=*/8, /*width=*/16, /*heads=*/4, /*layers=*/1);
}

// Runs body(tp) on `tp` device threads, each with its TpInfo over the world communicator.
void on_tp_group(int tp, const std::function<void(const TpInfo&)>& body) {
  DeviceOptions opt;
  opt.comm_timeout_s = 60;
  run_devices(tp, opt, [&](Communicator& world) { body(TpInfo{&world, world.rank(), tp}); });
}

using ::paraxis::testing::user_error;

}  // namespace

TEST(TensorParallel, ShardInitialisationIsTheSliceOfTheFullOne) {
  for (const ModelSpec& spec :
       {ModelSpec::mlp({12, 32, 24, 16, 5}), ModelSpec::cnn(4, 8, 16, 10), tp_gpt()}) {
    auto full = build_model(spec);
    full->init(7);
    std::map<std::string, Param*> by_name;
    for (Param* p : full->params()) by_name[p->name] = p;
    for (int tp : {2, 4}) {
      std::mutex mu;
      int sharded = 0;
      on_tp_group(tp, [&](const TpInfo& info) {
        auto m = build_model(spec, info);
        m->init(7);
        ASSERT_EQ(m->blocks.size(), full->blocks.size()) << spec.describe();
        for (size_t b = 0; b < m->blocks.size(); ++b)
          EXPECT_EQ(m->blocks[b]->name(), full->blocks[b]->name());
        for (Param* p : m->params()) {
          ASSERT_TRUE(by_name.count(p->name)) << p->name;
          const Param& f = *by_name[p->name];
          EXPECT_EQ(p->full_shape, f.full_shape) << p->name;
          Tensor want = Tensor::empty(p->value.shape());
          copy_full_to_shard(*p, want, f.value);
          EXPECT_EQ(0, std::memcmp(want.data(), p->value.data(), want.nbytes()))
              << spec.describe() << " tp" << tp << " rank " << info.rank << ": " << p->name;
          std::lock_guard<std::mutex> lock(mu);
          sharded += p->shard_dim >= 0;
          EXPECT_EQ(p->tp_replicated, p->shard_dim < 0) << p->name;
        }
      });
      EXPECT_GT(sharded, 0) << spec.describe();
    }
  }
}

TEST(TensorParallel, QkvShardTakesItsHeadsFromQKAndV) {
  // width 16, 4 heads, tp 2: rank 1 holds rows [8, 16) of q, of k and of v: full rows 8..15, 24..31, 40..47.
  on_tp_group(2, [&](const TpInfo& info) {
    auto m = build_model(tp_gpt(), info);
    for (Param* p : m->params())
      if (p->name == "blocks.0.attn.qkv.weight") {
        EXPECT_EQ(p->value.shape(), (Shape{24, 16}));
        EXPECT_EQ(p->shard_groups, 3);
        EXPECT_EQ(p->shard_begin, info.rank * 8);
        Tensor full = Tensor::zeros({48, 16});
        Tensor mark = Tensor::empty(p->value.shape());
        mark.fill_(1.0f);
        copy_shard_to_full(*p, full, mark);
        for (int64_t r = 0; r < 48; ++r)
          EXPECT_EQ(full.data()[r * 16], (r % 16) / 8 == info.rank ? 1.0f : 0.0f) << "row " << r;
      }
  });
}

TEST(TensorParallel, LoadParamsGivesEachShardItsSlice) {
  auto full = build_model(tp_gpt());
  full->init(3);
  SafetensorsFile file;
  for (Param* p : full->params()) file.tensors[p->name] = p->value;
  on_tp_group(2, [&](const TpInfo& info) {
    auto want = build_model(tp_gpt(), info);
    want->init(3);  // the slices, by the test above
    auto got = build_model(tp_gpt(), info);
    load_params(file, got->params(), "memory");
    auto a = want->params(), b = got->params();
    ASSERT_EQ(a.size(), b.size());
    for (size_t i = 0; i < a.size(); ++i)
      EXPECT_EQ(0, std::memcmp(a[i]->value.data(), b[i]->value.data(), a[i]->value.nbytes())) << a[i]->name;
  });
}

TEST(TensorParallel, VocabParallelCrossEntropyAndArgmaxEqualTheFullOnes) {
  const int64_t rows = 7, v = 12;
  Tensor logits = Tensor::empty({rows, v}), labels = Tensor::empty({rows}, DType::kI32);
  rng_fill_normal(logits, 0, 3, Philox(1, 2));
  for (int64_t i = 0; i < rows; ++i) labels.data_i32()[i] = static_cast<int32_t>((i * 5) % v);
  logits.data()[3 * v + 2] = logits.data()[3 * v + 9] = 50.0f;  // a tie across ranks: the lower index wins
  LossResult ref                                      = softmax_cross_entropy(logits, labels, 0.5f);
  for (int tp : {2, 3, 4}) {
    on_tp_group(tp, [&](const TpInfo& info) {
      TpInfo single;
      Tensor shard = scatter_last_dim(info, logits);
      LossResult r = vocab_parallel_cross_entropy(info, shard, labels, 0.5f);
      EXPECT_NEAR(r.loss, ref.loss, 1e-5 * std::abs(ref.loss) + 1e-6);
      Tensor ref_shard = scatter_last_dim(info, ref.dlogits);
      for (int64_t i = 0; i < shard.numel(); ++i)
        EXPECT_NEAR(r.dlogits.data()[i], ref_shard.data()[i], 1e-6) << "tp " << tp << " element " << i;
      Tensor am = vocab_parallel_argmax(info, shard);
      Tensor full_am;
      Model plain;
      full_am = plain.argmax(logits);
      for (int64_t i = 0; i < rows; ++i) EXPECT_EQ(am.data_i32()[i], full_am.data_i32()[i]) << "row " << i;
      EXPECT_EQ(am.data_i32()[3], 2);
      Tensor back = gather_last_dim(info, shard);
      EXPECT_EQ(0, std::memcmp(back.data(), logits.data(), logits.nbytes()));
      (void)single;
    });
  }
}

TEST(TensorParallel, ColumnParallelWithGatheredOutputEqualsLinear) {
  Linear ref(6, 8, "fc");
  ref.init(5);
  Tensor x = Tensor::empty({3, 6}), dy = Tensor::empty({3, 8});
  rng_fill_uniform(x, -1, 1, Philox(9, 1));
  rng_fill_uniform(dy, -1, 1, Philox(9, 2));
  Ctx rc;
  Tensor ry  = ref.forward(rc, x);
  Tensor rdx = ref.backward(rc, dy);
  on_tp_group(2, [&](const TpInfo& info) {
    auto col =
        column_parallel_linear(6, 8, "fc", info, TpInit::kUniformFanIn, true, 1, /*gather_output=*/true);
    col->init(5);
    Ctx c;
    Tensor y = col->forward(c, x);
    ASSERT_EQ(y.shape(), ry.shape());
    for (int64_t i = 0; i < y.numel(); ++i) EXPECT_NEAR(y.data()[i], ry.data()[i], 1e-6);
    Tensor dx = col->backward(c, dy);
    for (int64_t i = 0; i < dx.numel(); ++i) EXPECT_NEAR(dx.data()[i], rdx.data()[i], 1e-5);
    Param* w    = col->params()[0];
    Tensor want = Tensor::empty(w->grad.shape());
    copy_full_to_shard(*w, want, ref.weight().grad);
    for (int64_t i = 0; i < want.numel(); ++i) EXPECT_NEAR(w->grad.data()[i], want.data()[i], 1e-5);
  });
}

TEST(TensorParallel, GatherParamsAssemblesShardsOnRankZero) {
  ModelSpec spec = tp_gpt();
  auto full      = build_model(spec);
  full->init(11);
  EngineConfig cfg;
  cfg.grid     = Grid{1, 2, 2};
  cfg.schedule = {pipeline::ScheduleKind::k1F1B, 2, 2, 1};
  cfg.seed     = 11;
  DeviceOptions opt;
  opt.comm_timeout_s = 60;
  run_devices(4, opt, [&](Communicator& world) {
    Engine engine(spec, cfg, world);
    auto got = engine.gather_params();
    if (world.rank() != 0) {
      EXPECT_TRUE(got.empty());
      return;
    }
    auto want = full->params();
    ASSERT_EQ(got.size(), want.size());
    for (size_t i = 0; i < want.size(); ++i) {
      EXPECT_EQ(got[i].first, want[i]->name);
      ASSERT_EQ(got[i].second.shape(), want[i]->value.shape()) << want[i]->name;
      EXPECT_EQ(0, std::memcmp(got[i].second.data(), want[i]->value.data(), want[i]->value.nbytes()))
          << want[i]->name;
    }
  });
}

TEST(TensorParallel, ValidationRulesNameTheValueTheRuleAndAlternatives) {
  EXPECT_EQ(user_error([] { validate_tensor_parallel(ModelSpec::gpt(256, 16, 64, 8, 1), 3); }),
            "--tp 3 does not divide 8 attention heads; use --tp 1, 2, 4 or 8.");
  std::string vocab = user_error([] { validate_tensor_parallel(ModelSpec::gpt(250, 16, 64, 8, 1), 4); });
  EXPECT_NE(vocab.find("--tp 4 does not divide the vocabulary of 250 tokens"), std::string::npos) << vocab;
  EXPECT_NE(vocab.find("use --tp 1 or 2."), std::string::npos) << vocab;
  std::string mlp = user_error([] { validate_tensor_parallel(ModelSpec::mlp({784, 100, 10}), 8); });
  EXPECT_NE(mlp.find("--tp 8 does not divide the hidden size 100 of fc1 (mlp 784-100-10)"), std::string::npos)
      << mlp;
  EXPECT_NE(mlp.find("use --tp 1, 2, 4, 5, 10, 20, 25, 50 or 100."), std::string::npos) << mlp;
  std::string mlp3 = user_error([] { validate_tensor_parallel(ModelSpec::mlp({12, 32, 24, 18, 5}), 4); });
  EXPECT_NE(mlp3.find("hidden size 18 of fc3"), std::string::npos) << mlp3;
  std::string c1 = user_error([] { validate_tensor_parallel(ModelSpec::cnn(6, 32, 128, 10), 4); });
  EXPECT_NE(c1.find("--tp 4 does not divide the 6 output channels of conv1"), std::string::npos) << c1;
  EXPECT_NE(c1.find("use --tp 1 or 2."), std::string::npos) << c1;
  std::string fc = user_error([] { validate_tensor_parallel(ModelSpec::cnn(16, 32, 100, 10), 8); });
  EXPECT_NE(fc.find("--tp 8 does not divide the 100 features of fc1"), std::string::npos) << fc;
  EXPECT_NE(fc.find("use --tp 1, 2 or 4."), std::string::npos) << fc;
  std::string zero = user_error([] { validate_tensor_parallel(ModelSpec::mlp({4, 8, 2}), 0); });
  EXPECT_NE(zero.find("--tp 0 must be at least 1"), std::string::npos) << zero;
  // The unpaired last Linear stays whole: 784-4096-4096-10 takes any tp dividing 4096, whatever the classes.
  validate_tensor_parallel(ModelSpec::mlp({784, 4096, 4096, 10}), 4);
  // The layout check applies the same rules before any device starts.
  EngineConfig cfg;
  cfg.grid     = Grid{1, 3, 1};
  cfg.schedule = {pipeline::ScheduleKind::k1F1B, 1, 1, 1};
  EXPECT_EQ(user_error([&] { validate_layout(ModelSpec::gpt(256, 16, 64, 8, 1), cfg, 8); }),
            "--tp 3 does not divide 8 attention heads; use --tp 1, 2, 4 or 8.");
}
