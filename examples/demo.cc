// SPDX-License-Identifier: Apache-2.0 OR MIT
//
// The main demo: `./bazelw run //examples:demo`. Runs the testing layer on a job pool with a
// cancellation bug (examples/demo_job_pool.h) and on its fixed version:
//   1. a seed sweep of the buggy pool stops at the first failing seed, with its trace and a
//      repro line;
//   2. cancellation exploration on one seed names the exact cancel point that loses a job;
//   3. the fixed pool survives 10,000 seeds and a cancellation at every cancel point.
// Exit status 0 when the bug was found and the fix survived.
//
//   ./bazelw run //examples:demo -- --seed=N     one seed of the buggy pool, with its trace
//   ./bazelw run //examples:demo -- --seeds=N    sweep N seeds instead of 10,000
//   ./bazelw run //examples:demo -- --help       the flags
#include <cstdint>
#include <iostream>
#include <optional>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/str_cat.h"
#include "examples/demo_job_pool.h"
#include "testing/cancel_explore.h"
#include "testing/determinism.h"
#include "testing/sweep.h"

ABSL_FLAG(std::optional<uint64_t>, seed, std::nullopt,
          "Runs this one seed of the buggy job pool and prints its trace, instead of the demo.");
ABSL_FLAG(uint64_t, seeds, 10'000, "How many seeds each sweep of the demo runs.");

namespace {

std::string repro(uint64_t seed) {
  return absl::StrCat("./bazelw run //examples:demo -- --seed=", seed);
}

trio::testing::Scenario pool(bool fixed) {
  return [fixed] { return examples::job_pool_scenario({.fixed = fixed}); };
}

}  // namespace

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "the trio-cpp demo: a seed sweep and cancellation exploration find a job pool's "
      "cancellation bug, and its fixed version survives both.\n"
      "usage: demo [--seed=N | --seeds=N]");
  if (const std::vector<char*> rest = absl::ParseCommandLine(argc, argv); rest.size() > 1) {
    std::cerr << "usage: demo [--seed=N | --seeds=N] (see --help)\n";
    return 2;
  }
  if (const std::optional<uint64_t> seed = absl::GetFlag(FLAGS_seed)) {
    auto run = trio::testing::run_scenario(pool(false), {.seed = *seed});
    std::cout << trio::testing::format_trace(run.trace);
    return run.error ? 1 : 0;
  }
  const uint64_t seeds = absl::GetFlag(FLAGS_seeds);

  std::cout << "== 1. Seed sweep of the buggy job pool (3 workers, 12 jobs, shutdown at a "
               "random time) ==\n"
            << std::flush;
  auto buggy = trio::testing::sweep(pool(false), {.seeds = seeds,
                                                  .name = "buggy job pool",
                                                  .max_trace_lines = 30,
                                                  .repro = repro,
                                                  .use_environment = false});
  if (buggy.ok()) {
    std::cout << "the bug was NOT found\n";
    return 1;
  }
  const auto& failure = buggy.failures.front();
  std::cout << "seed " << failure.seed << " " << failure.what
            << "\nreproduce with: " << failure.repro << "\nthe end of its trace:\n"
            << failure.trace << "\n";

  // Exploration starts from a run that passes: the first seed whose run does not fail by itself.
  uint64_t seed = 0;
  while (trio::testing::run_seed(pool(false), seed).failed()) ++seed;
  std::cout << "== 2. Cancellation exploration of the buggy job pool, seed " << seed << " ==\n";
  auto explored = trio::testing::explore_cancellation(pool(false), nullptr,
                                                      {.seed = seed, .max_trace_lines = 0});
  if (explored.failures.empty()) {
    std::cout << "no failing cancel point: " << explored.to_string();
    return 1;
  }
  std::cout << explored.cancel_points
            << " cancel points; first failure: " << explored.failures.front().to_string() << "\n\n";

  std::cout << "== 3. The fixed job pool ==\n" << std::flush;
  auto fixed = trio::testing::sweep(
      pool(true),
      {.seeds = seeds, .name = "fixed job pool", .repro = repro, .use_environment = false});
  auto fixed_explored = trio::testing::explore_cancellation(pool(true), nullptr, {.seed = 0});
  std::cout << fixed_explored.to_string();
  if (!fixed.ok()) std::cout << fixed.to_string();
  return fixed.ok() && fixed_explored.ok() ? 0 : 1;
}
