// `paraxis schedule --from FILE`: parse_schedule_file (pipeline/torch_csv.h) reads the bytes as a .csv file
// (ours or PyTorch's form) and as a text file; each schedule it accepts then goes where the command sends it:
// validate_schedule, dry_run, the timeline and the text forms, and the same after lower_send_recv (--lowered).
#include "fuzz_support.h"
#include "paraxis/pipeline/dry_run.h"
#include "paraxis/pipeline/lower.h"
#include "paraxis/pipeline/torch_csv.h"
#include "paraxis/pipeline/validate.h"

namespace {

using namespace paraxis::pipeline;

void check_and_run(const Schedule& s, const std::optional<TorchCsvSchedule>& torch) {
  validate_schedule(s);
  const DryRunResult r = dry_run(s, Durations{});
  format_timeline(s, r);
  format_schedule_csv(s);
  format_schedule_text(s);
  if (torch && torch->schedule == s)
    format_torch_csv(*torch);
  else
    format_torch_csv(s);  // --format torch-csv: a user error for actions torch has no form of
}

void read_as(std::string_view text, bool csv) {
  std::optional<TorchCsvSchedule> torch;
  const Schedule s = parse_schedule_file(text, csv, torch);
  fuzz::expect_user_errors([&] { check_and_run(s, torch); });
  if (!s.is_lowered()) fuzz::expect_user_errors([&] { check_and_run(lower_send_recv(s), std::nullopt); });
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  fuzz::expect_user_errors([&] { read_as(text, /*csv=*/true); });
  return fuzz::expect_user_errors([&] { read_as(text, /*csv=*/false); });
}
