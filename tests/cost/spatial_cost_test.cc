// Domain parallelism's cost terms (cost/spatial.h) against values computed by hand: the halo rows the
// runtime's output-side rule moves (kernels 3, 5, 11; strides 1, 2, 4; uneven splits) beside Gholami et al.
// 2018's ⌊k/2⌋ rows, the α–β time of an exchange, the paper's domain-parallel total for a small AlexNet at
// α = 2 us, 1/β = 6 GB/s, and paraxis's own per-iteration split for a small CNN on the same link.
#include <gtest/gtest.h>

#include "parallel/spatial/halo.h"
#include "paraxis/cost/planner.h"
#include "paraxis/cost/spatial.h"
#include "paraxis/parallel/spatial.h"

namespace paraxis::cost {
namespace {

// The paper's machine: α = 2 us, 1/β = 6 GB/s.
LinkProfile paper_link() {
  LinkProfile l;
  l.name = "paper", l.latency_s = 2e-6, l.bandwidth = 6e9;
  return l;
}

HardwareProfile paper_machine() {
  HardwareProfile hw = hardware_preset("cpu-this-machine");
  hw.intra_node = hw.inter_node = paper_link();
  return hw;
}

ExchangeRows rows(int64_t h_in, int64_t k, int64_t s, int64_t p, int sp, int member) {
  const int64_t h_out = (h_in + 2 * p - k) / s + 1;
  return HaloExchange(h_in, h_out, k, s, p, SpInfo{nullptr, member, sp, {}}, false).forward_rows(member);
}

TEST(SpatialCost, OddKernelsAtStrideOneMoveThePapersFloorHalfKRows) {
  // H 16 on 2 members, pad k/2: member 0 owns output rows [0, 8) and reads input rows [−k/2, 8 + k/2),
  // i.e. ⌊k/2⌋ rows [8, 8 + ⌊k/2⌋) from member 1 and sends it the same count: 1, 2, 5 for k 3, 5, 11.
  for (int64_t k : {3, 5, 11}) {
    const ExchangeRows r = rows(16, k, 1, k / 2, 2, 0);
    EXPECT_EQ(r.received, k / 2) << "k " << k;
    EXPECT_EQ(r.sent, k / 2) << "k " << k;
    EXPECT_EQ(r.sends, 1);
    // bytes for N 8, C 64, W 27: ⌊k/2⌋ · 8 · 64 · 27 · 4 = ⌊k/2⌋ · 55296 (Gholami's B·X_W·X_C·⌊k/2⌋·e)
    EXPECT_DOUBLE_EQ(gholami_halo_bytes(k, 8, 27, 64), static_cast<double>(k / 2) * 55296);
  }
}

TEST(SpatialCost, StrideTwoAndFourHalosAreNotSymmetric) {
  // k 3, s 2, p 1, H 9: OH = (9 + 2 − 3)/2 + 1 = 5; member 0 owns out [0, 2) → in [−1, 4) ⊂ own [0, 4):
  // receives 0; member 1 owns out [2, 5) → in [3, 9), owns [4, 9): receives row 3 (1 row) from member 0.
  EXPECT_EQ(rows(9, 3, 2, 1, 2, 0).received, 0);
  EXPECT_EQ(rows(9, 3, 2, 1, 2, 0).sent, 1);
  EXPECT_EQ(rows(9, 3, 2, 1, 2, 1).received, 1);
  // k 11, s 4, p 2 (AlexNet's conv1), H 63: OH = (63 + 4 − 11)/4 + 1 = 15; member 0 owns out [0, 7) → in
  // [−2, 6·4 − 2 + 11 = 33), owns [0, 31): receives rows 31, 32 (2); member 1 owns out [7, 15) → in
  // [26, 14·4 − 2 + 11 = 65) ∩ [0, 63), owns [31, 63): receives rows 26..30 (5). The paper: ⌊11/2⌋ = 5 each.
  EXPECT_EQ(rows(63, 11, 4, 2, 2, 0).received, 2);
  EXPECT_EQ(rows(63, 11, 4, 2, 2, 1).received, 5);
}

TEST(SpatialCost, UnevenSplitsAndThreeMembers) {
  // H 7 on 2 (own [0, 3), [3, 7)), k 5 p 2: member 0 out [0, 3) → in [0, 5): rows 3, 4 (2); member 1 out
  // [3, 7) → in [1, 7): rows 1, 2 (2).
  EXPECT_EQ(rows(7, 5, 1, 2, 2, 0).received, 2);
  EXPECT_EQ(rows(7, 5, 1, 2, 2, 1).received, 2);
  // H 7 on 3 (own [0, 2), [2, 4), [4, 7)), k 3 p 1: the middle member reads rows 1 and 4, one from each
  // neighbour: 2 rows in 2 messages.
  const ExchangeRows mid = rows(7, 3, 1, 1, 3, 1);
  EXPECT_EQ(mid.received, 2);
  EXPECT_EQ(mid.receives, 2);
}

TEST(SpatialCost, ExchangeTimeIsAlphaPlusBytesOverBandwidth) {
  // One 55,296-byte message each way at α 2 us, 6 GB/s: 2e−6 + 55296/6e9 = 2e−6 + 9.216e−6 = 11.216 us.
  EXPECT_NEAR(exchange_time(55296, 55296, 1, 1, paper_link()), 11.216e-6, 1e-12);
  // Two receives (a middle member) of 1,000 bytes, one send of 500: max(2e−6 + 500/6e9, 4e−6 + 2000/6e9).
  EXPECT_NEAR(exchange_time(500, 2000, 1, 2, paper_link()), 4e-6 + 2000 / 6e9, 1e-15);
}

TEST(SpatialCost, GholamiDomainTotalForASmallAlexNet) {
  // AlexNet's five convolutions at 224 × 224 (X: input channels × width, Y: output), batch B 8 on pd 2, pb 1:
  //   conv1 k11 X 3×224  Y 64×55   |W| = 64·3·121 + 64   = 23,296
  //   conv2 k5  X 64×27  Y 192×27  |W| = 192·64·25 + 192 = 307,392
  //   conv3 k3  X 192×13 Y 384×13  |W| = 384·192·9 + 384 = 663,936
  //   conv4 k3  X 384×13 Y 256×13  |W| = 256·384·9 + 256 = 884,992
  //   conv5 k3  X 256×13 Y 256×13  |W| = 256·256·9 + 256 = 590,080
  // forward halos B·X_W·X_C·⌊k/2⌋·4: 107,520 + 110,592 + 79,872 + 159,744 + 106,496 = 564,224 B
  //   → 5·2e−6 + 564224/6e9 = 1.040373e−4 s
  // backward halos on ΔY: 563,200 + 331,776 + 159,744 + 106,496 + 106,496 = 1,267,712 B
  //   → 5·2e−6 + 1267712/6e9 = 2.212853e−4 s
  // all-reduce over P 2: Σ 2(α·1 + β·½·|W|·4) = 10·2e−6 + 4·2,469,696/6e9 = 2e−5 + 1.646464e−3 = 1.666464e−3 s
  // to the FC side, an all-gather of 256·6·6 = 9216 floats per sample: 2e−6 + ½·8·36864/6e9 = 2.6576e−5 s
  // total 2.0183627e−3 s
  const std::vector<GholamiConv> convs = {{11, 3, 224, 64, 55, 23296 * 4.0},
                                          {5, 64, 27, 192, 27, 307392 * 4.0},
                                          {3, 192, 13, 384, 13, 663936 * 4.0},
                                          {3, 384, 13, 256, 13, 884992 * 4.0},
                                          {3, 256, 13, 256, 13, 590080 * 4.0}};
  const GholamiDomain g                = gholami_domain(convs, 8, 2, 1, 36864, paper_link());
  EXPECT_NEAR(g.halo_forward, 1.040373e-4, 1e-10);
  EXPECT_NEAR(g.halo_backward, 2.212853e-4, 1e-10);
  EXPECT_NEAR(g.allreduce, 1.666464e-3, 1e-9);
  EXPECT_NEAR(g.redistribution, 2.6576e-5, 1e-11);
  EXPECT_NEAR(g.total(), 2.0183627e-3, 1e-9);
}

TEST(SpatialCost, PredictSplitsASmallCnnsCommunicationIntoItsParts) {
  // cnn 4-8-16-10 on 1×28×28, kernel 5 pad 2, micro-batch 8, sp 2, the paper's link. Exchanges (runtime rule):
  //   conv1 reads the whole image; pool1 (2×2 on 28 rows, slabs of 14) crosses no slab edge: nothing;
  //   conv2 (14 rows, slabs 7/7): each member receives 2 rows of 8·4·14·4 = 1,792 B = 3,584 B, sends 3,584;
  //   pool2 (14 → 7, out 3/4): member 1 receives row 6 of 8·8·14·4 = 3,584 B from member 0;
  //   flatten (rows 3/4, samples 4/4): member 0 sends 3·4·(8·7·4) = 2,688 B, receives 4·4·224 = 3,584 B.
  // Each is one message of ≤ 3,584 B: 2e−6 + 3584/6e9 = 2.597333e−6 s, forward and backward:
  //   halos 2 blocks × 2 directions × 2.597333e−6 = 1.0389333e−5 s; layout change 2 × 2.597333e−6 = 5.194667e−6 s
  //   spatial all-reduce of conv1 + conv2 = (4·25 + 4) + (8·4·25 + 8) = 912 floats = 3,648 B over 2:
  //   2·½·3648/6e9 + 2·2e−6 = 4.608e−6 s;  domain total 2.0192e−5 s
  // Bytes the busiest member sends: halos (3,584 + 3,584) × 2 = 14,336; layout 3,584 × 2 = 7,168;
  //   all-reduce 2·½·3648 = 3,648.
  const ModelDesc model = describe_model(ModelSpec::cnn(4, 8, 16, 10));
  Layout l;
  l.sp = 2, l.optimizer = "sgd";
  const PredictedStep p = predict_step(model, l, 8, paper_machine());
  const CommSplit& c    = p.comm_split;
  EXPECT_NEAR(c.halo_s, 1.0389333e-5, 1e-11);
  EXPECT_NEAR(c.layout_s, 5.194667e-6, 1e-11);
  EXPECT_NEAR(c.spatial_allreduce_s, 4.608e-6, 1e-12);
  EXPECT_NEAR(c.domain_s(), 2.0192e-5, 1e-10);
  EXPECT_DOUBLE_EQ(c.halo_bytes, 14336);
  EXPECT_DOUBLE_EQ(c.layout_bytes, 7168);
  EXPECT_DOUBLE_EQ(c.spatial_allreduce_bytes, 3648);
  EXPECT_EQ(c.halo_exchanges, 4);
  EXPECT_EQ(c.layout_changes, 2);
  EXPECT_EQ(c.model_s, 0);
}

TEST(SpatialCost, ModelParallelFcSidePricesTheAllGatherAndTheShardsAllReduces) {
  // The same cnn with --sp-fc model (Gholami's L_M on the FC side), micro-batch 8, sp 2, the paper's link:
  //   halos as above: 1.0389333e−5 s;
  //   flatten: an all-gather of pool2's slabs padded to ⌈7/2⌉ = 4 rows: 8·8·4·7·4 = 7,168 B to the one peer
  //     and 7,168 B from it, forward only (the backward slices): 2e−6 + 7168/6e9 = 3.194667e−6 s;
  //   fc1 (column) all-reduces its input gradient, 8·392·4 = 12,544 B: 2·½·12544/6e9 + 2·2e−6 = 6.090667e−6 s;
  //   fc2 (row) all-reduces its output, 8·10·4 = 320 B: 320/6e9 + 4e−6 = 4.053333e−6 s; model 1.0144e−5 s,
  //     bytes sent 12,544 + 320 = 12,864;
  //   conv gradients (3,648 B) summed over sp: 4.608e−6 s (over dp 1: nothing); FC shards over dp 1: nothing.
  const ModelDesc model = describe_model(ModelSpec::cnn(4, 8, 16, 10));
  Layout l;
  l.sp = 2, l.sp_fc_model = true, l.optimizer = "sgd";
  const CommSplit c = predict_step(model, l, 8, paper_machine()).comm_split;
  EXPECT_NEAR(c.halo_s, 1.0389333e-5, 1e-11);
  EXPECT_NEAR(c.layout_s, 3.194667e-6, 1e-11);
  EXPECT_DOUBLE_EQ(c.layout_bytes, 7168);
  EXPECT_EQ(c.layout_changes, 1);
  EXPECT_NEAR(c.model_s, 1.0144e-5, 1e-11);
  EXPECT_DOUBLE_EQ(c.model_bytes, 12864);
  EXPECT_NEAR(c.spatial_allreduce_s, 4.608e-6, 1e-12);
  EXPECT_EQ(c.batch_s, 0);
  // dp 2 × sp 2 (global batch 16): the conv gradients also over dp (3,648 B more sent), and each member's FC
  // shards — fc1 8×392 + 8, fc2 10×8 + 10 = 3,234 floats = 12,936 B — over dp 2: 12,936 B sent.
  l.dp               = 2;
  const CommSplit c2 = predict_step(model, l, 16, paper_machine()).comm_split;
  EXPECT_DOUBLE_EQ(c2.spatial_allreduce_bytes, 2 * 3648);
  EXPECT_DOUBLE_EQ(c2.batch_bytes, 12936);
  EXPECT_NEAR(c2.batch_s, 12936 / 6e9 + 4e-6, 1e-12);
}

TEST(SpatialCost, PredictedTraceDrawsEveryMembersExchangesInsideItsPasses) {
  // The same layout: each member's F holds conv2's and pool2's halos and flatten's layout change, its B the
  // three back — 4 HALO and 2 LAYOUT events per device, as the runtime records them
  // (tests/parallel/spatial_trace_test.cc).
  Layout l;
  l.sp = 2, l.dp = 2, l.optimizer = "sgd";
  const PredictedStep p = predict_step(describe_model(ModelSpec::cnn(4, 8, 16, 10)), l, 16, paper_machine());
  ASSERT_EQ(p.trace.num_devices(), 4);
  for (int d = 0; d < 4; ++d) {
    int halos = 0, layouts = 0;
    for (const trace::Event& e : p.trace.events[d]) {
      if (e.kind != trace::Kind::kHalo && e.kind != trace::Kind::kLayout) continue;
      ++(e.kind == trace::Kind::kHalo ? halos : layouts);
      EXPECT_EQ(e.track, trace::Track::kCompute);
      EXPECT_GT(e.bytes, 0);
      bool nested = false;
      for (const trace::Event& pass : p.trace.events[d])
        nested |= trace::is_compute(pass.kind) && pass.action == e.action &&
                  pass.t_begin_ns <= e.t_begin_ns && e.t_end_ns <= pass.t_end_ns;
      EXPECT_TRUE(nested) << "device " << d;
    }
    EXPECT_EQ(halos, 4) << "device " << d;
    EXPECT_EQ(layouts, 2) << "device " << d;
    EXPECT_EQ(p.trace.devices[d].sp, d % 2);
  }
}

TEST(SpatialCost, AConvsHaloIsPricedBeyondTheComputeItOverlaps) {
  // conv2 of the Fashion-MNIST CNN on sp2 (14 rows, 7 each, k5 pad 2): a member's window is 2 padding or halo
  // rows + 7 own + 2; 5 of its 7 output rows read no halo row (computed while it arrives), and 7 of its 11
  // window rows are its own (their gradient computed while the halo's travels back).
  for (int rank : {0, 1}) {
    for (const SpatialExchange& x : spatial_exchanges(ModelSpec::cnn(), 2, rank, 8)) {
      const bool conv = x.name == "conv2";
      EXPECT_DOUBLE_EQ(x.forward_overlap, conv ? 5.0 / 7 : 0.0) << x.name;
      EXPECT_DOUBLE_EQ(x.backward_overlap, conv ? 7.0 / 11 : 0.0) << x.name;
    }
  }
  BlockExchange x;
  x.forward_s = 3e-6, x.backward_s = 2e-6, x.forward_overlap = 0.5, x.backward_overlap = 0.25;
  EXPECT_DOUBLE_EQ(x.forward_exposed(4e-6), 1e-6);   // 3 - 0.5 · 4
  EXPECT_DOUBLE_EQ(x.forward_exposed(8e-6), 0.0);    // hidden whole
  EXPECT_DOUBLE_EQ(x.backward_exposed(4e-6), 1e-6);  // 2 - 0.25 · 4
  const SpatialPricing p = spatial_pricing(describe_model(ModelSpec::cnn()), ModelSpec::cnn(), 2, 8,
                                           paper_machine().intra_node, 4);
  for (const BlockExchange& b : p.exchanges)
    EXPECT_DOUBLE_EQ(b.forward_overlap, b.name == "conv2" ? 5.0 / 7 : 0.0) << b.name;
}

TEST(SpatialCost, LayoutsSpCannotRunAreRejectedWithTheRuntimesRules) {
  const ModelDesc cnn = describe_model(ModelSpec::cnn(4, 8, 16, 10));
  EXPECT_NE(
      layout_problem(describe_model(ModelSpec::mlp({8, 4, 2})), Layout{.sp = 2}, 8).find("no convolutional"),
      std::string::npos);
  EXPECT_NE(layout_problem(cnn, Layout{.tp = 2, .sp = 2}, 8).find("is not supported"), std::string::npos);
  EXPECT_NE(layout_problem(cnn, Layout{.sp = 8}, 64).find("rows"), std::string::npos);  // pool2 has 7 rows
  EXPECT_NE(layout_problem(cnn, Layout{.sp = 2}, 7), "");                               // 7 samples
  EXPECT_EQ(layout_problem(cnn, Layout{.sp = 2}, 8), "");
  EXPECT_EQ(layout_problem(cnn, Layout{.dp = 2, .pp = 2, .sp = 2, .microbatches = 2}, 8), "");  // sp x pp
  EXPECT_EQ(layout_problem(cnn, Layout{.sp = 2, .sp_fc_model = true}, 7), "");  // all samples on every member
  EXPECT_NE(layout_problem(cnn, Layout{.sp = 3, .sp_fc_model = true}, 6).find("fc1"), std::string::npos);
}

TEST(SpatialCost, PlannerSearchesSpForACnn) {
  PlanOptions o;
  o.devices = 2, o.global_batch = 8, o.micro_batch_sizes = {8};
  const PlanResult plan = make_plan(describe_model(ModelSpec::cnn(4, 8, 16, 10)), o, paper_machine());
  bool sp2 = false, sp2_fc_model = false;
  for (const PredictedStep& p : plan.ranked) {
    sp2 |= p.layout.sp == 2 && p.layout.dp == 1 && !p.layout.sp_fc_model;
    sp2_fc_model |= p.layout.sp == 2 && p.layout.dp == 1 && p.layout.sp_fc_model;
  }
  EXPECT_TRUE(sp2) << format_plan(plan);
  EXPECT_TRUE(sp2_fc_model) << format_plan(plan);  // the per-layer choice is searched too
  o.devices             = 4;
  const PlanResult four = make_plan(describe_model(ModelSpec::cnn(4, 8, 16, 10)), o, paper_machine());
  bool sp2_pp2          = false;
  for (const PredictedStep& p : four.ranked) sp2_pp2 |= p.layout.sp == 2 && p.layout.pp == 2;
  EXPECT_TRUE(sp2_pp2) << format_plan(four);  // each stage split over the same sp devices
}

}  // namespace
}  // namespace paraxis::cost
