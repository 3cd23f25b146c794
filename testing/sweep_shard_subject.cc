// SPDX-License-Identifier: Apache-2.0 OR MIT
// The subject of sweep_shard_test.sh (a binary, not a test): two sweeps whose scenario fails on
// every seed, so each sweep's report lists every seed it ran, printed as "NAME ran seed S" on
// stdout; the script runs it once per shard index and checks that the seeds form an exact
// partition of each range. Plain.NotASweep is a test that is not a sweep: in a sharded run it
// must fail (the script runs it only when it checks that).
#include <gtest/gtest.h>

#include <iostream>
#include <stdexcept>

#include "runtime/trio.h"
#include "testing/sweep.h"

namespace {

trio::Task<> fails_on_every_seed() {
  co_await trio::checkpoint();
  throw std::runtime_error("every seed fails, so that the report lists the seeds run");
}

void sweep_and_list(const std::string& name, uint64_t first_seed, uint64_t seeds) {
  const auto report = trio::testing::sweep(fails_on_every_seed, {.seeds = seeds,
                                                                 .first_seed = first_seed,
                                                                 .name = name,
                                                                 .stop_at_first_failure = false,
                                                                 .max_failures = seeds,
                                                                 .max_trace_lines = 0});
  for (const auto& f : report.failures) std::cout << name << " ran seed " << f.seed << "\n";
}

TEST(ShardSubject, FirstSweep) { sweep_and_list("first", 5, 103); }
TEST(ShardSubject, SecondSweep) { sweep_and_list("second", 0, 10); }

TEST(Plain, NotASweep) { SUCCEED(); }

}  // namespace
