// Helpers for the layout-equivalence tests: train a layout on the threads backend on deterministic data and
// gather every step's loss and the final parameters by name.
#pragma once

#include <gtest/gtest.h>

#include <map>
#include <mutex>
#include <set>
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
  // Whole (replicated) parameters that differ between the devices holding them (dp or tp replicas): must
  // stay empty.
  std::vector<std::string> replica_mismatch;
  int64_t peak_stash_bytes = 0;  // the most any device held for its backward in any step (measured)
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
  Shape xs        = spec.has_images() ? Shape{batch, spec.image[0], spec.image[1], spec.image[2]}
                                      : Shape{batch, spec.mlp_sizes.front()};
  int64_t classes = spec.has_images() ? spec.classes : spec.mlp_sizes.back();
  x               = Tensor::empty(xs);
  rng_fill_uniform(x, 0, 1, r);
  y = Tensor::empty({batch}, DType::kI32);
  for (int64_t i = 0; i < batch; ++i) y.data_i32()[i] = static_cast<int32_t>(r.u32(1u << 30 | i) % classes);
}

inline RunResult train_layout(const ModelSpec& spec, const EngineConfig& cfg, int steps, int64_t batch) {
  RunResult out;
  std::set<std::string> seen;
  std::mutex mu;
  DeviceOptions opt;
  opt.comm_timeout_s = 60;
  run_devices(cfg.grid.size(), opt, [&](Communicator& world) {
    Engine engine(spec, cfg, world);
    std::vector<double> losses;
    for (int s = 0; s < steps; ++s) {
      Tensor x, y;
      make_batch(spec, batch, s, x, y);
      const StepStats st = engine.step(x, y, 0.05);
      losses.push_back(st.loss);
      std::lock_guard<std::mutex> lock(mu);
      out.peak_stash_bytes = std::max(out.peak_stash_bytes, st.peak_stash_bytes);
    }
    std::lock_guard<std::mutex> lock(mu);
    if (world.rank() == 0) out.losses = losses;
    for (Param* p : engine.params()) {
      auto& full          = out.params[p->name];
      out.shapes[p->name] = p->full_shape;
      full.resize(shape_numel(p->full_shape));
      if (p->shard_dim < 0) {
        if (seen.count(p->name) && !std::equal(full.begin(), full.end(), p->value.data()))
          out.replica_mismatch.push_back(p->name);
        seen.insert(p->name);
        std::copy(p->value.data(), p->value.data() + p->value.numel(), full.begin());
        continue;
      }
      // Write the shard into its slice of the full tensor (GPT qkv: one slice in each of q, k and v).
      Tensor t = Tensor::empty(p->full_shape);
      std::copy(full.begin(), full.end(), t.data());
      copy_shard_to_full(*p, t, p->value);
      std::copy(t.data(), t.data() + t.numel(), full.begin());
    }
  });
  return out;
}

inline void expect_same_run(const RunResult& ref, const RunResult& got, double rtol = 1e-5,
                            double atol = 4e-5) {
  EXPECT_TRUE(got.replica_mismatch.empty())
      << "replicas differ, e.g. " << (got.replica_mismatch.empty() ? "" : got.replica_mismatch[0]);
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
