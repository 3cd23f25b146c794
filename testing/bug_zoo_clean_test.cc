// SPDX-License-Identifier: Apache-2.0 OR MIT
// The bug zoo's clean sweeps: the correct variant of each of the seven components of
// testing/bug_zoo.h passes 10,000 seeds (coin-flip schedules, each run under its livelock
// budget) with no report. Sharded (shard_count in BUILD.bazel): each shard runs its share of
// every specimen's seeds.
#include <gtest/gtest.h>

#include <cstdlib>
#include <string>

#include "testing/bug_zoo.h"
#include "testing/sweep.h"

namespace {

using trio::testing::bug_zoo::specimen;
using trio::testing::bug_zoo::Variant;

constexpr uint64_t kSeeds = 10'000;

void expect_clean(const std::string& name) {
  const auto& s = specimen(name);
  const auto report = trio::testing::sweep(s.of(Variant::kCorrect),
                                           {.seeds = kSeeds, .max_virtual_time = s.budget});
  EXPECT_TRUE(report.ok()) << report.to_string();
  if (std::getenv("TRIO_SWEEP_SEED") != nullptr) return;  // reproducing one seed
  EXPECT_EQ(report.seeds_run * report.total_shards, kSeeds) << "this shard ran its share";
}

TEST(BugZooClean, MailboxNeverLosesAWakeUp) { expect_clean("lost_wakeup"); }
TEST(BugZooClean, JournalAlwaysReleasesItsLock) { expect_clean("lock_not_released"); }
TEST(BugZooClean, RelayNeverDropsAMessage) { expect_clean("message_dropped"); }
TEST(BugZooClean, CheckoutNeverVoidsAChargedOrder) { expect_clean("timeout_racing_completion"); }
TEST(BugZooClean, ServerNeverAnswersBeforeTheConfigIsLoaded) { expect_clean("sibling_ordering"); }
TEST(BugZooClean, TransfersNeverDeadlock) { expect_clean("deadlock"); }
TEST(BugZooClean, ElectionAlwaysElectsALeader) { expect_clean("livelock"); }

}  // namespace
