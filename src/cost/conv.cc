#include "paraxis/cost/conv.h"

#include <algorithm>
#include <cmath>

#include "paraxis/core/error.h"
#include "paraxis/cost/spatial.h"

namespace paraxis::cost {

Conv2dShape device_conv(const BlockDesc& blk, int tp, double b) {
  PX_CHECK(blk.conv.has_value(), "device_conv: block {} is not a convolution", blk.name);
  Conv2dShape c = *blk.conv;
  c.n           = std::max<int64_t>(1, std::llround(b));
  if (tp > 1 && blk.tp_split) (blk.tp_allreduce_bwd > 0 ? c.cout : c.cin) /= tp;  // column | row-parallel
  return c;
}

std::vector<Conv2dShape> conv_calls(const ModelDesc& model, const Layout& l, double b) {
  std::vector<Conv2dShape> calls;
  auto add = [&](const ModelDesc& d) {
    for (const BlockDesc& blk : d.blocks) {
      if (!blk.conv) continue;
      const Conv2dShape c = device_conv(blk, l.tp, b);
      if (std::find(calls.begin(), calls.end(), c) == calls.end()) calls.push_back(c);
    }
  };
  if (l.sp <= 1) add(model);
  for (int r = 0; l.sp > 1 && r < l.sp; ++r)
    add(describe_spatial_member(model, *model.spec, l.sp, r, l.fc_model() ? SpFc::kModel : SpFc::kBatch));
  return calls;
}

std::vector<Conv2dShape> unmeasured_convs(const HardwareProfile& hw, const std::vector<Conv2dShape>& calls) {
  std::vector<Conv2dShape> out;
  for (const Conv2dShape& c : calls)
    if (hw.conv_rate(PassKind::kForward, c, false) <= 0) out.push_back(c);
  return out;
}

double conv_pass_time(const BlockDesc& blk, double flops, double bytes, double b, int tp, PassKind kind,
                      const HardwareProfile& hw, PassPlace place) {
  const bool together = place.concurrent_devices > 1;
  const double rate   = hw.conv_rate(kind, device_conv(blk, tp, b), together);
  if (rate <= 0)
    return pass_time(flops, bytes, blk.matmuls, hw, place.threads, place.concurrent_devices, kind);
  if (flops <= 0 && bytes <= 0) return 0;
  const double compute   = flops / (rate * place.threads);
  const double byte_time = bytes * (hw.bytes_per_element / 4.0) / hw.bandwidth(together);
  return std::max(compute, byte_time) + hw.kernel_overhead_s;
}

}  // namespace paraxis::cost
