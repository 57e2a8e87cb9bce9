// A profile's convolution rates as JSON ("conv_rates", docs/cost-model.md): one entry per measured call,
// [n, cin, h, w, cout, k, stride, pad, forward, input grad, weight grad FLOP/s alone, the same three at once,
// optionally the same three in turns] (14 or 17 numbers). Profiles written before convolutions were measured
// have no such key: their convolutions keep the rate by call size.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "paraxis/cost/hardware.h"

namespace paraxis::cost {

nlohmann::json conv_rates_json(const std::vector<ConvRatePoint>& v);
// User errors (exit 2) naming the entry for a malformed or non-positive one.
std::vector<ConvRatePoint> conv_rates_from(const nlohmann::json& j, const std::string& what);

}  // namespace paraxis::cost
