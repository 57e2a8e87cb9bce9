// paraxis/pipeline/torch_csv.h — PyTorch's own schedule CSVs (torch.distributed.pipelining), read and written
// back unchanged.
//
//   TorchCsvSchedule t = parse_torch_csv(text);   // t.schedule: our Schedule, idle cells dropped
//   validate_schedule(t.schedule);                // then dry-run, lower, ... as any schedule
//   format_torch_csv(t);                          // == text (idle cells and OVERLAP_F_B pairs come back)
//   format_torch_csv(generate_zb_h1(4, 8));       // our own schedules: one action per cell, no idle cells
//   is_torch_csv(text);                           // which CSV form a file is in (see below)
//
// The form, as torch writes it (schedules.py: `_Action.__repr__` per cell, `csv.writer` per rank in
// `_dump_csv`, read back by `_load_csv` / `_Action.from_str`; artifacts in
// test/distributed/pipelining/artifacts/):
//   one row per rank, one cell per time step; an EMPTY cell is an idle slot (None in torch's pipeline_order);
//   a cell is `{stage}{TYPE}{microbatch}` with TYPE F, I (backward-input), W (backward-weight), B (full
//   backward), SEND_F, RECV_F, SEND_B, RECV_B (same meaning and local-stage convention as ours, action.h);
//   `{stage}REDUCE_GRAD` (no micro-batch); or an overlapped pair `(0F7;7B3)OVERLAP_F_B` (DualPipeV: a forward
//   and a full backward of two stages of the rank), which becomes its two actions, in that order, on the
//   rank. UNSHARD / RESHARD (FSDP's parameter all-gather / free) are torch kinds paraxis does not execute,
//   and paraxis-only actions (R, FLUSH_W, OPT_STEP, GRAD_NORM, ...) have no torch form: both are user errors
//   (exit 2), on read naming the cell (row = line of the file, column = cell, both from 1) and what is
//   accepted.
// Lines ending in "\r\n" (Python's csv default) are kept so; lines starting with '#' are skipped (torch
// writes none) and not written back.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "paraxis/pipeline/action.h"

namespace paraxis::pipeline {

struct TorchCsvSchedule {
  Schedule schedule;                         // idle cells dropped, overlapped pairs as two actions
  std::vector<std::vector<int>> idle_cells;  // per device: columns (cell index from 0) of its empty cells
  std::vector<std::vector<int>> overlaps;    // per device: i where actions[i], actions[i+1] were one
                                             // (F;B)OVERLAP_F_B cell, ascending
  std::string line_end = "\n";               // "\r\n" when the file's first line ends so
};

// Throws a user error naming the cell for malformed cells, UNSHARD/RESHARD and paraxis-only actions.
TorchCsvSchedule parse_torch_csv(std::string_view text);
// parse_torch_csv(format_torch_csv(t)) == t; format_torch_csv(parse_torch_csv(text)) == text (plus a final
// line end when text lacks one). User error when an action has no torch form (OPT_STEP, REDUCE_GRAD without
// a stage or with a bucket, ...).
std::string format_torch_csv(const TorchCsvSchedule& t);
// Our own schedules: one action per cell, no idle cells (equal to format_schedule_csv when every action has a
// torch form).
std::string format_torch_csv(const Schedule& s);

// True when a CSV text is in torch's form rather than ours: some row (lines starting with '#' aside) has an
// empty cell, a parenthesised cell (OVERLAP_F_B) or an UNSHARD/RESHARD action. Every other CSV reads the same
// in both forms, so this choice never changes the schedule; it decides which cells are accepted (idle cells
// and pairs in torch's, paraxis' tail actions in ours) and which parser's messages a bad file gets.
bool is_torch_csv(std::string_view text);

// A schedule file's text as `paraxis schedule --from FILE` reads it: csv (a .csv file) in PyTorch's form when
// is_torch_csv says so (then `torch` is set: what writes the file back unchanged), else in ours; the text form
// otherwise. User errors as the parsers'.
Schedule parse_schedule_file(std::string_view text, bool csv, std::optional<TorchCsvSchedule>& torch);

}  // namespace paraxis::pipeline
