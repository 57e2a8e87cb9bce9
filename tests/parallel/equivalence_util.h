// Helpers for the layout-equivalence tests: train a layout on the threads backend on deterministic data and
// gather every step's loss and the final parameters by name.
#pragma once

#include <gtest/gtest.h>

#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "paraxis/comm/launch.h"
#include "paraxis/core/rng.h"
#include "paraxis/parallel/engine.h"

namespace paraxis::testing_util {

struct RunResult {
  std::vector<double> losses;
  // name -> (full shape, values of the full tensor; shards write their slice)
  std::map<std::string, std::vector<float>> params;
  std::map<std::string, Shape> shapes;
};

// A global batch for step `step`: x from Philox, y labels in [0, classes).
inline void make_batch(const ModelSpec& spec, int64_t batch, int step, Tensor& x, Tensor& y) {
  Philox r(1234, 77 + step);
  if (spec.kind == "gpt") {
    x = Tensor::empty({batch, spec.context}, DType::kI32);
    y = Tensor::empty({batch, spec.context}, DType::kI32);
    for (int64_t i = 0; i < x.numel(); ++i) {
      x.data_i32()[i] = static_cast<int32_t>(r.u32(2 * i) % spec.vocab);
      y.data_i32()[i] = static_cast<int32_t>(r.u32(2 * i + 1) % spec.vocab);
    }
    return;
  }
  Shape xs        = spec.kind == "cnn" ? Shape{batch, 1, 28, 28} : Shape{batch, spec.mlp_sizes.front()};
  int64_t classes = spec.kind == "cnn" ? spec.classes : spec.mlp_sizes.back();
  x               = Tensor::empty(xs);
  rng_fill_uniform(x, 0, 1, r);
  y = Tensor::empty({batch}, DType::kI32);
  for (int64_t i = 0; i < batch; ++i) y.data_i32()[i] = static_cast<int32_t>(r.u32(1u << 30 | i) % classes);
}

inline RunResult train_layout(const ModelSpec& spec, const EngineConfig& cfg, int steps, int64_t batch) {
  RunResult out;
  std::mutex mu;
  DeviceOptions opt;
  opt.comm_timeout_s = 60;
  run_devices(cfg.grid.size(), opt, [&](Communicator& world) {
    Engine engine(spec, cfg, world);
    std::vector<double> losses;
    for (int s = 0; s < steps; ++s) {
      Tensor x, y;
      make_batch(spec, batch, s, x, y);
      losses.push_back(engine.step(x, y, 0.05).loss);
    }
    std::lock_guard<std::mutex> lock(mu);
    if (world.rank() == 0) out.losses = losses;
    for (Param* p : engine.params()) {
      auto& full          = out.params[p->name];
      out.shapes[p->name] = p->full_shape;
      full.resize(shape_numel(p->full_shape));
      if (p->shard_dim < 0) {
        std::copy(p->value.data(), p->value.data() + p->value.numel(), full.begin());
        continue;
      }
      // Write the shard into its slice of the full tensor.
      const Shape& fs = p->full_shape;
      int64_t outer = 1, inner = 1;
      for (int i = 0; i < p->shard_dim; ++i) outer *= fs[i];
      for (size_t i = p->shard_dim + 1; i < fs.size(); ++i) inner *= fs[i];
      int64_t ld = p->value.dim(p->shard_dim), fd = fs[p->shard_dim];
      const float* v = p->value.data();
      for (int64_t o = 0; o < outer; ++o)
        for (int64_t d = 0; d < ld; ++d)
          for (int64_t i = 0; i < inner; ++i)
            full[(o * fd + p->shard_begin + d) * inner + i] = v[(o * ld + d) * inner + i];
    }
  });
  return out;
}

inline void expect_same_run(const RunResult& ref, const RunResult& got, double rtol = 1e-5,
                            double atol = 4e-5) {
  ASSERT_EQ(ref.losses.size(), got.losses.size());
  for (size_t s = 0; s < ref.losses.size(); ++s)
    EXPECT_NEAR(got.losses[s], ref.losses[s], atol + rtol * std::abs(ref.losses[s])) << "loss of step " << s;
  ASSERT_EQ(ref.params.size(), got.params.size()) << "different parameter sets";
  for (auto& [name, want] : ref.params) {
    auto it = got.params.find(name);
    ASSERT_NE(it, got.params.end()) << name << " missing";
    ASSERT_EQ(it->second.size(), want.size()) << name;
    int bad = 0;
    for (size_t i = 0; i < want.size() && bad < 3; ++i)
      if (std::abs(it->second[i] - want[i]) > atol + rtol * std::abs(want[i])) {
        ++bad;
        ADD_FAILURE() << name << "[" << i << "] = " << it->second[i] << ", one device: " << want[i];
      }
  }
}

}  // namespace paraxis::testing_util
