// SPDX-License-Identifier: Apache-2.0 OR MIT
//
// Schedule exploration, replay and property tests with shrinking.
//
// A scenario (determinism.h: a callable returning trio::Task<>) runs on a fresh autojump
// MockClock with every decision drawn from a ChoiceSource (choices.h) under a Schedule (pct.h).
// It *fails* when the run raises (an invariant check throwing, an ExceptionGroup from a
// nursery, a DeadlockError) or leaks coroutine frames. Throw to fail: prop_assert(cond, what).
//
//   // Seeds: the first failing seed of 1,000 under PCT.
//   auto sweep = trio::testing::sweep_seeds(scenario, 1, 1000, {.schedule = Schedule::kPct});
//   // Replay: the recorded choice string reproduces the run (the same trace hash).
//   auto again = trio::testing::replay_choices(scenario, sweep.failure.choice_string(), opts);
//   // Property: rapidcheck draws every decision, and shrinks a failing run towards zeros.
//   auto result = trio::testing::check_property(scenario, {.max_cases = 200});
//   EXPECT_TRUE(result.passed) << result.report;
//
// check_property runs rapidcheck with a fixed seed (PropertyOptions::rapidcheck_seed, printed),
// so it is deterministic. Inside each case a ChoiceSource calls *rc::gen::inRange(0, n) for
// every decision (the normalized value, see choices.h; drawn at full size from the first case,
// so case 1 explores as much as case 100). The first failing case is shrunk towards 0 — the FIFO
// schedule — by shrink_choices (delta debugging over the choice sequence, then reduce_choices).
// The report shows the shrunk run: its error, its choice string (feed it to replay_choices), and
// its trace (virtual time, task, event), folded (trace.h: format_report_trace); a livelock as the
// cycle it is stuck in (find_cycle).
//
// TRIO_PROP(Suite, Name) / TRIO_PROP_WITH(Suite, Name, {options}) is a TEST whose body is the
// scenario, checked with check_property:
//
//   TRIO_PROP(Counter, NoDoubleEntry) {
//     co_await trio::open_nursery([&](trio::Nursery& n) -> trio::Task<> { ... });
//   }
#ifndef TRIO_TESTING_PROPERTY_H_
#define TRIO_TESTING_PROPERTY_H_

#include <gtest/gtest.h>

#include <cstddef>
#include <cstdint>
#include <exception>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "testing/choices.h"
#include "testing/determinism.h"
#include "testing/pct.h"
#include "testing/trace.h"

