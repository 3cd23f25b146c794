// SPDX-License-Identifier: Apache-2.0 OR MIT
//
// Seed sweeps: the one entry point of schedule, cancellation and timing-race exploration. A
// scenario runs over many seeds, split across Bazel test shards; options choose the scheduling
// policy (coin flips, shuffles, PCT), add cancellation exploration (a cancellation at each cancel
// point of each seed's run) and timer perturbation (deadlines nudged onto the same instant).
// Every failure is reported the same way, with one shell command that replays it.
//
// A scenario is a callable returning `trio::Task<>` (testing/determinism.h's Scenario), run as
// the main task of a fresh `trio::run` on an autojump MockClock for each seed. It fails by
// raising (an invariant it checks, a DeadlockError, ...), by leaking coroutine frames, by
// exceeding `max_virtual_time` (a livelock), or when `invariants()` (if given) says so after the
// run. The scenario runs many times: keep its state in the coroutine (or reset it when it
// starts).
//
//   TEST(JobQueue, NeverLosesAJob) {
//     auto report = trio::testing::sweep(job_queue_scenario, {.seeds = 2000});
//     EXPECT_TRUE(report.ok()) << report.to_string();
//   }
//
// Exploration options (they combine: each run of seed s uses all of them):
//   .schedule = Schedule::kPct, .pct = {.depth = 3}   the scheduling policy (pct.h): kCoinFlip
//                                                   (Trio's, the default), kShuffle, kPct, kFifo,
//                                                   kLifo
//   .cancellation = {.enabled = true}               for each seed, the run without injection,
//                                                   then one run per cancel point k with a
//                                                   cancellation delivered at k (as
//                                                   explore_cancellation does; cancel_explore.h)
//   .timer_perturbation = 20ms                      deadlines less than 20 ms apart land on the
//                                                   same instant (a tie) or swap, by decisions of
//                                                   the seed (RunOptions::
//                                                   timer_perturbation_window; off by default)
//
// Sharding. Under `bazel test` with `shard_count = N`, shard i runs the seeds s with
// (s - first_seed) % N == i (TEST_TOTAL_SHARDS / TEST_SHARD_INDEX), and touches
// TEST_SHARD_STATUS_FILE so Bazel knows the test supports sharding. Bazel also hands gtest its
// shard variables, with which gtest would run each TEST in one shard only; a sharded binary that
// links this library takes them away before main() (whatever main() it uses), so every TEST runs
// in every shard and every seed of every sweep runs exactly once. A sharded target must hold
// sweep tests only: a TEST that calls no sweep() fails there (it would run once per shard). A
// sweep is just a test, so it runs on any Bazel remote-execution cluster.
//
// Output. While it runs, a progress line on stderr when stderr is a terminal; at the end one
// summary line ("trio sweep NAME: seeds 0..1999 (shard 2/4), 500 of 2000 seeds run in 0.05 s,
// 9615 seeds/s, 0 failing"). For every failing run (up to max_failures), a file
// $TEST_UNDECLARED_OUTPUTS_DIR/sweep-NAME-seed-S.txt with the error, the repro line and the
// run's trace (Bazel zips them into bazel-testlogs/.../test.outputs/outputs.zip).
//
// Reproducing. The report names the first failing run and one shell command that replays it
// (testing/replay.h), e.g.
//     bazel test //pkg:target --test_filter=Suite.Name --test_env=TRIO_REPLAY=seed=S:cancel=4.0
// With TRIO_REPLAY set, sweep() runs that one run (on shard 0 only) and ignores `seeds`; the
// token's schedule, cancel point and perturbation replace the options'. TRIO_SWEEP_SEED=S (the
// older form) runs seed S with the options. With use_environment = false both are ignored, so
// the repro line is the call instead: `trio::testing::run_seed(scenario, S)`.
#ifndef TRIO_TESTING_SWEEP_H_
#define TRIO_TESTING_SWEEP_H_

#include <cstddef>
#include <cstdint>
#include <exception>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "runtime/time.h"
#include "testing/cancel_explore.h"
#include "testing/determinism.h"
#include "testing/pct.h"
#include "testing/property.h"  // run_seed(scenario, seed): one run, as a ScheduleRun
#include "testing/replay.h"

