// conv_call (parallel/spatial.h): the convolution a block's passes run, for the cost model's rate lookup.
#include "parallel/spatial/layers.h"
#include "paraxis/parallel/spatial.h"

namespace paraxis {

std::optional<Conv2dShape> conv_call(const Layer& block, const Shape& in) {
  if (const auto* conv = dynamic_cast<const Conv2d*>(&block))
    return Conv2dShape{in.at(0),       conv->in_channels(), in.at(2),   in.at(3), conv->out_channels(),
                       conv->kernel(), conv->stride(),      conv->pad()};
  if (const auto* spatial = dynamic_cast<const SpatialConv2d*>(&block)) return spatial->window_shape(in);
  return std::nullopt;
}

}  // namespace paraxis