namespace trio::testing {

// Thrown by prop_assert: a scenario's invariant does not hold.
class PropertyViolation : public std::logic_error {
 public:
  using std::logic_error::logic_error;
};
inline void prop_assert(bool condition, const char* what) {
  if (!condition) throw PropertyViolation(what);
}

struct ExploreOptions {
  Schedule schedule = Schedule::kCoinFlip;
  PctOptions pct{};
  size_t max_trace_events = 10'000;
  // Livelock budget per run, in virtual time (kInfDuration: none): a run still going after it
  // fails with ProgressBudget's no-progress report (determinism.h) instead of running forever.
  Duration max_virtual_time = kInfDuration;
  // Timer perturbation window (RunOptions::timer_perturbation_window): 0 = off, exact times.
  Duration timer_perturbation = Duration(0);
};

struct ScheduleRun {
  Trace trace;  // ends with a note "run returned" / "run raised ..."
  uint64_t hash = 0;
  std::vector<Choice> choices;  // every decision, normalized
  std::string error;            // "" when the run passed
  // Where the livelock budget (ExploreOptions::max_virtual_time) ran out: the number of events
  // recorded before its cancellation. SIZE_MAX when it did not run out.
  size_t budget_ran_out_at = SIZE_MAX;
  bool failed() const { return !error.empty(); }
  std::string choice_string() const { return format_choices(choices); }
};

// One run of `scenario` drawing from `source`.
ScheduleRun run_with_choices(const Scenario& scenario, ChoiceSource& source,
                             const ExploreOptions& options = {});
// One run recording the decisions of trio::Prng(seed).
ScheduleRun run_seed(const Scenario& scenario, uint64_t seed, const ExploreOptions& options = {});
// One run replaying a choice string (see ReplayChoiceSource). std::invalid_argument if malformed.
ScheduleRun replay_choices(const Scenario& scenario, const std::string& choice_string,
                           const ExploreOptions& options = {});

struct SweepResult {
  uint64_t seeds_run = 0;                // including the failing one
  std::optional<uint64_t> failing_seed;  // the first one
  ScheduleRun failure;                   // its run
};
// Runs seeds first_seed, first_seed + 1, ... (count of them) until one fails.
SweepResult sweep_seeds(const Scenario& scenario, uint64_t first_seed, uint64_t count,
                        const ExploreOptions& options = {});

// Our own reducer on the choice sequence, run after delta debugging in shrink_choices (or on
// what rapidcheck's shrinking left: single edits stop at local minima such as an odd number of
// batch reversals):
// replays `failing` with one non-zero decision set to 0, then two at once, then one set to 0
// and another to its largest value, then one made smaller, keeping any edit that still fails and
// has fewer non-zero decisions (or as many with a smaller sum), until no edit helps or `max_runs`
// replays ran. Returns the smallest failing run;
// `*runs` (if given) gets the number of replays.
ScheduleRun reduce_choices(const Scenario& scenario, const ScheduleRun& failing,
                           const ExploreOptions& options = {}, int max_runs = 2000,
                           int* runs = nullptr);

// The shrinker of check_property: delta debugging on the choice sequence (ddmin_choices in
// choices.h: the all-default sequence, then halves, quarters, ... of the non-simplest decisions
// zeroed at once, down to single ones), then reduce_choices. Keeps a replay that still fails and
// has fewer non-zero decisions (or as many with a smaller sum). A failure that needs a few
// decisions of thousands — a livelock's coin flips — shrinks in tens of replays, not thousands.
// `*runs` (if given) gets the number of replays.
ScheduleRun shrink_choices(const Scenario& scenario, const ScheduleRun& failing,
                           const ExploreOptions& options = {}, int max_runs = 2000,
                           int* runs = nullptr);

// The report's trace of a failing run: for a livelock (the budget ran out) the cycle it is
// stuck in — its last turn, the events before it and the unwinding — else the end of the trace;
// folded (format_report_trace: no bookkeeping of the run itself), at most about `max_lines`.
std::string format_failing_trace(const ScheduleRun& run, size_t max_lines);

struct PropertyOptions {
  ExploreOptions explore{};
  uint64_t rapidcheck_seed = 0;
  int max_cases = 100;  // rapidcheck's maxSuccess
  bool shrink = true;
  // With shrink: our shrinker (shrink_choices) on the first failing case. false: rapidcheck's
  // own shrinking instead, which simplifies one decision at a time (a replay per decision: slow
  // on long runs, and stuck at local minima that reduce_choices' pair edits escape).
  bool reduce = true;
  size_t report_trace_lines = 60;  // the end of the shrunk trace
};

struct PropertyResult {
  bool passed = true;
  int cases = 0;        // cases run until the first failure (all of them if it passed)
  int shrink_runs = 0;  // replays after the first failure (rapidcheck's or shrink_choices')
  std::vector<Choice> first_choices;  // the first failing case, unshrunk
  ScheduleRun shrunk;                 // the minimal failing run (when !passed)
  std::string report;                 // for the test's failure message
};

// With TRIO_REPLAY set (testing/replay.h), replays the token's run instead of searching, and
// reports it the same way. The report's "reproduce with:" line is that shell command.
PropertyResult check_property(const Scenario& scenario, const PropertyOptions& options = {});

}  // namespace trio::testing

#define TRIO_PROP(Suite, Name) TRIO_PROP_WITH(Suite, Name, {})
// The last argument initializes a trio::testing::PropertyOptions.
#define TRIO_PROP_WITH(Suite, Name, ...)                                                 \
  static ::trio::Task<> Suite##_##Name##_TrioPropBody_();                                \
  TEST(Suite, Name) {                                                                    \
    const auto trio_prop_result_ = ::trio::testing::check_property(                      \
        &Suite##_##Name##_TrioPropBody_, ::trio::testing::PropertyOptions(__VA_ARGS__)); \
    EXPECT_TRUE(trio_prop_result_.passed) << trio_prop_result_.report;                   \
  }                                                                                      \
  static ::trio::Task<> Suite##_##Name##_TrioPropBody_()

#endif  // TRIO_TESTING_PROPERTY_H_
