// read_trace_runs (trace/chrome_trace.h): the trace files of `paraxis analyze` and `paraxis report`, one file:
// a paraxis Chrome trace, or a PyTorch profiler trace of one rank or merged (torch_read, torch_align,
// torch_layout). The corpus holds both kinds (corpus/trace: paraxis's; corpus/torch_trace: PyTorch's).
#include "fuzz_support.h"
#include "paraxis/trace/chrome_trace.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = fuzz::write_input("input.json", data, size);
  return fuzz::expect_user_errors([&] { paraxis::trace::read_trace_runs(std::span(&path, 1)); });
}
