// paraxis/cost/spatial.h — what domain (spatial) parallelism costs (`--sp`, docs/domain-parallelism.md):
// each conv/pool block's halo exchange (forward: input rows; backward: their gradients back), the layout
// change from spatial to batch at flatten (and back), the gradient all-reduce over sp × dp; and Gholami et
// al. 2018's formulas for the same terms (docs/cost-model.md, "Domain parallelism").
//
//   SpatialPricing s = spatial_pricing(ModelSpec::cnn(...), /*sp=*/2, /*micro_batch=*/32, hw, link);
//   s.model;                 // the busiest member's blocks: its rows of H, then its share of the samples
//   s.exchanges[0].forward;  // seconds of the first exchange's forward on the slowest member
//   GholamiDomain g = gholami_domain(convs, /*batch=*/256, /*pd=*/2, /*pb=*/1, 0, link);
//
// The exchanges are read from the runtime's own layers (parallel::spatial_exchanges: the rows each member
// sends and receives), so the cost model keeps no copy of the halo rule.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "paraxis/cost/cost.h"
#include "paraxis/cost/hardware.h"
#include "paraxis/cost/planner.h"
#include "paraxis/parallel/spatial.h"

namespace paraxis::cost {

// ---- Gholami et al. 2018 (SPAA, arXiv 1712.04432), §3: the α–β terms as the paper writes them; β is
// seconds per byte (1 / bandwidth), e bytes per element, B the samples a group of devices computes.
// Eq. 3, one layer's gradient all-reduce over P devices: 2(α⌈log2 P⌉ + β (P−1)/P |W|).
double gholami_allreduce(double weight_bytes, int p, const LinkProfile& link);
// A conv layer's halo with kernel height k: ⌊k/2⌋ rows of B·X_W·X_C elements to each neighbour.
double gholami_halo_bytes(int64_t k, int64_t batch, int64_t width, int64_t channels, int e = 4);
// One conv layer under domain parallelism: its input X (channels, width), its output Y, kernel k, |W| bytes.
struct GholamiConv {
  int64_t k = 3, x_channels = 1, x_width = 1, y_channels = 1, y_width = 1;
  double weight_bytes = 0;
};
// Domain parallelism over pd devices inside each of pb batch groups (B/pb samples each), per iteration:
// forward Σ(α + β·halo(X)), backward Σ(α + β·halo(ΔY)), the weight-gradient all-reduce Σ 2(α⌈log2 P⌉ +
// β(P−1)/P|W|) over P = pd·pb, and the change of layout to the fully connected side, an all-gather of the
// last activation (|X| bytes per sample) over pd: α⌈log2 pd⌉ + β (pd−1)/pd · B/pb · |X|.
struct GholamiDomain {
  double halo_forward = 0, halo_backward = 0, allreduce = 0, redistribution = 0;
  double total() const { return halo_forward + halo_backward + allreduce + redistribution; }
};
GholamiDomain gholami_domain(const std::vector<GholamiConv>& convs, int64_t batch, int pd, int pb,
                             double transition_bytes_per_sample, const LinkProfile& link, int e = 4);

// Why sp cannot run this model and layout, or "" (the runtime's rules: a model built from layers with a conv
// side, sp with dp and pp but not tp, every split height at least sp, sp dividing the micro-batch).
std::string spatial_layout_problem(const ModelDesc& model, int sp, int tp, int pp, int64_t micro_batch,
                                   SpFc fc = SpFc::kBatch);

// ---- paraxis's exchanges, priced as the runtime makes them.
// One exchange of one member (each of its sends posted at once, its receives in turn, full duplex):
// max(sends·α + sent/β, receives·α + received/β), the bytes scaled to the profile's element size.
double exchange_time(int64_t bytes_sent, int64_t bytes_received, int sends, int receives,
                     const LinkProfile& link, int bytes_per_element = 4);

// One block's exchange on the slowest member of the spatial group (every member waits for it).
struct BlockExchange {
  int block = 0;
  std::string name;
  bool layout_change = false;
  // --sp-fc model: a column-parallel Linear's input-gradient all-reduce (backward only) or a row-parallel
  // one's output all-reduce (forward only) over sp, priced as tp's (allreduce_time); model communication.
  bool fc_collective = false;
  bool backward      = true;  // the backward exchanges too (not the first block: it has no input pass)
  double forward_s = 0, backward_s = 0;
  int64_t forward_bytes = 0, backward_bytes = 0;  // sent + received, the busiest member
  int64_t sent_bytes = 0;                         // sent in one direction, the busiest member
  // A convolution's halo runs beside part of its pass (SpatialExchange::forward_overlap): the least share
  // over the members; only the exchange time beyond that compute lengthens the pass.
  double forward_overlap = 0, backward_overlap = 0;
  double forward_exposed(double block_forward_s) const;
  double backward_exposed(double block_input_s) const;
};

struct SpatialPricing {
  ModelDesc model;                       // the busiest member's blocks (the most flops)
  int member = 0;                        // which member that is
  std::vector<BlockExchange> exchanges;  // block order
  int64_t conv_params     = 0;           // parameters before the layout change (the spatial all-reduce)
  SpFc fc                 = SpFc::kBatch;
  int64_t fc_local_params = 0;  // --sp-fc model: one member's parameters after the layout change (shards)
};
// `base`: describe_model of the whole model (its partition costs and names are kept). User error when the
// model has no conv side or sp does not fit it (parallel::validate_spatial's rules).
SpatialPricing spatial_pricing(const ModelDesc& base, const ModelSpec& spec, int sp, int64_t micro_batch,
                               const LinkProfile& link, int bytes_per_element, SpFc fc = SpFc::kBatch);

// One iteration's communication split into batch, model and domain parts (CommSplit), α–β on the links the
// simulator uses; `spatial` null when sp is 1. batch_bytes is left for the caller (it knows each pipeline
// rank's parameters).
CommSplit split_comm(const ModelDesc& model, const Layout& l, double micro_batch,
                     const SpatialPricing* spatial, const HardwareProfile& hw);

// The blocks of member `rank`'s spatial model at micro-batch granularity: cost(b) for b samples of the whole
// group (its rows of every sample before flatten, b/sp samples after).
// With SpFc::kModel the split FC blocks count this member's shard of their parameters.
ModelDesc describe_spatial_member(const ModelDesc& base, const ModelSpec& spec, int sp, int rank,
                                  SpFc fc = SpFc::kBatch);

}  // namespace paraxis::cost
