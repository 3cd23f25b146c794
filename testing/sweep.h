// SPDX-License-Identifier: Apache-2.0 OR MIT
//
// Seed sweeps: one scenario run over many seeds, split across Bazel test shards.
//
// A scenario is a callable returning `trio::Task<>` (testing/determinism.h's Scenario), run as
// the main task of a fresh `trio::run` on an autojump MockClock for each seed. It fails by
// raising (an invariant it checks, a DeadlockError, ...) or by leaking coroutine frames. The
// scenario runs many times: keep its state in the coroutine (or reset it when it starts).
//
//   TEST(JobQueue, NeverLosesAJob) {
//     auto report = trio::testing::sweep(job_queue_scenario, {.seeds = 2000});
//     EXPECT_TRUE(report.ok()) << report.to_string();
//   }
//
// Sharding. Under `bazel test` with `shard_count = N`, shard i runs the seeds s with
// (s - first_seed) % N == i (TEST_TOTAL_SHARDS / TEST_SHARD_INDEX), and touches
// TEST_SHARD_STATUS_FILE so Bazel knows the test supports sharding. A sweep is just a test, so
// it runs on any Bazel remote-execution cluster.
//
// Output. While it runs, a progress line on stderr when stderr is a terminal; at the end one
// summary line ("trio sweep NAME: seeds 0..1999 (shard 2/4), 500 run in 0.05 s, 9615 seeds/s,
// 0 failing"). For every failing seed (up to max_failures), a file
// $TEST_UNDECLARED_OUTPUTS_DIR/sweep-NAME-seed-S.txt with the error, the repro line and the
// run's trace (Bazel zips them into bazel-testlogs/.../test.outputs/outputs.zip).
//
// Reproducing. The report names the first failing seed and a command that runs only that seed:
//     bazel test //pkg:target --test_filter=Suite.Name --test_env=TRIO_SWEEP_SEED=S
// With TRIO_SWEEP_SEED set, sweep() runs that one seed (on shard 0 only) and ignores `seeds`.
// With use_environment = false the variable is ignored, so the repro line is the call instead:
// `trio::testing::run_seed(scenario, S)`.
#ifndef TRIO_TESTING_SWEEP_H_
#define TRIO_TESTING_SWEEP_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "runtime/run_options.h"
#include "runtime/time.h"
#include "testing/determinism.h"

namespace trio::testing {

enum class SweepProgress : uint8_t {
  kAuto,    // a live progress line when stderr is a terminal, else only the summary line
  kAlways,  // the live progress line even when stderr is not a terminal
  kQuiet,   // nothing printed (the caller prints the report)
};

struct SweepOptions {
  uint64_t seeds = 1000;  // how many seeds, in all shards together
  uint64_t first_seed = 0;
  SchedulingPolicy scheduling = SchedulingPolicy::kCoinFlip;
  // Names the sweep in output lines and files; "" = the running gtest test's "Suite.Name".
  std::string name{};
  // Stop at the first failing seed (a shard's later seeds are not run).
  bool stop_at_first_failure = true;
  // Failing seeds kept in the report (with traces) and written to the outputs directory.
  size_t max_failures = 5;
  size_t max_trace_lines = 400;  // the last ones (where it failed)
  // Livelock budget per run, in virtual time (kInfDuration: none; see ProgressBudget).
  Duration max_virtual_time = kInfDuration;
  SweepProgress progress = SweepProgress::kAuto;
  // The command reproducing one seed; null = the Bazel one (see the file comment).
  std::function<std::string(uint64_t seed)> repro{};
  // Honour TRIO_SWEEP_SEED and the Bazel sharding variables (turn off to run exactly the
  // seeds asked for, e.g. in a test of the sweep itself).
  bool use_environment = true;
};

struct SweepFailure {
  uint64_t seed = 0;
  std::string what;   // what the run raised, or the leak
  std::string repro;  // the command reproducing it
  std::string trace;  // the run's trace (re-run with a recorder)
};

struct SweepReport {
  std::string name;
  uint64_t first_seed = 0;
  uint64_t seeds = 0;      // asked for, in all shards
  uint64_t seeds_run = 0;  // by this process
  uint64_t shard_index = 0;
  uint64_t total_shards = 1;
  double seconds = 0;  // real time
  std::vector<SweepFailure> failures{};
  uint64_t failing_seeds = 0;  // may exceed failures.size()

  bool ok() const { return failing_seeds == 0; }
  // The summary line (no newline).
  std::string summary() const;
  // The summary; for a failure the first failing seed, what it raised, its repro line and trace.
  std::string to_string() const;
};

// Runs `scenario` over the seeds (see the file comment). Never throws what a run raises.
SweepReport sweep(const Scenario& scenario, const SweepOptions& options = {});

// Runs one seed the way sweep() does and returns its failure, or "" if it passed.
std::string run_seed(const Scenario& scenario, uint64_t seed, const SweepOptions& options = {});

}  // namespace trio::testing

#endif  // TRIO_TESTING_SWEEP_H_
