// SPDX-License-Identifier: Apache-2.0 OR MIT
//
// Cancellation exploration: "what if a cancellation arrived exactly here?", for every "here".
//
// explore_cancellation() runs a body once (autojump MockClock, a seed) and counts its cancel
// points — every checkpoint(), blocking operation and checkpoint_if_cancelled() of every user
// task. It then re-runs the body once per cancel point k (all of them, or a seeded sample when
// there are more than `max_points`), and at the k-th cancel point cancels one of the scopes
// around the task that reached it (RunOptions::cancel_point_hook): the cancellation is delivered
// right there. Up to point k the re-run is the baseline run (same seed, same decisions).
//
// After every run it checks the harness's invariants — the run returned (every task exited),
// trio::lowlevel::live_frames() is back to its value before the run, nothing escaped but an
// expected error — and then the body's own `invariants` (a callable returning "" when they hold,
// else a description). The first failing point is reported with the task, the scope and the
// trace of that run (TraceRecorder text):
//
//   std::deque<int> queue; std::vector<int> done;
//   auto body = [&]() -> trio::Task<> { queue = {1, 2, 3}; done.clear(); co_await drain(queue,
//   done); }; auto invariants = [&]() -> std::string {
//     return queue.size() + done.size() == 3 ? "" : "an item was lost";
//   };
//   auto report = trio::testing::explore_cancellation(body, invariants, {.seed = 1});
//   EXPECT_TRUE(report.ok()) << report.to_string();
//
// The body runs many times: it must reset the state its invariants look at when it starts.
// Cancel points of system tasks and of the run's init task are not counted nor cancelled.
#ifndef TRIO_TESTING_CANCEL_EXPLORE_H_
#define TRIO_TESTING_CANCEL_EXPLORE_H_

#include <cstddef>
#include <cstdint>
#include <exception>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "runtime/run_options.h"
#include "runtime/task.h"
#include "testing/determinism.h"  // Scenario

namespace trio::testing {

// Checked after every run: "" when they hold, else what broke. May be null (empty), may be
// move-only; called many times during one exploration.
using Invariants = absl::AnyInvocable<std::string() const>;

// Which scope around the task is cancelled at the chosen cancel point.
enum class CancelTarget : uint8_t {
  kInnermost,  // the innermost scope (a move_on_after, a nursery's scope, ...)
  kOutermost,  // the outermost one (usually the system nursery's: the whole run is cancelled)
  kEach,       // every enclosing scope in turn: one run per (point, scope)
};

// The cancellation injector shared by explore_cancellation and sweep() (a RunOptions::
// cancel_point_hook): counts the cancel points of user tasks and, at point `target_point`,
// cancels the enclosing scope `scope_index` (0 = innermost; the outermost with
// CancelTarget::kOutermost). The run's own scopes (the system nursery's, around the main task)
// are never cancelled: cancelling them would cancel the run itself.
class CancelInjector final : public CancelPointHook {
 public:
  CancelInjector(uint64_t target_point, size_t scope_index, CancelTarget target)
      : target_point_(target_point), scope_index_(scope_index), target_(target) {}
  void at_cancel_point(lowlevel::TaskRecord& task) override;

  uint64_t count = 0;                        // cancel points reached so far
  std::map<std::string, uint64_t> per_task;  // cancel points per task name
  bool reached = false;                      // the target point was reached
  std::string task_name;                     // the task that reached it
  size_t scope_count = 0;                    // scopes enclosing it (the run's own excluded)
  size_t chosen_scope = 0;                   // the one cancelled
  std::string scope_description;             // its kind, name and site

