// spatial_exchanges: what each member of a spatial group moves in every halo exchange and layout change,
// read from the spatial layers themselves (their HaloExchange row math), for the cost model.
#include <string>
#include <tuple>

#include "parallel/spatial/layers.h"
#include "paraxis/core/error.h"

namespace paraxis {

namespace {

// The block's exchange at input shape `in` (N, C, rows, W), or nothing for a block that exchanges none.
bool exchange_of(const Layer& blk, const Shape& in, int rank, SpatialExchange& x) {
  const std::string kind = blk.kind();
  const int64_t n = in[0], row = in[0] * in[1] * in[3] * static_cast<int64_t>(sizeof(float));
  ExchangeRows r;
  if (kind == "spatial_conv2d") {
    const auto& conv                                = static_cast<const SpatialConv2d&>(blk);
    r                                               = conv.halo().forward_rows(rank);
    std::tie(x.forward_overlap, x.backward_overlap) = conv.overlap_shares(in);
  } else if (kind == "spatial_maxpool2d")
    r = static_cast<const SpatialMaxPool2d&>(blk).halo().forward_rows(rank);
  else if (kind == "spatial_to_batch")
    r = static_cast<const SpatialToBatch&>(blk).forward_rows(rank, n), x.layout_change = true;
  else if (kind == "spatial_to_whole")  // an all-gather; its backward is a local slice
    r = static_cast<const SpatialToWhole&>(blk).forward_rows(rank, n), x.layout_change = true,
    x.all_gather = true, x.backward = false;
  else
    return false;
  const int64_t unit       = x.layout_change ? in[1] * in[3] * static_cast<int64_t>(sizeof(float)) : row;
  x.forward_bytes_sent     = r.sent * unit;
  x.forward_bytes_received = r.received * unit;
  x.forward_sends = r.sends, x.forward_receives = r.receives;
  return r.sends + r.receives > 0;
}

}  // namespace

std::vector<SpatialExchange> spatial_exchanges(const ModelSpec& spec, int sp, int rank, int64_t batch,
                                               SpFc fc) {
  std::vector<SpatialExchange> out;
  if (sp <= 1) return out;
  PX_CHECK(rank >= 0 && rank < sp && batch >= 1, "spatial_exchanges: rank {} of sp {}, batch {}", rank, sp,
           batch);
  auto model = build_spatial_model(spec, SpInfo{nullptr, rank, sp, {}, fc});
  Shape s    = model->input_shape(batch);
  for (int b = 0; b < static_cast<int>(model->blocks.size()); ++b) {
    const Layer& blk = *model->blocks[b];
    SpatialExchange x;
    x.block    = b;
    x.name     = blk.name();
    x.backward = !(b == 0 && model->first_block_skips_input_pass());
    if (s.size() == 4 && exchange_of(blk, s, rank, x)) out.push_back(x);
    s = blk.output_shape(s);
  }
  return out;
}

}  // namespace paraxis
