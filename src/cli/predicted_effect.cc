// The recommendation's predicted effect (predicted_effect.h).
#include "cli/predicted_effect.h"

#include <fmt/format.h>

#include <sstream>

#include "paraxis/core/error.h"
#include "paraxis/cost/planner.h"
#include "paraxis/nn/model_spec_json.h"

namespace paraxis::cli {
namespace {

cost::Layout cost_layout(const trace::LayoutInfo& l, const std::string& optimizer) {
  cost::Layout out;
  out.dp = l.dp, out.tp = l.tp, out.pp = l.pp, out.sp = l.sp;
  out.microbatches   = l.placement ? 1 : l.m;
  out.virtual_stages = l.v;
  out.schedule = pipeline::parse_schedule_kind(l.placement || l.schedule.empty() ? "gpipe" : l.schedule);
  if (!optimizer.empty()) out.optimizer = optimizer;
  return out;
}

}  // namespace

trace::LayoutInfo apply_layout_flags(trace::LayoutInfo l, const std::string& flags) {
  std::istringstream in(flags);
  std::string flag, value;
  while (in >> flag >> value) {
    if (flag == "--dp")
      l.dp = std::stoi(value);
    else if (flag == "--tp")
      l.tp = std::stoi(value);
    else if (flag == "--pp")
      l.pp = std::stoi(value);
    else if (flag == "--sp")
      l.sp = std::stoi(value);
    else if (flag == "--microbatches")
      l.m = std::stoi(value), l.placement = false;
    else if (flag == "--virtual")
      l.v = std::stoi(value);
    else if (flag == "--schedule")
      l.schedule = value, l.placement = false;
    else
      throw Error(ErrorKind::kUser, fmt::format("layout flag {} {} is not one a recommendation uses (--dp, "
                                                "--tp, --pp, --sp, --microbatches, --virtual, --schedule)",
                                                flag, value));
  }
  if (l.pp > 1 && l.m <= 1) l.placement = true;
  return l;
}

std::string predicted_effect(const trace::TraceSet& set, const trace::Analysis& a,
                             const cost::HardwareProfile& hw, const std::string& hw_name) {
  if (set.run.model_json.empty() || a.suggested_flags.empty() || set.run.batch <= 0) return "";
  const trace::LayoutInfo next = apply_layout_flags(a.layout_info, a.suggested_flags);
  try {
    const cost::ModelDesc model =
        cost::describe_model(model_spec_from_json(nlohmann::json::parse(set.run.model_json)));
    const double now =
        cost::predict_step(model, cost_layout(a.layout_info, set.run.optimizer), set.run.batch, hw).step_s;
    const double then =
        cost::predict_step(model, cost_layout(next, set.run.optimizer), set.run.batch, hw).step_s;
    const double step_ms = a.step_ns / 1e6, next_ms = step_ms * then / now;
    return fmt::format(
        "predicted: step {:.2f} ms → {:.2f} ms ({:+.0f}%) with `{}` (the measured step times the cost "
        "model's "
        "ratio {:.2f} → {:.2f} ms for {}, batch {}, {}; assumes the profile prices both layouts alike)",
        step_ms, next_ms, 100 * (next_ms / step_ms - 1), a.suggested_flags, now * 1e3, then * 1e3, model.name,
        set.run.batch, hw_name);
  } catch (const Error& e) {
    return fmt::format("predicted: the cost model cannot price `{}` for this run: {}", a.suggested_flags,
                       e.what());
  }
}

}  // namespace paraxis::cli
