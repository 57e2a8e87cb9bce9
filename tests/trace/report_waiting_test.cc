// The report's timeline draws the waiting part of a transfer (trace::waiting_spans) in the waiting colour
// over the comm lane, and nothing where no device waited.
#include <gtest/gtest.h>

#include <regex>
#include <string>

#include "paraxis/trace/report.h"
#include "test_support/trace_events.h"

using namespace paraxis;
using namespace paraxis::trace;

namespace {

// Device 1 posts its receive at 0 ms; device 0 computes until 10 ms, then sends for 2 ms.
TraceSet receive_before_send(int64_t send_begin_ns) {
  TraceSet set;
  set.devices = {{0, 0, 0, 0}, {1, 0, 0, 1}};
  set.events.resize(2);
  Event f = paraxis::testing::ev(Kind::kForward, 0, send_begin_ns);
  f.stage = 0, f.microbatch = 0;
  set.events[0] = {f, paraxis::testing::ev(Kind::kSend, send_begin_ns, send_begin_ns + 2'000'000, 1, 0)};
  Event g       = paraxis::testing::ev(Kind::kForward, send_begin_ns + 2'000'000, send_begin_ns + 5'000'000);
  g.stage = 1, g.microbatch = 0;
  set.events[1] = {paraxis::testing::ev(Kind::kRecv, 0, send_begin_ns + 2'000'000, 0, 0), g};
  return set;
}

std::vector<std::string> waiting_rects(const std::string& html) {
  static const std::regex re(R"re(<rect class="waitspan WAIT"[^>]*data-b="([0-9.]+)" data-e="([0-9.]+)")re");
  std::vector<std::string> spans;
  for (auto it = std::sregex_iterator(html.begin(), html.end(), re); it != std::sregex_iterator(); ++it)
    spans.push_back((*it)[1].str() + ":" + (*it)[2].str());
  return spans;
}

}  // namespace

TEST(ReportWaiting, ReceivePostedBeforeItsSendIsDrawnAsWaitingUntilTheSendBegan) {
  const ReportEntry entry{"pair", receive_before_send(10'000'000)};
  const std::vector<std::string> spans = waiting_rects(render_html_report({&entry, 1}));
  ASSERT_EQ(spans.size(), 1u) << "only device 1's receive waited";
  EXPECT_EQ(spans[0], "0.000000:10.000000") << "from the receive's post to the send's begin";
}

TEST(ReportWaiting, ReceivePostedWhenTheSendBeganDrawsNoWaiting) {
  TraceSet set                = receive_before_send(10'000'000);
  set.events[1][0].t_begin_ns = 10'000'000;  // posted exactly when the send began: pure transfer
  const ReportEntry entry{"pair", set};
  EXPECT_TRUE(waiting_rects(render_html_report({&entry, 1})).empty());
}
