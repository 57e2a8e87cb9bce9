// The pieces of the HTML report (report.h): the page assembles them (html_report.cc), the timeline draws a
// trace's window (report_timeline.cc), the overview draws every step's duration (report_steps.cc), and the
// script (report_view.js, embedded at build time) zooms and pans the timelines. The script reads the layout
// below from each svg.timeline's data-* attributes, so these numbers are written down once.
#pragma once

#include <string>
#include <string_view>

#include "paraxis/trace/analysis.h"
#include "paraxis/trace/step_window.h"

namespace paraxis::trace::report {

constexpr double kLabelWidth = 190;                            // px, device labels left of the timeline
constexpr double kPlotWidth  = 860;                            // px, the shared time axis
constexpr double kUtilX      = kLabelWidth + kPlotWidth + 24;  // utilization bar right of the timeline
constexpr double kUtilWidth  = 150;
constexpr double kComputeH   = 18;  // px, compute lane
constexpr double kCommH      = 8;   // px, comm lane under it
constexpr double kRowGap     = 7;
constexpr double kAxisH      = 24;
constexpr double kMinEventPx = 0.6;  // an instantaneous transfer stays visible
constexpr double kCritMinPx  = 4;    // the critical-path outline only on events at least this wide: on
                                     // narrower ones the outline would cover the colour
constexpr double kLabelMinPx = 24;   // an event's name ("0F12") is written inside it from this width

std::string escape(std::string_view s);
std::string pct(double x);

// 1, 2 or 5 × 10^k ms so that the axis gets about eight ticks (the script computes the same).
double tick_step_ms(double span_ms);

// The timeline of one trace's analysis window (a.window_begin_ns .. a.window_end_ns) on an axis of
// `axis_ms`: per device a compute lane, a communication lane and a utilization bar.
std::string timeline_svg(const TraceSet& set, const Analysis& a, double axis_ms, int index);

// Every step's duration as a bar, the shown steps marked; "" for a trace of one step or none.
std::string steps_overview_svg(const TraceSet& set, const StepRange& shown);

// report_view.js: zoom and pan of every svg.timeline of the page (generated from the .js by CMake).
extern const char* const kViewScript;

}  // namespace paraxis::trace::report
