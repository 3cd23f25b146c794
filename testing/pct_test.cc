// SPDX-License-Identifier: Apache-2.0 OR MIT
// PctScheduler: with all-zero choices it is FIFO; ranks drawn on first sight order every batch;
// a change point moves the running task behind every other; it identifies tasks by spawn
// counter so a run replays exactly. Seed sweeps under PCT find a planted check-then-act race and
// a lost wake-up within 1,000 seeds (the recorded choices replay them), and the correct versions
// survive 2,000 seeds under PCT, coin flips and shuffles.
#include "testing/pct.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "runtime/trio.h"
#include "testing/choices.h"
#include "testing/planted_bugs.h"
#include "testing/property.h"

using trio::Task;
using trio::testing::ExploreOptions;
using trio::testing::prop_assert;
using trio::testing::Schedule;

namespace {

using trio::testing::planted::check_then_act;
using trio::testing::planted::lost_wakeup;

// Three siblings each log their letter at three checkpoints: the log is the schedule.
std::string* g_log = nullptr;
Task<> three_loggers() {
  co_await trio::open_nursery([&](trio::Nursery& n) -> Task<> {
    for (char c : {'a', 'b', 'c'})
      n.start_soon(
          [](char me) -> Task<> {
            for (int i = 0; i < 3; ++i) {
              *g_log += me;
              co_await trio::checkpoint();
            }
          },
          c);
    co_return;
  });
}

std::string run_logged(const std::string& choice_string, trio::testing::PctOptions pct) {
  std::string log;
  g_log = &log;
  auto run = trio::testing::replay_choices(three_loggers, choice_string,
                                           ExploreOptions{.schedule = Schedule::kPct, .pct = pct});
  g_log = nullptr;
  EXPECT_FALSE(run.failed()) << run.error;
  return log;
}

}  // namespace

TEST(Pct, AllZeroChoicesRunBatchesInFifoOrder) {
  EXPECT_EQ(run_logged("", {.depth = 3}), "abcabcabc");
}

TEST(Pct, RanksOrderEveryBatch) {
  // Two change points (both 0: none), then ranks: a (n=1), b above a (1 of n=2), c on top (2).
  EXPECT_EQ(run_logged("0,0,0,1,2", {.depth = 3}), "cbacbacba");
  // c between b (top) and a: rank 1 of n=3.
  EXPECT_EQ(run_logged("0,0,0,1,1", {.depth = 3}), "bcabcabca");
}

TEST(Pct, ChangePointDropsTheRunningTaskBelowEveryOther) {
  // depth 2: one change point at step 4. Steps: 1 = the init task, 2 = main, 3 = a, 4 = b -> b
  // drops to the bottom from the next batch on.
  EXPECT_EQ(run_logged("4", {.depth = 2, .max_steps = 20}), "abcacbacb");
}

TEST(Pct, DrawsChangePointsThenRanksOnFirstSight) {
  trio::testing::RecordingChoiceSource choices(5);
  std::string log;
  g_log = &log;
  auto run = trio::testing::run_with_choices(
      three_loggers, choices, ExploreOptions{.schedule = Schedule::kPct, .pct = {.depth = 3}});
  g_log = nullptr;
  ASSERT_FALSE(run.failed()) << run.error;
  ASSERT_GE(run.choices.size(), 5u);
  EXPECT_EQ(run.choices[0].n, 101u);  // change point, max_steps + 1
  EXPECT_EQ(run.choices[1].n, 101u);
  EXPECT_EQ(run.choices[2].n, 1u);  // a's rank: nothing to compare with
  EXPECT_EQ(run.choices[3].n, 2u);
  EXPECT_EQ(run.choices[4].n, 3u);
  for (const auto& c : run.choices) EXPECT_EQ(c.kind, trio::ChoiceKind::kUser);
}

TEST(Pct, SameSeedSameTraceHash) {
  ExploreOptions pct{.schedule = Schedule::kPct};
  for (uint64_t seed = 0; seed < 20; ++seed) {
    auto first = trio::testing::run_seed([] { return check_then_act(false); }, seed, pct);
    auto second = trio::testing::run_seed([] { return check_then_act(false); }, seed, pct);
    EXPECT_EQ(first.hash, second.hash) << "seed " << seed;
  }
}