namespace trio::testing {

enum class SweepProgress : uint8_t {
  kAuto,    // a live progress line when stderr is a terminal, else only the summary line
  kAlways,  // the live progress line even when stderr is not a terminal
  kQuiet,   // nothing printed (the caller prints the report)
};

// Cancellation exploration inside a sweep (see the file comment).
struct SweepCancellation {
  bool enabled = false;
  // Which scope around the task is cancelled at the point (cancel_explore.h).
  CancelTarget target = CancelTarget::kInnermost;
  // Per seed: 0 = every cancel point; otherwise at most this many, a sample drawn from the seed.
  size_t max_points = 0;
  // Errors a run with an injected cancellation may raise without failing (Cancelled never may:
  // a scope must have caught it). Null: any error fails.
  std::function<bool(const std::exception_ptr&)> expected_error{};
};

struct SweepOptions {
  uint64_t seeds = 1000;  // how many seeds, in all shards together
  uint64_t first_seed = 0;
  // The scheduling policy of every run; PCT's options with Schedule::kPct.
  Schedule schedule = Schedule::kCoinFlip;
  PctOptions pct{};
  // Names the sweep in output lines and files; "" = the running gtest test's "Suite.Name".
  std::string name{};
  // Stop at the first failing run (a shard's later seeds and points are not run).
  bool stop_at_first_failure = true;
  // Failing runs kept in the report (with traces) and written to the outputs directory.
  size_t max_failures = 5;
  size_t max_trace_lines = 400;  // the last ones (where it failed)
  // Livelock budget per run, in virtual time (kInfDuration: none; see ProgressBudget).
  Duration max_virtual_time = kInfDuration;
  SweepProgress progress = SweepProgress::kAuto;
  // The command reproducing one seed; null = the shell command of replay.h.
  std::function<std::string(uint64_t seed)> repro{};
  // Honour TRIO_REPLAY, TRIO_SWEEP_SEED and the Bazel sharding variables (turn off to run
  // exactly the seeds asked for, e.g. in a test of the sweep itself).
  bool use_environment = true;
  // Cancellation exploration: off by default.
  SweepCancellation cancellation{};
  // Timer perturbation window (RunOptions::timer_perturbation_window): 0 = off, exact times.
  Duration timer_perturbation = Duration(0);
  // Checked after every run: "" when they hold, else what broke. Null: none.
  std::function<std::string()> invariants{};
};

struct SweepFailure {
  uint64_t seed = 0;
  std::string what;     // what the run raised, the leak, or the broken invariant
  std::string repro;    // the command reproducing it
  std::string trace{};  // the run's trace (re-run with a recorder), its end
  // The injected cancellation, with cancellation exploration: the point (0-based, in the run
  // of that seed), the task that reached it, which enclosing scope was cancelled and how many
  // there were.
  std::optional<uint64_t> cancel_point{};
  std::string cancel_task{};
  size_t cancel_scope = 0;
  size_t scope_count = 0;
  ReplayToken token{};    // what TRIO_REPLAY replays
  std::string choices{};  // the run's choice string (choices.h: replay_choices from code)
  uint64_t hash = 0;      // of its trace
};

struct SweepReport {
  std::string name;
  uint64_t first_seed = 0;
  uint64_t seeds = 0;      // asked for, in all shards
  uint64_t seeds_run = 0;  // by this process
  uint64_t runs = 0;       // by this process, runs with an injected cancellation included
  uint64_t shard_index = 0;
  uint64_t total_shards = 1;
  std::string exploration;  // the options beyond coin flips, e.g. "pct depth 3", "" if none
  std::string replayed;     // the TRIO_REPLAY token this sweep replayed, "" if none
  double seconds = 0;       // real time
  std::vector<SweepFailure> failures{};
  uint64_t failing_seeds = 0;  // failing runs; may exceed failures.size()

  bool ok() const { return failing_seeds == 0; }
  // The summary line (no newline).
  std::string summary() const;
  // The summary; for a failure the first failing run, what it raised, its repro line, its
  // choices and trace.
  std::string to_string() const;
};

// Runs `scenario` over the seeds (see the file comment). Never throws what a run raises.
SweepReport sweep(const Scenario& scenario, const SweepOptions& options = {});

// Runs one seed the way sweep() does (schedule, timer perturbation, budget, invariants; no
// injected cancellation) and returns its failure, or "" if it passed. `run_seed(scenario, seed)`
// without options is property.h's: the same run, as a ScheduleRun with its trace and choices.
std::string run_seed(const Scenario& scenario, uint64_t seed, const SweepOptions& options);

// Runs the one run a token describes, as sweep() does under TRIO_REPLAY (the token's schedule,
// cancel point and perturbation replace the options'), and returns it as a failure (what = ""
// if it passed).
SweepFailure replay_token(const Scenario& scenario, const ReplayToken& token,
                          const SweepOptions& options = {});

}  // namespace trio::testing

#endif  // TRIO_TESTING_SWEEP_H_
