// SPDX-License-Identifier: Apache-2.0 OR MIT
//
// Running a scenario in simulation, with a trace: the determinism self-check and the livelock
// budget of hang reports.
//
// A scenario is a callable returning `trio::Task<>`, run as the main task of a fresh
// `trio::run` on a MockClock with autojump threshold 0 (virtual time) and a seed. Everything
// that can happen in such a run follows from the seed — unless the code under test reads
// something outside the run (a global that changes between runs, std::random_device, the real
// clock, addresses). check_determinism() catches that: it runs the same seed twice and compares
// the hashes of the two event traces; on a mismatch it names the first diverging event.
//
//   auto report = trio::testing::check_determinism(my_scenario, {.seed = 7});
//   EXPECT_TRUE(report.deterministic()) << report.to_string();
//
// Hang reports. A run in which no task can ever run again fails by itself with
// trio::DeadlockError and the task tree (the runtime detects it). A run that keeps running
// without finishing — tasks waking each other forever, or a timer loop — is a livelock: give it
// a budget and it fails with LivelockError and the same task tree instead of running forever:
//
//   auto run = trio::testing::run_scenario(ping_pong, {.seed = 1, .max_virtual_time = 60s});
//   // run.error holds a LivelockError: "no progress: virtual time passed the budget ..."
//
// The budget is an instrument (ProgressBudget), not part of the run loop: when virtual time
// passes `max_virtual_time` after the start, or more than `max_steps` task steps ran, it takes a
// snapshot of the task tree and cancels every task (the system nursery's scope, which encloses
// the main task and the system tasks). If the run still has not finished after a second budget
// of the same size (or kGraceSteps steps), the tasks are ignoring cancellation: the report is
// printed to stderr and the process aborts, since a run cannot be stopped from the outside.
#ifndef TRIO_TESTING_DETERMINISM_H_
#define TRIO_TESTING_DETERMINISM_H_

#include <cstdint>
#include <exception>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "runtime/instrument.h"
#include "runtime/run_options.h"
#include "runtime/task.h"
#include "runtime/time.h"
#include "testing/trace.h"

namespace trio::testing {

// A callable that starts one run of the system under test. It is called once per run (many
// times during one sweep), so it must build fresh state each time. An AnyInvocable, not a
// std::function: a scenario may be move-only (capture a unique_ptr); `const`, since every
// function here takes `const Scenario&` and calls it repeatedly.
using Scenario = absl::AnyInvocable<Task<>() const>;

struct ScenarioOptions {
  uint64_t seed = 0;
  SchedulingPolicy scheduling = SchedulingPolicy::kCoinFlip;
  // Livelock budgets, from the start of the run (kInfDuration / UINT64_MAX: none).
  Duration max_virtual_time = kInfDuration;
  uint64_t max_steps = UINT64_MAX;
  // Instruments to add after the run's own recorder (and budget).
  std::vector<Instrument*> instruments{};
  size_t max_trace_events = TraceRecorder::kDefaultMaxEvents;
};

struct ScenarioRun {
  Trace trace;               // the stored events (see TraceRecorder::max_events)
  uint64_t hash = 0;         // of every event
  uint64_t event_count = 0;  // every event, stored or not
  // What the run raised, or null. A LivelockError when a budget ran out (whatever the run
  // raised after the cancellation is then dropped).
  std::exception_ptr error;
};

// Runs `scenario` once on a fresh autojump MockClock with `options`. The trace ends with a note
// "run returned" or "run raised <description of the error>", so the outcome is part of the hash.
// Never throws what the run raises: it is in `error`.
ScenarioRun run_scenario(const Scenario& scenario, const ScenarioOptions& options = {});

// ---- determinism ------------------------------------------------------------------------------

struct DeterminismReport {
  uint64_t seed = 0;
  uint64_t first_hash = 0;
  uint64_t second_hash = 0;
  uint64_t first_events = 0;
  uint64_t second_events = 0;
  // Where the stored traces first differ (also set when one trace is a prefix of the other:
  // then one of the events is empty). Unset when the stored traces are equal: either the runs
  // are deterministic, or they differ only after the stored events (see to_string()).
  std::optional<size_t> diverging_index;
  std::optional<TraceEvent> first_event;
  std::optional<TraceEvent> second_event;
  // Up to kContextEvents events just before the divergence (equal in both runs).
  Trace context;

  static constexpr size_t kContextEvents = 5;
  bool deterministic() const { return first_hash == second_hash; }
  // A few lines: the verdict, the seed, the hashes, and for a mismatch the diverging events
  // with their context.
  std::string to_string() const;
};

// Runs `scenario` twice with the same options and compares the traces.
DeterminismReport check_determinism(const Scenario& scenario, const ScenarioOptions& options = {});

// Compares two traces: the report's divergence fields (hashes and counts from the traces).
DeterminismReport compare_traces(const Trace& first, const Trace& second);

// ---- livelock budget ----------------------------------------------------------------------------

// A run exceeded its ProgressBudget. what(): "trio: no progress (livelock?): ..." with the task
// tree at the moment the budget ran out.
class LivelockError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// The instrument behind ScenarioOptions::max_virtual_time / max_steps (usable with trio::run
// directly: after the run, check exceeded() and report()). One run at a time.
class ProgressBudget : public Instrument {
 public:
  // Steps allowed after the cancellation before the process aborts, if max_steps is unlimited.
  static constexpr uint64_t kGraceSteps = 1'000'000;

  explicit ProgressBudget(Duration max_virtual_time, uint64_t max_steps = UINT64_MAX)
      : max_virtual_time_(max_virtual_time), max_steps_(max_steps) {}

  bool exceeded() const { return exceeded_; }
  // The no-progress report ("" until exceeded).
  const std::string& report() const { return report_; }

  void before_run() override;
  void before_task_step(lowlevel::TaskRecord& task) override;
  void after_io_wait(Duration timeout) override;

 private:
  void check(bool steps_exceeded);
  Duration max_virtual_time_;
  uint64_t max_steps_;
  bool started_ = false;
  TimePoint start_{};
  uint64_t steps_ = 0;
  bool exceeded_ = false;
  TimePoint exceeded_at_{};
  uint64_t steps_at_exceeded_ = 0;
  std::string report_;
};

}  // namespace trio::testing

#endif  // TRIO_TESTING_DETERMINISM_H_