TEST(Pct, FindsCheckThenActRaceWithin1000Seeds) {
  auto sweep = trio::testing::sweep_seeds([] { return check_then_act(false); }, 1, 1000,
                                          ExploreOptions{.schedule = Schedule::kPct});
  ASSERT_TRUE(sweep.failing_seed.has_value());
  EXPECT_LE(sweep.seeds_run, 1000u);
  std::cout << "[figures] check-then-act under PCT: first failing seed " << *sweep.failing_seed
            << " after " << sweep.seeds_run << " seeds; choices \"" << sweep.failure.choice_string()
            << "\"\n";
  // Replay: the recorded choice string reproduces the run exactly.
  auto again = trio::testing::replay_choices([] { return check_then_act(false); },
                                             sweep.failure.choice_string(),
                                             ExploreOptions{.schedule = Schedule::kPct});
  EXPECT_TRUE(again.failed());
  EXPECT_EQ(again.hash, sweep.failure.hash);
  // And the failing seed's decisions reduce to one non-simplest choice.
  auto reduced = trio::testing::reduce_choices([] { return check_then_act(false); }, sweep.failure,
                                               ExploreOptions{.schedule = Schedule::kPct});
  EXPECT_TRUE(reduced.failed());
  EXPECT_EQ(trio::testing::count_nonzero(reduced.choices), 1u) << reduced.choice_string();
}

TEST(Pct, FindsLostWakeupWithin1000Seeds) {
  auto sweep = trio::testing::sweep_seeds([] { return lost_wakeup(false); }, 1, 1000,
                                          ExploreOptions{.schedule = Schedule::kPct});
  ASSERT_TRUE(sweep.failing_seed.has_value());
  EXPECT_THAT(sweep.failure.error, ::testing::HasSubstr("Deadlock"));
  std::cout << "[figures] lost wake-up under PCT: first failing seed " << *sweep.failing_seed
            << " after " << sweep.seeds_run << " seeds; choices \"" << sweep.failure.choice_string()
            << "\"\n";
  auto again = trio::testing::replay_choices([] { return lost_wakeup(false); },
                                             sweep.failure.choice_string(),
                                             ExploreOptions{.schedule = Schedule::kPct});
  EXPECT_EQ(again.hash, sweep.failure.hash);
}

TEST(Pct, FindsTheRacesInAQuarterToHalfOfSeeds) {
  // Figures: how many of 1,000 seeds find each two-task race, per schedule. The check-then-act
  // race needs B ahead of A in two consecutive batches: 1 in 4 under coin flips and shuffles,
  // which draw each batch afresh, 1 in 2 under PCT, whose priorities persist across batches.
  int found[3][2] = {};
  const Schedule schedules[3] = {Schedule::kPct, Schedule::kCoinFlip, Schedule::kShuffle};
  for (int i = 0; i < 3; ++i) {
    ExploreOptions options{.schedule = schedules[i]};
    for (uint64_t seed = 1; seed <= 1000; ++seed) {
      found[i][0] +=
          trio::testing::run_seed([] { return check_then_act(false); }, seed, options).failed();
      found[i][1] +=
          trio::testing::run_seed([] { return lost_wakeup(false); }, seed, options).failed();
    }
    std::cout << "[figures] " << trio::testing::schedule_name(schedules[i])
              << ": check-then-act found by " << found[i][0] << "/1000 seeds, lost wake-up by "
              << found[i][1] << "/1000\n";
    EXPECT_GT(found[i][0], 200);
    EXPECT_GT(found[i][1], 400);
  }
  EXPECT_GT(found[0][0], found[1][0] + 150);  // PCT beats coin flips on the persistent race
}

TEST(Pct, CorrectVersionsSurvive2000Seeds) {
  for (Schedule s : {Schedule::kPct, Schedule::kCoinFlip, Schedule::kShuffle}) {
    for (bool lost : {false, true}) {
      auto sweep = trio::testing::sweep_seeds(
          [lost] { return lost ? lost_wakeup(true) : check_then_act(true); }, 1, 2000,
          ExploreOptions{.schedule = s});
      EXPECT_FALSE(sweep.failing_seed.has_value())
          << trio::testing::schedule_name(s) << " seed " << sweep.failing_seed.value_or(0) << ": "
          << sweep.failure.error;
      EXPECT_EQ(sweep.seeds_run, 2000u);
    }
  }
}

TEST(Pct, FifoScheduleDrawsNoChoices) {
  auto run = trio::testing::run_seed([] { return check_then_act(false); }, 1,
                                     ExploreOptions{.schedule = Schedule::kFifo});
  EXPECT_FALSE(run.failed()) << run.error;
  EXPECT_TRUE(run.choices.empty()) << trio::testing::describe_choices(run.choices);
}