 private:
  uint64_t target_point_;
  size_t scope_index_;
  CancelTarget target_;
};

struct CancelExploreOptions {
  uint64_t seed = 0;
  SchedulingPolicy scheduling = SchedulingPolicy::kCoinFlip;
  // Replay this choice string (testing/choices.h: "0*12,1") instead of drawing every decision
  // from `seed`: what the repro line of a shrunk failure passes. nullopt: draw from `seed`.
  std::optional<std::string> choices{};
  CancelTarget target = CancelTarget::kInnermost;
  // 0 = every cancel point; otherwise at most this many, a sample drawn with `seed`.
  size_t max_points = 0;
  // Errors the run may raise without failing the point (Cancelled never is: a scope must have
  // caught it). Null: any error fails.
  std::function<bool(const std::exception_ptr&)> expected_error{};
  // Keep exploring after a failure (the report then lists every failing point).
  bool stop_at_first_failure = true;
  // Lines of the failing run's trace kept in the report: the last ones (where it failed).
  size_t max_trace_lines = 300;
  // Shrink the first failure (CancelExploreReport::shrunk), in at most `max_shrink_runs` runs.
  bool shrink = true;
  int max_shrink_runs = 200;
};

struct CancelPointFailure {
  uint64_t point = 0;      // k: the index of the cancel point in the baseline run (0-based)
  std::string task;        // the task that reached it (TaskRecord::name())
  size_t scope_index = 0;  // which enclosing scope was cancelled (0 = innermost)
  size_t scope_count = 0;  // how many scopes enclosed the task there
  // The cancelled scope: its kind, name and where it was created (CancelScope::description()),
  // e.g. `move_on_after "fetch timeout" at app/fetch.cc:42`; empty if none was cancelled.
  std::string scope;
  std::string what;   // the broken invariant(s)
  std::string trace;  // the failing run's trace
  // For a shrunk failure: the choice string its run replays (CancelExploreOptions::choices).
  std::optional<std::string> choices{};
  std::string to_string() const;
};

struct CancelExploreReport {
  uint64_t seed = 0;
  SchedulingPolicy scheduling = SchedulingPolicy::kCoinFlip;
  uint64_t cancel_points = 0;                  // counted in the baseline run
  std::map<std::string, uint64_t> per_task{};  // cancel points per task name
  uint64_t runs = 0;                           // re-runs with an injected cancellation
  std::vector<CancelPointFailure> failures{};  // in the order explored
  std::string baseline_failure;                // set when the run without injection failed
  // The first failure, shrunk (with CancelExploreOptions::shrink): the smallest program prefix
  // and the fewest other decisions that still fail. First the all-default schedule (every
  // decision 0, testing/choices.h) is tried at each cancel point in order; if none fails there,
  // the seed's decisions of the failing run are reduced by delta debugging (ddmin_choices) with
  // the point fixed (the exploration tried the earlier points under them). Its `choices`
  // is set, and its trace is folded (format_report_trace). nullopt: not shrunk.
  std::optional<CancelPointFailure> shrunk{};
  uint64_t shrink_runs = 0;  // the runs shrinking took
  bool ok() const { return failures.empty() && baseline_failure.empty(); }
  // A verdict line; for a failure the first failing point, its task and scope, what broke and
  // the repro options; then the shrunk failure, its repro options and its folded trace (else the
  // first failure's trace).
  std::string to_string() const;
};

// See the file comment. `invariants` may be null. With TRIO_REPLAY set (testing/replay.h), runs
// only the token's cancel point under its seed (the repro line of a failure is that command).
CancelExploreReport explore_cancellation(const Scenario& body, const Invariants& invariants,
                                         const CancelExploreOptions& options = {});

// Runs the body once with a cancellation at point `point` (scope `scope_index`, 0 = innermost),
// as explore_cancellation does, and returns that run's failure, or nullopt if every invariant
// held (or the point was never reached). For reproducing one reported point.
std::optional<CancelPointFailure> run_with_cancellation(const Scenario& body,
                                                        const Invariants& invariants,
                                                        uint64_t point, size_t scope_index,
                                                        const CancelExploreOptions& options = {});

}  // namespace trio::testing

#endif  // TRIO_TESTING_CANCEL_EXPLORE_H_
