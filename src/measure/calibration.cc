#include "paraxis/measure/calibration.h"

#include <algorithm>
#include <cmath>

#include "paraxis/core/error.h"

namespace paraxis::measure {

double median_value(std::vector<double> t) {
  PX_CHECK(!t.empty(), "median of no calls");
  std::sort(t.begin(), t.end());
  return t[t.size() / 2];
}

RowRatePoint rates_of(const PassTimes& t) {
  RowRatePoint p;
  p.rows            = t.rows;
  p.forward         = t.flops / median_value(t.pass[0]);
  p.backward_input  = t.flops / median_value(t.pass[1]);
  p.backward_weight = t.flops / median_value(t.pass[2]);
  return p;
}

RowRatePoint lockstep_of(const std::vector<std::vector<PassTimes>>& each, size_t k) {
  std::vector<PassTimes> devices;
  for (const auto& dev : each) {
    PX_CHECK(k < dev.size(), "lockstep_of: measurement {} of {}", k, dev.size());
    devices.push_back(dev[k]);
  }
  return lockstep_rates(devices);
}

std::vector<double> lockstep_seconds(const std::vector<std::vector<double>>& devices) {
  PX_CHECK(!devices.empty(), "lockstep over no devices");
  std::vector<double> slowest = devices.front();
  for (const auto& d : devices) {
    PX_CHECK(d.size() == slowest.size(), "lockstep: devices made {} and {} calls", d.size(), slowest.size());
    for (size_t i = 0; i < d.size(); ++i) slowest[i] = std::max(slowest[i], d[i]);
  }
  return slowest;
}

RowRatePoint lockstep_rates(const std::vector<PassTimes>& devices) {
  PX_CHECK(!devices.empty(), "lockstep over no devices");
  PassTimes slowest = devices.front();
  for (int k = 0; k < 3; ++k) {
    std::vector<std::vector<double>> pass;
    for (const PassTimes& d : devices) pass.push_back(d.pass[k]);
    slowest.pass[k] = lockstep_seconds(pass);
  }
  return rates_of(slowest);
}

double median_mean(std::vector<double> x) {
  PX_CHECK(!x.empty(), "median of no values");
  std::sort(x.begin(), x.end());
  const size_t n = x.size();
  return n % 2 ? x[n / 2] : 0.5 * (x[n / 2 - 1] + x[n / 2]);
}

RowRatePoint median_rates(const std::vector<RowRatePoint>& v) {
  PX_CHECK(!v.empty(), "median of no rounds");
  auto med = [&](double RowRatePoint::*m) {
    std::vector<double> x;
    for (const auto& p : v) x.push_back(p.*m);
    return median_mean(std::move(x));
  };
  RowRatePoint out;
  out.rows            = v.front().rows;
  out.forward         = med(&RowRatePoint::forward);
  out.backward_input  = med(&RowRatePoint::backward_input);
  out.backward_weight = med(&RowRatePoint::backward_weight);
  return out;
}

double spread_of(const std::vector<double>& values) {
  double lo = INFINITY, hi = 0;
  for (double v : values) lo = std::min(lo, v), hi = std::max(hi, v);
  return lo > 0 && hi > lo ? hi / lo - 1 : 0;
}

double round_spread(const std::vector<RowRatePoint>& rounds) {
  double spread = 0;
  for (double RowRatePoint::*m :
       {&RowRatePoint::forward, &RowRatePoint::backward_input, &RowRatePoint::backward_weight}) {
    std::vector<double> v;
    for (const auto& r : rounds) v.push_back(r.*m);
    spread = std::max(spread, spread_of(v));
  }
  return spread;
}

}  // namespace paraxis::measure
