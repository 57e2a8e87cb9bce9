#include "paraxis/pipeline/torch_csv.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <cctype>

#include "paraxis/core/error.h"

namespace paraxis::pipeline {

namespace {

constexpr const char* kAccepted =
    "the torch form accepts {stage}{TYPE}{micro-batch} with TYPE F, I, W, B, SEND_F, RECV_F, SEND_B or "
    "RECV_B "
    "(e.g. '1F0', '0SEND_F1'), {stage}REDUCE_GRAD, an overlapped pair '(0F7;7B3)OVERLAP_F_B' (a forward, "
    "then a full backward) and empty cells (idle slots)";
constexpr std::string_view kOverlapSuffix = ")OVERLAP_F_B";

// Where a cell is, for messages: row = line of the file, column = cell, both from 1.
struct CellPos {
  int line = 0, rank = 0, column = 0;
  std::string str() const {
    return fmt::format("torch CSV row {}, column {} (rank {}, step {})", line, column + 1, rank, column);
  }
};

std::string_view trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

// The TYPE of a single cell: the text between the stage digits and the micro-batch digits.
std::string_view type_code(std::string_view cell) {
  size_t i = 0, j = cell.size();
  while (i < j && std::isdigit(static_cast<unsigned char>(cell[i]))) ++i;
  while (j > i && std::isdigit(static_cast<unsigned char>(cell[j - 1]))) --j;
  return cell.substr(i, j - i);
}

bool is_torch_type(std::string_view code) {
  for (const char* t : {"F", "I", "W", "B", "SEND_F", "RECV_F", "SEND_B", "RECV_B", "REDUCE_GRAD"})
    if (code == t) return true;
  return false;
}

bool is_idle(std::string_view cell) {
  return cell.empty() || cell == "\"\"";
}

// Kinds torch has, with its rules: compute and transfers take a stage and a micro-batch, REDUCE_GRAD a stage.
bool has_torch_form(const Action& a) {
  switch (a.kind) {
    case ActionKind::kForward:
    case ActionKind::kBackwardInput:
    case ActionKind::kBackwardWeight:
    case ActionKind::kFullBackward:
      return true;
    case ActionKind::kReduceGrad:
      return a.stage >= 0 && a.bucket() < 0;
    default:
      return is_transfer(a.kind);
  }
}

Action parse_single(std::string_view cell, const CellPos& pos) {
  const std::string_view code = type_code(cell);
  PX_USER_CHECK(code != "UNSHARD" && code != "RESHARD",
                "{}: '{}' is FSDP's {}, which paraxis does not execute (it shards no parameters with FSDP); "
                "remove the UNSHARD/RESHARD cells (leave them empty) to run the schedule without FSDP; {}",
                pos.str(), cell, code, kAccepted);
  PX_USER_CHECK(is_torch_type(code), "{}: '{}' is not an action of torch's CSV form; {}", pos.str(), cell,
                kAccepted);
  Action a;
  try {
    a = parse_action(cell);  // the digits: a stage and a micro-batch where the kind needs them
  } catch (const Error& e) {
    PX_USER_FAIL("{}: {}", pos.str(), e.what());
  }
  PX_USER_CHECK(has_torch_form(a),
                "{}: '{}': torch writes REDUCE_GRAD with its stage and no number, e.g. "
                "'1REDUCE_GRAD'; {}",
                pos.str(), cell, kAccepted);
  return a;
}

// "(0F7;7B3)OVERLAP_F_B": DualPipeV's forward of one stage overlapped with the full backward of another.
void parse_overlap(std::string_view cell, const CellPos& pos, std::vector<Action>& out) {
  const size_t close = cell.find(')');
  PX_USER_CHECK(close != std::string_view::npos && cell.substr(close) == kOverlapSuffix,
                "{}: '{}' is not an overlapped pair; write '(0F7;7B3)OVERLAP_F_B'; {}", pos.str(), cell,
                kAccepted);
  const std::string_view inner = cell.substr(1, close - 1);
  const size_t semi            = inner.find(';');
  PX_USER_CHECK(semi != std::string_view::npos && inner.find(';', semi + 1) == std::string_view::npos,
                "{}: '{}' must hold exactly two actions, a forward then a full backward, e.g. "
                "'(0F7;7B3)OVERLAP_F_B'",
                pos.str(), cell);
  const Action f = parse_single(trim(inner.substr(0, semi)), pos);
  const Action b = parse_single(trim(inner.substr(semi + 1)), pos);
  PX_USER_CHECK(f.kind == ActionKind::kForward && b.kind == ActionKind::kFullBackward,
                "{}: '{}' pairs {} with {}; an OVERLAP_F_B pair is a forward then a full backward, e.g. "
                "'(0F7;7B3)OVERLAP_F_B'",
                pos.str(), cell, to_string(f), to_string(b));
  out.push_back(f);
  out.push_back(b);
}

// One row of cells; records idle columns and overlapped pairs of rank pos.rank into t.
void parse_row(std::string_view row, CellPos pos, TorchCsvSchedule& t, std::vector<Action>& actions) {
  if (row.empty()) return;  // csv.writer's empty row: a rank without work
  size_t start = 0;
  for (pos.column = 0;; ++pos.column) {
    size_t end = row.find(',', start);
    if (end == std::string_view::npos) end = row.size();
    const std::string_view cell = trim(row.substr(start, end - start));
    if (is_idle(cell)) {
      t.idle_cells[pos.rank].push_back(pos.column);
    } else if (cell.front() == '(') {
      t.overlaps[pos.rank].push_back(static_cast<int>(actions.size()));
      parse_overlap(cell, pos, actions);
    } else {
      PX_USER_CHECK(cell.find('"') == std::string_view::npos,
                    "{}: '{}' is quoted; torch writes action cells unquoted; {}", pos.str(), cell, kAccepted);
      actions.push_back(parse_single(cell, pos));
    }
    if (end == row.size()) return;
    start = end + 1;
  }
}

// Calls f(line, line_no) for each line (without its line end), numbered from 1; no extra line after a final
// line end.
template <class F>
void for_each_line(std::string_view text, F&& f) {
  int line_no = 0;
  for (size_t pos = 0; pos < text.size();) {
    size_t end = text.find('\n', pos);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(pos, end - pos);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    f(line, ++line_no);
    pos = end + 1;
  }
}

std::string torch_text(const Action& a, int device, size_t index) {
  PX_USER_CHECK(has_torch_form(a),
                "device {}, action {} '{}' has no form in torch's CSV (torch has F, I, W, B, SEND_F, RECV_F, "
                "SEND_B, RECV_B and {{stage}}REDUCE_GRAD); write this schedule with --format csv",
                device, index, to_string(a));
  return to_string(a);
}

std::string format_row(const TorchCsvSchedule& t, int d) {
  const std::vector<Action>& acts = t.schedule.actions[d];
  static const std::vector<int> kNone;
  const std::vector<int>& idle     = d < static_cast<int>(t.idle_cells.size()) ? t.idle_cells[d] : kNone;
  const std::vector<int>& overlaps = d < static_cast<int>(t.overlaps.size()) ? t.overlaps[d] : kNone;
  std::vector<std::string> cells;
  size_t i = 0, next_idle = 0, next_overlap = 0;
  while (i < acts.size() || next_idle < idle.size()) {
    if (next_idle < idle.size() && idle[next_idle] == static_cast<int>(cells.size())) {
      cells.emplace_back();
      ++next_idle;
      continue;
    }
    PX_CHECK(i < acts.size(), "device {}: idle column {} lies past the row's end", d, idle[next_idle]);
    if (next_overlap < overlaps.size() && overlaps[next_overlap] == static_cast<int>(i)) {
      PX_CHECK(i + 1 < acts.size(), "device {}: overlapped pair at action {} lacks its backward", d, i);
      cells.push_back(
          fmt::format("({};{})OVERLAP_F_B", torch_text(acts[i], d, i), torch_text(acts[i + 1], d, i + 1)));
      i += 2;
      ++next_overlap;
    } else {
      cells.push_back(torch_text(acts[i], d, i));
      ++i;
    }
  }
  if (cells.size() == 1 && cells[0].empty()) return "\"\"";  // csv.writer's row of one empty cell
  return fmt::format("{}", fmt::join(cells, ","));
}

}  // namespace

TorchCsvSchedule parse_torch_csv(std::string_view text) {
  TorchCsvSchedule t;
  const size_t first_end = text.find('\n');
  if (first_end != std::string_view::npos && first_end > 0 && text[first_end - 1] == '\r')
    t.line_end = "\r\n";
  Schedule rows;
  for_each_line(text, [&](std::string_view line, int line_no) {
    if (!line.empty() && line.front() == '#') return;
    const int rank = static_cast<int>(rows.actions.size());
    rows.actions.emplace_back();
    t.idle_cells.emplace_back();
    t.overlaps.emplace_back();
    parse_row(line, CellPos{line_no, rank, 0}, t, rows.actions.back());
  });
  // Our CSV parser infers the stage count, micro-batch count and stage owners from the compact rows.
  rows.num_devices = static_cast<int>(rows.actions.size());
  t.schedule       = parse_schedule_csv(format_schedule_csv(rows));
  return t;
}

std::string format_torch_csv(const TorchCsvSchedule& t) {
  std::string out;
  for (int d = 0; d < t.schedule.num_devices; ++d) {
    out += format_row(t, d);
    out += t.line_end;
  }
  return out;
}

std::string format_torch_csv(const Schedule& s) {
  TorchCsvSchedule t;
  t.schedule = s;
  return format_torch_csv(t);
}

bool is_torch_csv(std::string_view text) {
  bool torch = false;
  for_each_line(text, [&](std::string_view line, int) {
    if (torch || line.empty() || line.front() == '#') return;
    for (size_t start = 0;;) {
      size_t end = line.find(',', start);
      if (end == std::string_view::npos) end = line.size();
      const std::string_view cell = trim(line.substr(start, end - start));
      const std::string_view code = type_code(cell);
      if (is_idle(cell) || cell.front() == '(' || code == "UNSHARD" || code == "RESHARD") torch = true;
      if (torch || end == line.size()) return;
      start = end + 1;
    }
  });
  return torch;
}

Schedule parse_schedule_file(std::string_view text, bool csv, std::optional<TorchCsvSchedule>& torch) {
  if (csv && is_torch_csv(text)) {
    torch = parse_torch_csv(text);
    return torch->schedule;
  }
  return csv ? parse_schedule_csv(text) : parse_schedule_text(text);
}

}  // namespace paraxis::pipeline
