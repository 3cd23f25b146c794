// SPDX-License-Identifier: Apache-2.0 OR MIT
//
// Chrome / Perfetto trace export: a run as a timeline you can look at in ui.perfetto.dev ("Open
// trace file") or chrome://tracing ("Load"), in virtual time. docs/tracing.md is the guide.
//
//   trio::testing::PerfettoTracer tracer("/tmp/run.json");     // written when the run ends
//   trio::run(trio::RunOptions{.clock = &clock, .instruments = {&tracer}, .seed = 7}, body);
//
//   // or, in any test: a tracer only when the TRIO_TRACE_DIR environment variable is set
//   auto tracer = trio::testing::tracer_from_env("MySuite.MyTest");  // may be null
//
// The JSON is the Trace Event Format ({"traceEvents": [...]}), with "ts"/"dur" in microseconds
// of the run's clock (fractions keep nanoseconds). Its layout:
//   * one process ("pid" 1) named after the run, and one track ("tid") per task, named by its
//     path in the task tree ("main/worker/worker.5") and sorted so that every task comes right
//     after its parent and before its siblings' subtrees (nesting by nursery);
//   * on each task's track: a slice for the task's lifetime (spawn to exit), inside it a slice
//     for every wait ("blocked on sleep", "blocked on ParkingLot.park", ...) and a zero-length
//     "step" slice for every step;
//   * instant events for cancellations ("cancelled (explicit)", "deadline expired" when the
//     source is a deadline), spawns and exits, and a flow arrow from the spawning task to the
//     child;
//   * track 0, "scheduler": a slice for each idle period (where the clock jumps) and notes.
// Virtual time does not pass while a task runs, so steps are zero-length: the waits carry the
// durations.
#ifndef TRIO_TESTING_PERFETTO_H_
#define TRIO_TESTING_PERFETTO_H_

#include <memory>
#include <string>
#include <string_view>

#include "testing/trace.h"

namespace trio::testing {

struct ChromeTraceOptions {
  // The process's name in the viewer (e.g. "Suite.Name seed 7").
  std::string process_name = "trio run";
};

// The trace as Chrome trace-event JSON (always valid JSON: strings are escaped, invalid UTF-8
// becomes U+FFFD).
std::string chrome_trace_json(const Trace& trace, const ChromeTraceOptions& options = {});

// Writes chrome_trace_json(trace) to `path`. Returns "" on success, else what went wrong.
std::string write_chrome_trace(const Trace& trace, const std::string& path,
                               const ChromeTraceOptions& options = {});

// A TraceRecorder that writes the run's Chrome trace to `path` when the run ends (also when it
// ends with an error, e.g. a DeadlockError). With an empty path nothing is written: call json().
// A failed write is reported on stderr and in write_error().
class PerfettoTracer : public TraceRecorder {
 public:
  explicit PerfettoTracer(std::string path = "", ChromeTraceOptions options = {},
                          size_t max_events = kDefaultMaxEvents)
      : TraceRecorder(max_events), path_(std::move(path)), options_(std::move(options)) {}

  std::string json() const { return chrome_trace_json(trace(), options_); }
  const std::string& path() const { return path_; }
  const std::string& write_error() const { return write_error_; }

  void after_run() override;

 private:
  std::string path_;
  ChromeTraceOptions options_;
  std::string write_error_;
};

// The environment variable naming the directory tracer_from_env() writes to.
inline constexpr const char* kTraceDirEnv = "TRIO_TRACE_DIR";

// A PerfettoTracer writing "$TRIO_TRACE_DIR/<name>.json" (characters of `name` other than
// letters, digits, '.', '-' and '_' become '_'), or null when TRIO_TRACE_DIR is unset or empty.
// The directory must exist.
std::unique_ptr<PerfettoTracer> tracer_from_env(std::string_view name);

// tracer_from_env("Suite.Name") for the GoogleTest test running now (null outside a test, or
// when TRIO_TRACE_DIR is unset). Install it in RunOptions::instruments, or — inside a TRIO_TEST,
// whose run is already going — with trio::lowlevel::add_instrument; it must outlive the run (a
// fixture member does):
//
//   class Traced : public ::testing::Test {
//    protected:
//     std::unique_ptr<trio::testing::PerfettoTracer> tracer_ =
//         trio::testing::tracer_for_current_test();
//   };
//   TRIO_TEST_F(Traced, Works) {
//     if (tracer_) trio::lowlevel::add_instrument(tracer_.get());
//     ...
//   }
std::unique_ptr<PerfettoTracer> tracer_for_current_test();

}  // namespace trio::testing

#endif  // TRIO_TESTING_PERFETTO_H_
