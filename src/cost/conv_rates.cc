// The measured rates of convolution calls: lookup (HardwareProfile::conv_rate) and their JSON form.
#include "cost/conv_rates.h"

#include <algorithm>

#include "cost/rate_lookup.h"
#include "paraxis/core/error.h"

namespace paraxis::cost {

namespace {
// The same call but for its samples (n): the calls among which conv_rate interpolates.
bool same_but_n(const Conv2dShape& a, const Conv2dShape& b) {
  return a.cin == b.cin && a.h == b.h && a.w == b.w && a.cout == b.cout && a.k == b.k &&
         a.stride == b.stride && a.pad == b.pad;
}
}  // namespace

double HardwareProfile::conv_rate(PassKind kind, const Conv2dShape& call, bool concurrent) const {
  std::vector<RatedRows> calls;
  for (const ConvRatePoint& p : conv_rates)
    if (same_but_n(p.call, call)) calls.push_back({static_cast<double>(p.call.n), &p.alone, &p.together});
  return rate_by_rows(calls, kind, static_cast<double>(call.n), concurrent);
}

nlohmann::json conv_rates_json(const std::vector<ConvRatePoint>& v) {
  nlohmann::json a = nlohmann::json::array();
  for (const ConvRatePoint& p : v) {
    const Conv2dShape& c = p.call;
    nlohmann::json e     = {c.n, c.cin, c.h, c.w, c.cout, c.k, c.stride, c.pad};
    for (const RowRatePoint* r : {&p.alone, &p.together})
      e.push_back(r->forward), e.push_back(r->backward_input), e.push_back(r->backward_weight);
    if (p.turns.forward > 0)
      e.push_back(p.turns.forward), e.push_back(p.turns.backward_input), e.push_back(p.turns.backward_weight);
    a.push_back(e);
  }
  return a;
}

namespace {
ConvRatePoint conv_point_from(const nlohmann::json& p, const std::string& what) {
  PX_USER_CHECK(p.is_array() && (p.size() == 14 || p.size() == 17) &&
                    std::all_of(p.begin(), p.end(), [](const nlohmann::json& x) { return x.is_number(); }),
                "{}: a conv_rates entry is {}; give 14 or 17 numbers: [n, cin, h, w, cout, k, stride, pad, "
                "forward, input grad, weight grad FLOP/s alone, the same three at once, optionally the same "
                "three in turns] (or rewrite the profile with `paraxis calibrate --model cnn -o FILE`)",
                what, p.dump());
  ConvRatePoint r;
  Conv2dShape& c = r.call;
  for (auto [field, i] : {std::pair{&c.n, 0},
                          {&c.cin, 1},
                          {&c.h, 2},
                          {&c.w, 3},
                          {&c.cout, 4},
                          {&c.k, 5},
                          {&c.stride, 6},
                          {&c.pad, 7}})
    *field = p[i].get<int64_t>();
  auto three = [&](int i) {
    return RowRatePoint{static_cast<double>(c.n), p[i].get<double>(), p[i + 1].get<double>(),
                        p[i + 2].get<double>()};
  };
  r.alone = three(8), r.together = three(11);
  if (p.size() == 17) r.turns = three(14);
  const bool sizes =
      c.n > 0 && c.cin > 0 && c.h > 0 && c.w > 0 && c.cout > 0 && c.k > 0 && c.stride > 0 && c.pad >= 0;
  const bool rates = r.alone.forward > 0 && r.alone.backward_input > 0 && r.alone.backward_weight > 0 &&
                     r.together.forward >= 0 && r.turns.forward >= 0;
  PX_USER_CHECK(sizes && rates,
                "{}: conv_rates entry {} must have positive sizes (pad >= 0) and positive rates alone (at "
                "once and in turns 0: not measured)",
                what, p.dump());
  return r;
}
}  // namespace

std::vector<ConvRatePoint> conv_rates_from(const nlohmann::json& j, const std::string& what) {
  std::vector<ConvRatePoint> out;
  if (!j.contains("conv_rates")) return out;
  PX_USER_CHECK(j["conv_rates"].is_array(), "{}: conv_rates must be an array of entries", what);
  for (const auto& p : j["conv_rates"]) out.push_back(conv_point_from(p, what));
  return out;
}

}  // namespace paraxis::cost
