// SPDX-License-Identifier: Apache-2.0 OR MIT
#include "testing/determinism.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <utility>

#include "absl/strings/str_cat.h"
#include "runtime/errors.h"
#include "runtime/internal/runner.h"
#include "runtime/lowlevel.h"
#include "runtime/nursery.h"
#include "runtime/run.h"
#include "simclock/mock_clock.h"

namespace trio::testing {

// ---- running a scenario ------------------------------------------------------------------------

ScenarioRun run_scenario(const Scenario& scenario, const ScenarioOptions& options) {
  MockClock clock;
  clock.set_autojump_threshold(Duration(0));
  TraceRecorder recorder(options.max_trace_events);
  ProgressBudget budget(options.max_virtual_time, options.max_steps);
  RunOptions run_options{.clock = &clock, .seed = options.seed, .scheduling = options.scheduling};
  run_options.instruments.push_back(&recorder);
  const bool budgeted = options.max_virtual_time != kInfDuration || options.max_steps != UINT64_MAX;
  if (budgeted) run_options.instruments.push_back(&budget);
  for (Instrument* i : options.instruments) run_options.instruments.push_back(i);

  ScenarioRun out;
  try {
    trio::run(run_options, [&scenario] { return scenario(); });  // a Scenario is move-only
  } catch (...) {
    out.error = std::current_exception();
  }
  if (budget.exceeded()) out.error = std::make_exception_ptr(LivelockError(budget.report()));
  recorder.note(out.error ? absl::StrCat("run raised ", describe(out.error)) : "run returned");
  out.hash = recorder.hash();
  out.event_count = recorder.event_count();
  out.trace = recorder.trace();
  return out;
}

// ---- determinism -------------------------------------------------------------------------------

DeterminismReport compare_traces(const Trace& first, const Trace& second) {
  DeterminismReport r;
  r.first_hash = trace_hash(first);
  r.second_hash = trace_hash(second);
  r.first_events = first.size();
  r.second_events = second.size();
  const size_t common = std::min(first.size(), second.size());
  size_t i = 0;
  while (i < common && first[i] == second[i]) ++i;
  if (i == common && first.size() == second.size()) return r;
  r.diverging_index = i;
  if (i < first.size()) r.first_event = first[i];
  if (i < second.size()) r.second_event = second[i];
  const size_t from =
      i > DeterminismReport::kContextEvents ? i - DeterminismReport::kContextEvents : 0;
  r.context.assign(first.begin() + static_cast<ptrdiff_t>(from),
                   first.begin() + static_cast<ptrdiff_t>(i));
  return r;
}

DeterminismReport check_determinism(const Scenario& scenario, const ScenarioOptions& options) {
  const ScenarioRun a = run_scenario(scenario, options);
  const ScenarioRun b = run_scenario(scenario, options);
  DeterminismReport r = compare_traces(a.trace, b.trace);
  r.seed = options.seed;
  r.first_hash = a.hash;
  r.second_hash = b.hash;
  r.first_events = a.event_count;
  r.second_events = b.event_count;
  return r;
}

std::string DeterminismReport::to_string() const {
  std::string out = absl::StrCat("trio determinism check, seed ", seed, ": ");
  if (deterministic()) {
    absl::StrAppend(&out, "deterministic (", first_events, " events, trace hash ",
                    format_hash(first_hash), ")\n");
    return out;
  }
  absl::StrAppend(&out, "NOT deterministic: trace hashes ", format_hash(first_hash), " (",
                  first_events, " events) and ", format_hash(second_hash), " (", second_events,
                  " events)\n");
  if (!diverging_index) {
    absl::StrAppend(&out,
                    "  the stored events are identical: the runs diverge after them (raise "
                    "ScenarioOptions::max_trace_events to see where)\n");
    return out;
  }
  absl::StrAppend(&out, "  first diverging event: #", *diverging_index, "\n");
  if (!context.empty()) {
    absl::StrAppend(&out, "  after (same in both runs):\n");
    for (const TraceEvent& e : context)
      absl::StrAppend(&out, "                ", format_event(e), "\n");
  }
  absl::StrAppend(
      &out, "  first run:    ", first_event ? format_event(*first_event) : "(trace ended)", "\n",
      "  second run:   ", second_event ? format_event(*second_event) : "(trace ended)", "\n");
  return out;
}

// ---- livelock budget ----------------------------------------------------------------------------

namespace {
std::string seconds(Duration d) {
  return d == kInfDuration ? std::string("none") : format_time_ns(d.count());
}
}  // namespace

void ProgressBudget::before_run() {
  started_ = false;
  steps_ = 0;
  exceeded_ = false;
  report_.clear();
}

void ProgressBudget::before_task_step(lowlevel::TaskRecord& task) {
  (void)task;
  ++steps_;
  // The step limit is acted on between batches (after_io_wait), where no task is running, so
  // the snapshot shows every task at rest. Only the last resort acts at once.
  if (exceeded_ && steps_ - steps_at_exceeded_ > std::min(max_steps_, kGraceSteps)) check(true);
}

void ProgressBudget::after_io_wait(Duration timeout) {
  (void)timeout;
  check(false);
}

void ProgressBudget::check(bool grace_steps_exceeded) {
  internal::Runner* runner = internal::Runner::current();
  if (!runner) return;
  const TimePoint now = runner->now();
  if (!started_) {
    started_ = true;
    start_ = now;
  }
  if (exceeded_) {
    const bool grace_time_exceeded = saturating_sub(now, exceeded_at_) > max_virtual_time_;
    if (!grace_steps_exceeded && !grace_time_exceeded) return;
    std::fprintf(stderr,
                 "%s\ntrio: the run did not finish after its tasks were cancelled (a task ignores "
                 "Cancelled?); aborting. Task tree now:\n%s",
                 report_.c_str(), runner->task_tree().c_str());
    std::fflush(stderr);
    std::abort();
  }
  const Duration elapsed = saturating_sub(now, start_);
  const bool time_out = elapsed > max_virtual_time_;
  const bool steps_out = steps_ > max_steps_;
  if (!time_out && !steps_out) return;
  exceeded_ = true;
  exceeded_at_ = now;
  steps_at_exceeded_ = steps_;
  report_ = absl::StrCat(
      "trio: no progress (livelock?): the run has not finished after ",
      time_out ? absl::StrCat(format_time_ns(elapsed.count()), " of virtual time (budget ",
                              seconds(max_virtual_time_), ")")
               : absl::StrCat(steps_, " task steps (budget ", max_steps_, ")"),
      "; tasks are still running or waking each other. Every task was cancelled.\n",
      "Task tree at ", format_time_ns(now.time_since_epoch().count()), ":\n", runner->task_tree());
  if (Nursery* system = runner->system_nursery())
    system->cancel_scope().cancel("no progress: ProgressBudget exceeded");
}

}  // namespace trio::testing
