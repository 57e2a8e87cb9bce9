// Cost formulas against hand-computed values; block costs equal the layers' own; the symbolic GPT agrees with
// Layer::cost on a small GPT; hardware profiles round-trip and reject bad input.
#include <gtest/gtest.h>

#include "paraxis/core/error.h"
#include "paraxis/cost/cost.h"
#include "paraxis/cost/hardware.h"
#include "paraxis/cost/planner.h"
#include "paraxis/nn/model.h"
#include "test_support/paths.h"
#include "test_support/user_error.h"

namespace paraxis::cost {
namespace {

LinkProfile link(double alpha, double bandwidth) {
  LinkProfile l;
  l.name      = "test";
  l.latency_s = alpha;
  l.bandwidth = bandwidth;
  return l;
}

TEST(Collectives, RingAndTreeByHand) {
  const LinkProfile l = link(1e-5, 1e9);
  // ring: 2(n−1)/n · S/β + 2(n−1)α = 1.5 · 1e-3 + 6 · 1e-5
  EXPECT_DOUBLE_EQ(allreduce_time(1e6, 4, l), 1.5e-3 + 6e-5);
  // tree: 2⌈log2 4⌉(α + S/β) = 4 · (1e-5 + 1e-3)
  EXPECT_DOUBLE_EQ(allreduce_time(1e6, 4, l, CollectiveAlgo::kTree), 4 * (1e-5 + 1e-3));
  EXPECT_DOUBLE_EQ(allreduce_time(1e6, 5, l, CollectiveAlgo::kTree), 6 * (1e-5 + 1e-3));  // ⌈log2 5⌉ = 3
  EXPECT_DOUBLE_EQ(reduce_scatter_time(1e6, 4, l), 0.75e-3 + 3e-5);
  EXPECT_DOUBLE_EQ(all_gather_time(1e6, 4, l), 0.75e-3 + 3e-5);
  EXPECT_DOUBLE_EQ(p2p_time(1e6, l), 1e-5 + 1e-3);
  EXPECT_DOUBLE_EQ(allreduce_time(1e6, 1, l), 0.0);
  EXPECT_DOUBLE_EQ(allreduce_bytes_sent(1e6, 4), 1.5e6);
  // busbw (nccl-tests): algbw · 2(n−1)/n equals β when latency is free.
  const LinkProfile free = link(0, 1e9);
  const double algbw     = 1e6 / allreduce_time(1e6, 8, free);
  EXPECT_NEAR(algbw * 2 * 7 / 8, 1e9, 1e-3);
}

TEST(Collectives, GholamiIntegratedByHand) {
  // widths 4-3-2, batch 8, Pr 2 × Pc 2, α 1 s, β 1 s/byte, 1-byte elements:
  //   model-parallel 3(1 + 4·½·3) + 3(1 + 4·½·2) = 21 + 15 = 36
  //   batch-parallel 2(1 + ½·12/2) + 2(1 + ½·6/2) = 8 + 5 = 13
  GholamiCost g = gholami_integrated({4, 3, 2}, 8, 2, 2, link(1, 1), 1);
  EXPECT_DOUBLE_EQ(g.model_parallel, 36);
  EXPECT_DOUBLE_EQ(g.batch_parallel, 13);
  EXPECT_DOUBLE_EQ(g.total, 49);
  // Pure batch parallelism (Pc 1): no model-parallel term; pure model parallelism: no batch term.
  EXPECT_DOUBLE_EQ(gholami_integrated({4, 3, 2}, 8, 4, 1, link(1, 1), 1).model_parallel, 0);
  EXPECT_DOUBLE_EQ(gholami_integrated({4, 3, 2}, 8, 1, 4, link(1, 1), 1).batch_parallel, 0);
  EXPECT_THROW(gholami_integrated({4}, 8, 1, 1, link(1, 1), 1), Error);
}

TEST(BlockCosts, EqualTheLayersOwnAtAnyBatch) {
  ModelSpec spec = ModelSpec::mlp({784, 256, 10});
  ModelDesc d    = describe_model(spec);
  auto model     = build_model(spec);
  ASSERT_EQ(d.blocks.size(), model->blocks.size());
  for (int64_t b : {1, 7, 32}) {
    Shape s = model->input_shape(b);
    for (size_t i = 0; i < d.blocks.size(); ++i) {
      Cost want = model->blocks[i]->cost(s);
      Cost got  = d.blocks[i].at_batch(static_cast<double>(b));
      EXPECT_DOUBLE_EQ(got.fwd_flops, want.fwd_flops) << d.blocks[i].name << " b " << b;
      EXPECT_DOUBLE_EQ(got.bwd_input_flops, want.bwd_input_flops);
      EXPECT_DOUBLE_EQ(got.bwd_weight_flops, want.bwd_weight_flops);
      EXPECT_DOUBLE_EQ(got.fwd_bytes, want.fwd_bytes);
      // fc2 stores relu1's output, which relu1 already stores: counted once.
      const bool shared = i > 0 && d.blocks[i - 1].kind == "relu";
      EXPECT_EQ(got.activation_bytes, want.activation_bytes - (shared ? 4 * shape_numel(s) : 0));
      EXPECT_EQ(got.param_bytes, want.param_bytes);
      s = model->blocks[i]->output_shape(s);
    }
  }
  EXPECT_EQ(d.num_params(), model->num_params());
  // Megatron pairing: fc1 column-parallel (all-reduce backward), fc2 row-parallel (all-reduce forward).
  EXPECT_TRUE(d.blocks[0].tp_split);
  EXPECT_EQ(d.blocks[0].tp_allreduce_bwd, 1);
  EXPECT_TRUE(d.blocks[1].tp_split);  // relu on the column shard
  EXPECT_EQ(d.blocks[2].tp_allreduce_fwd, 1);
}

TEST(BlockCosts, SymbolicGptAgreesWithLayerCost) {
  // A small GPT built from layers vs the analytic description of the same sizes.
  ModelSpec spec  = ModelSpec::gpt(/*vocab=*/256, /*context=*/64, /*width=*/256, /*heads=*/4, /*layers=*/2);
  ModelDesc built = describe_model(spec);
  ModelDesc sym   = gpt_symbolic({.layers = 2, .hidden = 256, .heads = 4, .seq = 64, .vocab = 256});
  ASSERT_EQ(built.blocks.size(), sym.blocks.size());
  EXPECT_EQ(built.num_params(), sym.num_params());
  for (size_t i = 0; i < built.blocks.size(); ++i) {
    const Cost a = built.blocks[i].at_batch(8), b = sym.blocks[i].at_batch(8);
    EXPECT_EQ(built.blocks[i].params, sym.blocks[i].params) << built.blocks[i].name;
    EXPECT_NEAR(b.fwd_flops / a.fwd_flops, 1.0, 0.03) << built.blocks[i].name;
    const double bwd_a = a.bwd_input_flops + a.bwd_weight_flops,
                 bwd_b = b.bwd_input_flops + b.bwd_weight_flops;
    if (bwd_a > 0) EXPECT_NEAR(bwd_b / bwd_a, 1.0, 0.05) << built.blocks[i].name;
  }
  // 175B: the parameter count of GPT-3 (Brown et al. 2020) to within 1%.
  ModelDesc big = gpt_symbolic(parse_gpt_size("gpt-175b"));
  EXPECT_NEAR(static_cast<double>(big.num_params()) / 175e9, 1.0, 0.01);
  EXPECT_THROW(parse_gpt_size("gpt-9t"), Error);
  EXPECT_THROW(parse_gpt_size("gpt:1,2,3"), Error);
  EXPECT_EQ(parse_gpt_size("gpt:2,64,4,16,100").hidden, 64);
}

TEST(PassTime, RooflineAndOverhead) {
  HardwareProfile hw;
  hw.peak_flops        = 1e12;
  hw.memory_bandwidth  = 1e11;
  hw.kernel_overhead_s = 1e-6;
  hw.bytes_per_element = 4;
  // compute-bound matmul: 1e9 flops at 1e12 = 1 ms (+ 1 us); memory-bound elementwise: 1e8 B / 1e11 = 1 ms.
  EXPECT_DOUBLE_EQ(pass_time(1e9, 1e6, 1, hw), 1e-3 + 1e-6);
  EXPECT_DOUBLE_EQ(pass_time(1e6, 1e8, 0, hw), 1e-3 + 1e-6);
  hw.bytes_per_element = 2;  // bf16 halves the traffic
  EXPECT_DOUBLE_EQ(pass_time(1e6, 1e8, 0, hw), 0.5e-3 + 1e-6);
  EXPECT_DOUBLE_EQ(pass_time(0, 0, 1, hw), 0.0);
}

TEST(PassTime, SkinnyCallsRunAtTheirRowRate) {
  HardwareProfile hw;
  hw.peak_flops       = 1e12;
  hw.memory_bandwidth = 1e11;
  // [rows, forward, input grad, weight grad] FLOP/s
  hw.row_rates            = {{16, 1e11, 5e10, 2.5e10}, {64, 4e11, 2e11, 1e11}};
  hw.row_rates_concurrent = {{16, 5e10, 2.5e10, 1.25e10}, {64, 2e11, 1e11, 5e10}};
  // 32 rows: halfway in log(rows) between 16 and 64; 1e9 flops at 2.5e11 = 4 ms.
  EXPECT_DOUBLE_EQ(pass_time(1e9, 0, 1, hw, 1, 1, PassKind::kForward, 32), 4e-3);
  EXPECT_DOUBLE_EQ(pass_time(1e9, 0, 1, hw, 1, 1, PassKind::kBackwardInput, 32), 8e-3);
  EXPECT_DOUBLE_EQ(pass_time(1e9, 0, 1, hw, 1, 1, PassKind::kBackwardWeight, 16), 40e-3);
  EXPECT_DOUBLE_EQ(pass_time(1e9, 0, 1, hw, 1, 2, PassKind::kBackwardWeight, 16), 80e-3);  // concurrent
  // Many rows: clamped to the last point (4e11); rows unknown: the rate by size (here the peak).
  EXPECT_DOUBLE_EQ(pass_time(1e9, 0, 1, hw, 1, 1, PassKind::kForward, 4096), 2.5e-3);
  EXPECT_DOUBLE_EQ(pass_time(1e9, 0, 1, hw, 1, 1, PassKind::kForward, 0), 1e-3);  // rows unknown: peak
  // Memory: the concurrent bandwidth when every device streams at once.
  hw.memory_bandwidth_concurrent = 5e10;
  EXPECT_DOUBLE_EQ(pass_time(1e6, 1e8, 0, hw, 1, 1), 1e-3);
  EXPECT_DOUBLE_EQ(pass_time(1e6, 1e8, 0, hw, 1, 2), 2e-3);
}

TEST(PassTime, AMeasuredLayerShapeComesFirst) {
  HardwareProfile hw;
  hw.peak_flops       = 1e12;
  hw.memory_bandwidth = 1e11;
  hw.row_rates        = {{32, 4e11, 4e11, 4e11}};
  ShapeRatePoint a{32, 3584, 4096, {32, 1e11, 2e10, 5e10}, {32, 5e10, 1e10, 2.5e10}};
  ShapeRatePoint b{128, 3584, 4096, {128, 4e11, 8e10, 2e11}, {}};  // together not measured
  hw.shape_rates = {a, b};
  hw.intra_node = hw.inter_node = link_preset("threads");  // for the JSON round trip
  // This shape at 32 rows: its own rates (input grad 2e10: 1e9 flops take 50 ms), together the concurrent.
  EXPECT_DOUBLE_EQ(pass_time(1e9, 0, 1, hw, 1, 1, PassKind::kBackwardInput, 32, 3584, 4096), 50e-3);
  EXPECT_DOUBLE_EQ(pass_time(1e9, 0, 1, hw, 1, 2, PassKind::kBackwardInput, 32, 3584, 4096), 100e-3);
  // 64 rows: halfway in log(rows) between 32 and 128: forward (1e11 + 4e11) / 2.
  EXPECT_DOUBLE_EQ(pass_time(1e9, 0, 1, hw, 1, 1, PassKind::kForward, 64, 3584, 4096), 1e9 / 2.5e11);
  // 128 rows together: not measured there, so the rate alone.
  EXPECT_DOUBLE_EQ(pass_time(1e9, 0, 1, hw, 1, 2, PassKind::kBackwardWeight, 128, 3584, 4096), 5e-3);
  // Another shape: the row table (4e11), then (rows unknown) the peak.
  EXPECT_DOUBLE_EQ(pass_time(1e9, 0, 1, hw, 1, 1, PassKind::kForward, 32, 4096, 4096), 2.5e-3);
  EXPECT_DOUBLE_EQ(pass_time(1e9, 0, 1, hw, 1, 1, PassKind::kForward, 0, 3584, 4096), 1e-3);
  EXPECT_DOUBLE_EQ(hardware_from_json(to_json(hw)).shape_rate(PassKind::kBackwardInput, 32, 3584, 4096, true),
                   1e10);
}

// Sharing the memory system never speeds a core up: a calibrated "together" rate or bandwidth above the one
// alone (timing noise) is replaced by the one alone.
TEST(PassTime, TogetherIsNeverFasterThanAlone) {
  HardwareProfile hw;
  hw.peak_flops           = 1e12;
  hw.memory_bandwidth     = 1e11;
  hw.row_rates            = {{32, 1e11, 1e11, 1e11}};
  hw.row_rates_concurrent = {{32, 2e11, 5e10, 1e11}};  // forward "faster" together: noise
  ShapeRatePoint a{32, 784, 3584, {32, 1e11, 1e11, 1e11}, {32, 1.4e11, 5e10, 1e11}};
  hw.shape_rates = {a};
  EXPECT_DOUBLE_EQ(hw.shape_rate(PassKind::kForward, 32, 784, 3584, true), 1e11);        // min(1.4e11, 1e11)
  EXPECT_DOUBLE_EQ(hw.shape_rate(PassKind::kBackwardInput, 32, 784, 3584, true), 5e10);  // together slower
  EXPECT_DOUBLE_EQ(hw.row_rate(PassKind::kForward, 32, true), 1e11);                     // min(2e11, 1e11)
  EXPECT_DOUBLE_EQ(hw.row_rate(PassKind::kBackwardInput, 32, true), 5e10);
  hw.memory_bandwidth_concurrent = 2e11;
  EXPECT_DOUBLE_EQ(hw.bandwidth(true), 1e11);
  hw.memory_bandwidth_concurrent = 4e10;
  EXPECT_DOUBLE_EQ(hw.bandwidth(true), 4e10);
}

TEST(BlockCosts, LinearsKnowTheirShapeAndRows) {
  ModelDesc d = describe_model(ModelSpec::mlp({784, 3584, 4096, 10}));
  EXPECT_EQ(d.blocks[0].gemm_in, 784);
  EXPECT_EQ(d.blocks[0].gemm_out, 3584);
  EXPECT_DOUBLE_EQ(d.blocks[0].rows_per_sample, 1.0);
  EXPECT_EQ(d.blocks[0].param_sizes, (std::vector<int64_t>{3584 * 784, 3584}));
  EXPECT_EQ(d.blocks[1].gemm_in, 0);  // relu
  EXPECT_DOUBLE_EQ(gpt_symbolic(parse_gpt_size("gpt-1.3b")).blocks[1].rows_per_sample, 2048.0);
}

TEST(Collectives, TwoDevicesUseTheMeasuredAllReduce) {
  LinkProfile link  = link_preset("threads");
  const double ring = allreduce_time(1e7, 2, link);
  EXPECT_DOUBLE_EQ(ring, 1e7 / link.bandwidth + 2 * link.latency_s);
  link.allreduce_measured = {{1e6, 1e-4}, {1e8, 1e-2}};
  EXPECT_NEAR(allreduce_time(1e7, 2, link), 1e-3, 1e-15);  // log-log halfway
  EXPECT_DOUBLE_EQ(allreduce_time(2e8, 2, link), 2e-2);    // the last point's bandwidth beyond the table
  EXPECT_DOUBLE_EQ(allreduce_time(1e3, 2, link), 1e-4);    // clamped below
  EXPECT_DOUBLE_EQ(allreduce_time(1e7, 4, link), 1.5 * 1e7 / link.bandwidth + 6 * link.latency_s);  // ring
}

TEST(Hardware, CalibratedContentionFiguresRoundTrip) {
  HardwareProfile hw                = hardware_preset("cpu-this-machine");
  hw.row_rates                      = {{16, 1e10, 2e10, 3e10}, {32, 4e10, 5e10, 6e10}};
  hw.row_rates_concurrent           = {{16, 1e9, 2e9, 3e9}};
  hw.memory_bandwidth_concurrent    = 7e9;
  hw.intra_node.shares_compute_core = true;
  hw.intra_node.allreduce_measured  = {{1e6, 2e-4}, {1e3, 1e-5}};  // sorted on reading
  HardwareProfile back              = hardware_from_json(to_json(hw));
  ASSERT_EQ(back.row_rates.size(), 2u);
  EXPECT_DOUBLE_EQ(back.row_rates[1].backward_weight, 6e10);
  EXPECT_DOUBLE_EQ(back.row_rate(PassKind::kBackwardInput, 16, true), 2e9);
  EXPECT_DOUBLE_EQ(back.row_rate(PassKind::kBackwardInput, 16, false), 2e10);
  EXPECT_DOUBLE_EQ(back.bandwidth(true), 7e9);
  EXPECT_DOUBLE_EQ(back.bandwidth(false), hw.memory_bandwidth);
  EXPECT_TRUE(back.intra_node.shares_compute_core);
  EXPECT_DOUBLE_EQ(back.intra_node.allreduce_measured.front().bytes, 1e3);
  nlohmann::json bad = to_json(hw);
  bad["row_rates"]   = {{16, 0, 1, 1}};
  EXPECT_THROW(hardware_from_json(bad), Error);
}

// Shape rates in turns: written as 12 numbers, read back, 9-number entries (older profiles) still load, and a
// multi-device layout's devices that compute while the others wait use them: placement slows by exactly the
// ratio of the rates, one device does not.
TEST(Hardware, TurnRatesRoundTripAndPricePlacementsIdleHandOffs) {
  const ModelSpec spec = ModelSpec::mlp({64, 96, 96, 10});
  HardwareProfile hw   = hardware_preset("cpu-this-machine");
  hw.kernel_overhead_s = 0;
  for (auto [in, out] : std::vector<std::pair<double, double>>{{64, 96}, {96, 96}, {96, 10}})
    hw.shape_rates.push_back({16, in, out, {16, 4e10, 4e10, 4e10}, {16, 3e10, 3e10, 3e10}, {}});
  EXPECT_FALSE(hw.has_turn_rates());
  Layout one, placement;
  placement.pp = 2, placement.schedule = pipeline::ScheduleKind::kGPipe;
  const double one_s       = predict_step(spec, one, 16, hw).step_s,
               placement_s = predict_step(spec, placement, 16, hw).step_s;

  HardwareProfile turns = hw;
  for (ShapeRatePoint& p : turns.shape_rates) p.turns = {16, 2e10, 2e10, 2e10};  // half the rate alone
  EXPECT_TRUE(turns.has_turn_rates());
  EXPECT_DOUBLE_EQ(turns.turn_rates_as_alone().shape_rate(PassKind::kForward, 16, 96, 96, false), 2e10);
  EXPECT_DOUBLE_EQ(predict_step(spec, one, 16, turns).step_s, one_s);
  const PredictedStep slow = predict_step(spec, placement, 16, turns);
  EXPECT_GT(slow.step_s, placement_s);

  const nlohmann::json j     = to_json(turns);
  const HardwareProfile back = hardware_from_json(j);
  ASSERT_EQ(back.shape_rates.size(), 3u);
  EXPECT_DOUBLE_EQ(back.shape_rates[1].turns.backward_input, 2e10);
  EXPECT_DOUBLE_EQ(predict_step(spec, placement, 16, back).step_s, slow.step_s);
  EXPECT_EQ(to_json(hw)["shape_rates"][0].size(), 9u);  // no turn rates: the older 9-number form
  EXPECT_FALSE(hardware_from_json(to_json(hw)).has_turn_rates());
  nlohmann::json bad    = j;
  bad["shape_rates"][0] = {16, 64, 96, 1, 1, 1, 0, 0, 0, 1};
  EXPECT_THROW(hardware_from_json(bad), Error);
  bad["shape_rates"][0] = {16, 64, 96, 1, 1, 1, 0, 0, 0, -1, 1, 1};
  EXPECT_THROW(hardware_from_json(bad), Error);
}

TEST(Hardware, RateTableInterpolatesInLogSize) {
  HardwareProfile hw;
  hw.peak_flops   = 100;
  hw.matmul_rates = {{1e3, 10}, {1e5, 30}};
  EXPECT_DOUBLE_EQ(hw.matmul_rate(1e2), 10);  // clamped
  EXPECT_DOUBLE_EQ(hw.matmul_rate(1e4), 20);  // halfway in log size
  EXPECT_DOUBLE_EQ(hw.matmul_rate(1e9), 30);
}

TEST(Hardware, PresetsCiteTheirSourceAndRoundTrip) {
  for (const std::string& name : hardware_preset_names()) {
    HardwareProfile hw = hardware_preset(name);
    EXPECT_FALSE(hw.source.empty()) << name;
    EXPECT_GT(hw.peak_flops, 0) << name;
    EXPECT_GT(hw.memory_bytes, 0) << name;
    HardwareProfile back = hardware_from_json(to_json(hw));
    EXPECT_EQ(back.name, hw.name);
    EXPECT_DOUBLE_EQ(back.peak_flops, hw.peak_flops);
    EXPECT_DOUBLE_EQ(back.inter_node.bandwidth, hw.inter_node.bandwidth);
    EXPECT_EQ(back.matmul_rates.size(), hw.matmul_rates.size());
  }
  EXPECT_NE(hardware_preset("h100-sxm").source.find("datasheet"), std::string::npos);
  EXPECT_DOUBLE_EQ(hardware_preset("h200").memory_bandwidth, 4.8e12);
  EXPECT_DOUBLE_EQ(link_preset("ib-ndr").bandwidth, 50e9);
  for (const std::string& name : link_preset_names()) EXPECT_FALSE(link_preset(name).source.empty());
}

TEST(Hardware, BadInputIsAUserError) {
  using ::paraxis::testing::expect_user_error;
  expect_user_error([] { hardware_preset("tpu-v9"); }, "h100-sxm");
  expect_user_error([] { load_hardware("/nonexistent/machine.json"); }, "paraxis calibrate");
  expect_user_error([] { hardware_from_json(nlohmann::json{{"peak_flops", 1}}); }, "memory_bandwidth");
  expect_user_error(
      [] {
        hardware_from_json(nlohmann::json{{"peak_flops", -1}, {"memory_bandwidth", 1}, {"intra_node", {}}});
      },
      "must be positive");
}

// Checked in from the fuzz harness (tests/fuzz/regressions/hardware): a count of 1e300 was converted to int
// with an undefined result.
TEST(Hardware, CountsMustBeWholeInts) {
  using ::paraxis::testing::expect_user_error;
  const std::string dir = paraxis::testing::source_dir() + "/tests/fuzz/regressions/hardware/";
  expect_user_error([&] { load_hardware(dir + "devices-per-node-1e300.json"); },
                    {"devices_per_node = 1e+300", "whole number"});
  expect_user_error([&] { load_hardware(dir + "gemm-tile-1e300.json"); },
                    {"tile rows = 1e+300", "whole number"});
  expect_user_error(
      [] {
        hardware_from_json(nlohmann::json{{"bytes_per_element", 2.5}});
      },
      {"bytes_per_element = 2.5", "whole number"});
}

}  // namespace
}  // namespace paraxis::cost
