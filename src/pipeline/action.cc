#include "paraxis/pipeline/action.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>

#include "paraxis/core/error.h"

namespace paraxis::pipeline {

namespace {

struct KindName {
  ActionKind kind;
  const char* code;
};
// Longest codes first is not needed: the code is the whole text between the two numbers.
constexpr KindName kKindNames[] = {
    {ActionKind::kForward, "F"},
    {ActionKind::kBackwardInput, "I"},
    {ActionKind::kBackwardWeight, "W"},
    {ActionKind::kFullBackward, "B"},
    {ActionKind::kSendForward, "SEND_F"},
    {ActionKind::kRecvForward, "RECV_F"},
    {ActionKind::kSendBackward, "SEND_B"},
    {ActionKind::kRecvBackward, "RECV_B"},
    {ActionKind::kReduceGrad, "REDUCE_GRAD"},
    {ActionKind::kOptStep, "OPT_STEP"},
    {ActionKind::kFlushWeight, "FLUSH_W"},
    {ActionKind::kGradNorm, "GRAD_NORM"},
    {ActionKind::kReduceScatter, "REDUCE_SCATTER"},
    {ActionKind::kAllGather, "ALL_GATHER"},
    {ActionKind::kRecompute, "R"},
};

bool is_step_level(ActionKind k) {
  return is_tail(k);
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

// Parses a non-negative decimal number; the digits have been checked by the caller.
int parse_index(std::string_view digits, std::string_view whole) {
  PX_USER_CHECK(digits.size() <= 8, "action '{}': index {} is too large (at most 8 digits)", whole, digits);
  int v = 0;
  for (char c : digits) v = v * 10 + (c - '0');
  return v;
}

void finish_inference(Schedule& s) {
  s.num_devices = static_cast<int>(s.actions.size());
  int max_stage = -1, max_mb = -1;
  for (const auto& list : s.actions)
    for (const Action& a : list) {
      max_stage = std::max(max_stage, a.stage);
      if (!is_tail(a.kind)) max_mb = std::max(max_mb, a.microbatch);  // REDUCE_GRAD's number is a bucket
    }
  s.num_stages       = max_stage + 1;
  s.num_microbatches = max_mb + 1;
  s.stage_device.assign(s.num_stages, -1);
  for (int d = 0; d < s.num_devices; ++d)
    for (const Action& a : s.actions[d])
      if (a.stage >= 0 && s.stage_device[a.stage] < 0) s.stage_device[a.stage] = d;
  for (int st = 0; st < s.num_stages; ++st)
    PX_USER_CHECK(
        s.stage_device[st] >= 0,
        "schedule mentions stage {} but no action of stage {} exists; stages must be numbered 0..{} "
        "without gaps",
        s.num_stages - 1, st, s.num_stages - 1);
}

std::vector<Action> parse_list(std::string_view row, char sep, int line_no) {
  std::vector<Action> out;
  size_t pos = 0;
  while (pos <= row.size()) {
    size_t end = sep == ' ' ? row.find_first_of(" \t", pos) : row.find(sep, pos);
    if (end == std::string_view::npos) end = row.size();
    std::string_view cell = trim(row.substr(pos, end - pos));
    if (!cell.empty())
      out.push_back(parse_action(cell));
    else if (sep == ',' && end != row.size())
      PX_USER_FAIL("schedule line {}: empty cell between commas; write one action per cell", line_no);
    pos = end + 1;
  }
  return out;
}

}  // namespace

bool is_compute(ActionKind k) {
  return k == ActionKind::kForward || k == ActionKind::kBackwardInput || k == ActionKind::kBackwardWeight ||
         k == ActionKind::kFullBackward || k == ActionKind::kRecompute;
}

bool is_tail(ActionKind k) {
  return k == ActionKind::kReduceGrad || k == ActionKind::kOptStep || k == ActionKind::kFlushWeight ||
         k == ActionKind::kGradNorm || k == ActionKind::kReduceScatter || k == ActionKind::kAllGather;
}

bool is_transfer(ActionKind k) {
  return k == ActionKind::kSendForward || k == ActionKind::kRecvForward || k == ActionKind::kSendBackward ||
         k == ActionKind::kRecvBackward;
}

const char* kind_code(ActionKind kind) {
  for (const auto& kn : kKindNames)
    if (kn.kind == kind) return kn.code;
  return "?";
}

std::string to_string(const Action& a) {
  if (is_step_level(a.kind)) {
    std::string out = a.stage >= 0 ? fmt::format("{}{}", a.stage, kind_code(a.kind)) : kind_code(a.kind);
    if (a.kind == ActionKind::kReduceGrad && a.bucket() >= 0) out += std::to_string(a.bucket());
    return out;
  }
  return fmt::format("{}{}{}", a.stage, kind_code(a.kind), a.microbatch);
}

Action parse_action(std::string_view text) {
  std::string_view t = trim(text);
  size_t i           = 0;
  while (i < t.size() && std::isdigit(static_cast<unsigned char>(t[i]))) ++i;
  size_t j = t.size();
  while (j > i && std::isdigit(static_cast<unsigned char>(t[j - 1]))) --j;
  std::string_view stage_digits = t.substr(0, i), code = t.substr(i, j - i), mb_digits = t.substr(j);
  for (const auto& kn : kKindNames) {
    if (code != kn.code) continue;
    Action a;
    a.kind = kn.kind;
    if (is_step_level(kn.kind)) {
      const bool bucket = kn.kind == ActionKind::kReduceGrad;
      PX_USER_CHECK(mb_digits.empty() || bucket,
                    "action '{}': {} takes no micro-batch; write '{}' or e.g. '0{}'", t, kn.code, kn.code,
                    kn.code);
      PX_USER_CHECK(
          kn.kind != ActionKind::kFlushWeight || !stage_digits.empty(),
          "action '{}': FLUSH_W needs the stage whose weight gradients it computes, e.g. '1FLUSH_W'", t);
      a.stage      = stage_digits.empty() ? -1 : parse_index(stage_digits, t);
      a.microbatch = mb_digits.empty() ? -1 : parse_index(mb_digits, t);
      return a;
    }
    PX_USER_CHECK(!stage_digits.empty() && !mb_digits.empty(),
                  "action '{}': {} needs a stage and a micro-batch, e.g. '1{}0' (stage 1, micro-batch 0)", t,
                  kn.code, kn.code);
    a.stage      = parse_index(stage_digits, t);
    a.microbatch = parse_index(mb_digits, t);
    return a;
  }
  PX_USER_FAIL(
      "cannot parse action '{}'; the form is {{stage}}{{KIND}}{{micro-batch}} with KIND one of F, I, W, B, "
      "R, "
      "SEND_F, RECV_F, SEND_B, RECV_B (e.g. '1F0', '0SEND_F1'), or a tail action: REDUCE_GRAD{{bucket}}, "
      "{{stage}}FLUSH_W, REDUCE_SCATTER, GRAD_NORM, OPT_STEP, ALL_GATHER",
      t);
}

Schedule Schedule::empty(int num_devices, int num_stages, int num_microbatches) {
  Schedule s;
  s.num_devices      = num_devices;
  s.num_stages       = num_stages;
  s.num_microbatches = num_microbatches;
  s.stage_device.resize(num_stages);
  for (int st = 0; st < num_stages; ++st) s.stage_device[st] = num_devices > 0 ? st % num_devices : 0;
  s.actions.resize(num_devices);
  return s;
}

bool Schedule::is_lowered() const {
  for (const auto& list : actions)
    for (const Action& a : list)
      if (is_transfer(a.kind)) return true;
  return false;
}

std::string format_schedule_text(const Schedule& s) {
  std::string out;
  for (int d = 0; d < s.num_devices; ++d) {
    out += fmt::format("{}:", d);
    for (const Action& a : s.actions[d]) {
      out += ' ';
      out += to_string(a);
    }
    out += "\n";
  }
  return out;
}

std::string format_schedule_csv(const Schedule& s) {
  std::string out;
  for (int d = 0; d < s.num_devices; ++d) {
    for (size_t i = 0; i < s.actions[d].size(); ++i) {
      if (i) out += ',';
      out += to_string(s.actions[d][i]);
    }
    out += "\n";
  }
  return out;
}

// Calls f(line, line_no) for each line of text, trimmed, numbered from 1.
template <class F>
void for_each_line(std::string_view text, F&& f) {
  int line_no = 0;
  size_t pos  = 0;
  while (pos < text.size()) {
    size_t end = text.find('\n', pos);
    if (end == std::string_view::npos) end = text.size();
    f(trim(text.substr(pos, end - pos)), ++line_no);
    pos = end + 1;
  }
}

Schedule parse_schedule_text(std::string_view text) {
  Schedule s;
  for_each_line(text, [&](std::string_view line, int line_no) {
    if (line.empty() || line.front() == '#') return;
    size_t colon = line.find(':');
    PX_USER_CHECK(colon != std::string_view::npos,
                  "schedule line {}: '{}' lacks the device prefix; write e.g. '0: 0F0 0B0'", line_no, line);
    std::string_view dev = trim(line.substr(0, colon));
    bool digits = !dev.empty() && std::all_of(dev.begin(), dev.end(), [](char c) { return std::isdigit(c); });
    PX_USER_CHECK(digits && parse_index(dev, line) == static_cast<int>(s.actions.size()),
                  "schedule line {}: device '{}' out of order; devices are listed 0, 1, 2, ... (expected {})",
                  line_no, dev, s.actions.size());
    s.actions.push_back(parse_list(line.substr(colon + 1), ' ', line_no));
  });
  finish_inference(s);
  return s;
}

Schedule parse_schedule_csv(std::string_view text) {
  Schedule s;
  for_each_line(text, [&](std::string_view line, int line_no) {
    if (!line.empty() && line.front() == '#') return;
    s.actions.push_back(parse_list(line, ',', line_no));  // an empty row is a device without work
  });
  // A trailing newline does not make an extra device.
  finish_inference(s);
  return s;
}

}  // namespace paraxis::pipeline
