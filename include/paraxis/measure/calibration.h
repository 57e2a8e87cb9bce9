// The arithmetic of `paraxis calibrate`: from timed calls to the rates a HardwareProfile stores.
#pragma once

#include <vector>

#include "paraxis/cost/hardware.h"

namespace paraxis::measure {

using cost::RowRatePoint;  // the rates a HardwareProfile stores (cost/hardware.h)

// Each timed call's seconds of a Linear layer's three passes (forward, input grad, weight grad) on `rows`
// rows, and the flops of one call.
struct PassTimes {
  double rows = 0, flops = 0;
  std::vector<double> pass[3];
};

// The median of values — calls' seconds, rounds' rates (the upper middle one for an even count).
double median_value(std::vector<double> values);

// The median of values, the mean of the middle two for an even count (rounds' figures; a demo's rounds).
double median_mean(std::vector<double> values);

// Each pass's rate: flops ÷ the median call.
RowRatePoint rates_of(const PassTimes& t);

// Devices that ran the same calls at once (a barrier before each call): the rate at which they proceed
// together when each call waits for the slowest of them — per call the longest device's seconds, then the
// median over calls. A layout whose devices synchronise (tp at every layer, dp at the gradient all-reduce,
// pipeline stages at their transfers) runs at this pace, not at the devices' mean. Every device must have
// made the same number of calls.
RowRatePoint lockstep_rates(const std::vector<PassTimes>& devices);

// The lockstep rates of the k-th measurement of devices that made the same measurements at once
// (each[device][k]).
RowRatePoint lockstep_of(const std::vector<std::vector<PassTimes>>& each, size_t k);

// The same for a plain list of per-device call seconds: per call the slowest device.
std::vector<double> lockstep_seconds(const std::vector<std::vector<double>>& devices);

// Component-wise median of rates measured in several rounds (the mean of the middle two for an even count).
RowRatePoint median_rates(const std::vector<RowRatePoint>& rounds);

// How far positive values (rates or times of rounds) disagree: largest ÷ smallest − 1 (0 for one value).
double spread_of(const std::vector<double>& values);

// How far rounds disagree: the largest, over the three passes, of fastest ÷ slowest round − 1 (0 when they
// agree; 0.5 when one round ran 1.5× another).
double round_spread(const std::vector<RowRatePoint>& rounds);

}  // namespace paraxis::measure
