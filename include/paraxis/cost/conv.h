// paraxis/cost/conv.h — a convolution block's passes, priced at the measured rate of its own call.
//
//   const BlockDesc& conv = describe_model(ModelSpec::cnn()).blocks[0];   // conv1: conv has its call
//   Conv2dShape call = device_conv(conv, /*tp=*/1, /*b=*/32);             // the call on 32 samples
//   double s = conv_pass_time(conv, conv.at_batch(32).fwd_flops, conv.at_batch(32).fwd_bytes, 32,
//                             PassKind::kForward, hw, {});
//
// A convolution's rate depends on its whole shape (channels, image, kernel, stride), not on its flops alone:
// oneDNN picks a different algorithm and blocking per call, and a 1-channel first layer runs at a fraction of
// a 64-channel one's rate. `paraxis calibrate --model cnn|alexnet` and the in-run calibration measure a
// model's own calls (HardwareProfile::conv_rates); a call the profile has not measured keeps pass_time's rate
// by call size.
#pragma once

#include <vector>

#include "paraxis/cost/cost.h"
#include "paraxis/cost/planner.h"

namespace paraxis::cost {

// A convolution block's call on one device for a micro-batch of b samples (its per-sample call, n = b), with
// Megatron's split under tp: a column-parallel block computes cout/tp outputs, a row-parallel one reads
// cin/tp inputs. Requires blk.conv.
Conv2dShape device_conv(const BlockDesc& blk, int tp, double b);

// Every convolution call one device of the layout makes on its micro-batch of b samples, each once: the conv
// blocks' calls, and under sp every member's window (the members' slabs differ at the image's edges). What
// LinearCalls::convs asks the in-run calibration to measure.
std::vector<Conv2dShape> conv_calls(const ModelDesc& model, const Layout& l, double b);

// The calls among `calls` that the profile has not measured (any samples of the same call count as measured).
std::vector<Conv2dShape> unmeasured_convs(const HardwareProfile& hw, const std::vector<Conv2dShape>& calls);

// Where a pass runs: its device's threads and how many devices of the node compute at once.
struct PassPlace {
  int threads            = 1;
  int concurrent_devices = 1;
};

// One pass of a convolution block on b samples (flops and bytes already this device's share): the larger of
// flops at the measured rate of this call (conv_rate) and bytes at the memory bandwidth, plus the kernel
// call's fixed cost; pass_time's generic rate when the profile has not measured the call.
double conv_pass_time(const BlockDesc& blk, double flops, double bytes, double b, int tp, PassKind kind,
                      const HardwareProfile& hw, PassPlace place);

}  // namespace paraxis::cost
