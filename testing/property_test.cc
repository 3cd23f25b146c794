// SPDX-License-Identifier: Apache-2.0 OR MIT
// Property tests over schedules find planted concurrency bugs and shrink them: an ordering
// assumption between siblings, a check-then-act race across a checkpoint and a lost wake-up
// (reported as a deadlock) are found within a
// bounded number of rapidcheck cases (and of seeds), shrink to a schedule with a single
// non-simplest choice, and the shrunk choice string replays to the same trace hash; the correct
// versions pass every case. Also TRIO_PROP itself and the report's contents.
#include "testing/property.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "runtime/sync.h"
#include "runtime/trio.h"
#include "testing/planted_bugs.h"

using ::testing::HasSubstr;
using trio::Task;
using trio::testing::check_property;
using trio::testing::ExploreOptions;
using trio::testing::prop_assert;
using trio::testing::PropertyOptions;
using trio::testing::Schedule;

namespace {

using trio::testing::planted::check_then_act;
using trio::testing::planted::lost_wakeup;

// Planted bug (a): two siblings append after a checkpoint; the check assumes A before B.
// Correct version: B waits for A's event.
Task<> siblings_append(bool fixed) {
  std::vector<char> log;
  trio::Event a_done;
  co_await trio::open_nursery([&](trio::Nursery& n) -> Task<> {
    n.start_soon([&]() -> Task<> {
      co_await trio::checkpoint();
      log.push_back('A');
      a_done.set();
    });
    n.start_soon([&]() -> Task<> {
      co_await trio::checkpoint();
      if (fixed) co_await a_done.wait();
      log.push_back('B');
    });
    co_return;
  });
  prop_assert(log == std::vector<char>{'A', 'B'}, "A appended before B");
}

// Planted bug (a'), noisy: six siblings each log their index at four checkpoints, and the check
// assumes sibling 0 logs before sibling 5 in the last round. A random schedule makes many
// decisions irrelevant to the bug: the shrinker must drop them all.
Task<> noisy_siblings() {
  std::vector<int> last_round;
  co_await trio::open_nursery([&](trio::Nursery& n) -> Task<> {
    for (int i = 0; i < 6; ++i)
      n.start_soon(
          [&](int me) -> Task<> {
            for (int round = 0; round < 4; ++round) {
              if (round == 3) last_round.push_back(me);
              co_await trio::checkpoint();
            }
          },
          i);
    co_return;
  });
  auto pos = [&](int who) { return std::find(last_round.begin(), last_round.end(), who); };
  prop_assert(pos(0) < pos(5), "sibling 0 logs before sibling 5");
}

// Planted bug (c), a livelock after a long busy start: two workers warm a cache over 700
// checkpoints each (a coin flip per batch: hundreds of decisions that have nothing to do with
// the bug), then two nodes run for leader. node0 boots after 1 ms, node1 after 0 or 1 ms (drawn
// from the run): when both boot at 1 ms they split every vote and retry after the same 10 ms
// back-off, forever. Only that one drawn value matters.
Task<> warm_up_then_elect() {
  co_await trio::open_nursery([&](trio::Nursery& n) -> Task<> {
    for (int w = 0; w < 2; ++w)
      n.start_soon(trio::TaskName("warm-up" + std::to_string(w)), []() -> Task<> {
        for (int i = 0; i < 700; ++i) co_await trio::checkpoint();
      });
    co_return;
  });
  bool candidate[2] = {false, false};
  std::optional<int> leader;
  co_await trio::open_nursery([&](trio::Nursery& n) -> Task<> {
    for (int me = 0; me < 2; ++me)
      n.start_soon(trio::TaskName("node" + std::to_string(me)), [&, me]() -> Task<> {
        trio::Duration boot = std::chrono::milliseconds(1);
        if (me == 1) boot = std::chrono::milliseconds(trio::lowlevel::random_choice(2));
        co_await trio::sleep(boot);
        while (!leader) {
          candidate[me] = true;
          co_await trio::checkpoint();  // asking the peer for its vote
          const bool won = !candidate[1 - me];
          co_await trio::checkpoint();  // counting the votes
          candidate[me] = false;
          if (won) leader = me;
          if (!won) co_await trio::sleep(std::chrono::milliseconds(10));  // BUG: fixed back-off
        }
      });
    co_return;
  });
  prop_assert(leader.has_value(), "a leader was elected");
}

// The lines of a report's trace (after "shrunk trace (its end):") that are events.
std::vector<std::string> event_lines(const std::string& report) {
  std::vector<std::string> lines;
  std::istringstream in(report.substr(report.find("shrunk trace (its end):\n")));
  for (std::string line; std::getline(in, line);)
    if (!line.empty() && std::isdigit(static_cast<unsigned char>(line[0]))) lines.push_back(line);
  return lines;
}

PropertyOptions prop(Schedule schedule, int cases = 100) {
  return PropertyOptions{.explore = ExploreOptions{.schedule = schedule}, .max_cases = cases};
}

}  // namespace

TEST(Property, FindsSiblingOrderingAssumptionAndShrinksToOneChoice) {
  for (Schedule s : {Schedule::kCoinFlip, Schedule::kShuffle, Schedule::kPct}) {
    SCOPED_TRACE(trio::testing::schedule_name(s));
    auto result = check_property([] { return siblings_append(false); }, prop(s));
    ASSERT_FALSE(result.passed);
    EXPECT_LE(result.cases, 10) << result.report;
    EXPECT_EQ(trio::testing::count_nonzero(result.shrunk.choices), 1u) << result.report;
    EXPECT_THAT(result.report, HasSubstr("A appended before B"));
    std::cout << "[figures] ordering bug, " << trio::testing::schedule_name(s) << ": found at case "
              << result.cases << ", shrunk in " << result.shrink_runs << " runs to \""
              << result.shrunk.choice_string() << "\"\n";
  }
}

TEST(Property, ShrinksANoisyOrderingFailureToItsOneRelevantChoice) {
  for (Schedule s : {Schedule::kCoinFlip, Schedule::kShuffle, Schedule::kPct}) {
    SCOPED_TRACE(trio::testing::schedule_name(s));
    auto result = check_property(noisy_siblings, prop(s));
    ASSERT_FALSE(result.passed);
    EXPECT_LE(result.cases, 10) << result.report;
    EXPECT_GE(trio::testing::count_nonzero(result.first_choices), 3u) << result.report;
    EXPECT_EQ(trio::testing::count_nonzero(result.shrunk.choices), 1u) << result.report;
    std::cout << "[figures] noisy ordering, " << trio::testing::schedule_name(s)
              << ": found at case " << result.cases << " with "
              << trio::testing::count_nonzero(result.first_choices) << " non-zero choices of "
              << result.first_choices.size() << ", shrunk in " << result.shrink_runs
              << " runs to \"" << result.shrunk.choice_string() << "\"\n";
  }
}

TEST(Property, RapidcheckAloneStopsAtAParityLocalMinimumThatReduceChoicesLeaves) {
  // Under coin flips the last round's order is the parity of all reversals: rapidcheck, which
  // simplifies one decision at a time, cannot remove two of three reversals; our pair edit can.
  PropertyOptions options = prop(Schedule::kCoinFlip);
  options.reduce = false;
  auto alone = check_property(noisy_siblings, options);
  ASSERT_FALSE(alone.passed);
  EXPECT_GE(trio::testing::count_nonzero(alone.shrunk.choices), 2u) << alone.report;
  auto reduced = trio::testing::reduce_choices(noisy_siblings, alone.shrunk, options.explore);
  EXPECT_TRUE(reduced.failed());
  EXPECT_EQ(trio::testing::count_nonzero(reduced.choices), 1u) << reduced.choice_string();
}

TEST(Property, FindsCheckThenActRaceAndShrinksToOneChoice) {
  for (Schedule s : {Schedule::kCoinFlip, Schedule::kShuffle, Schedule::kPct}) {
    SCOPED_TRACE(trio::testing::schedule_name(s));
    auto result = check_property([] { return check_then_act(false); }, prop(s));
    ASSERT_FALSE(result.passed);
    EXPECT_LE(result.cases, 10) << result.report;
    EXPECT_EQ(trio::testing::count_nonzero(result.shrunk.choices), 1u) << result.report;
    EXPECT_THAT(result.report, HasSubstr("no double entry"));
    std::cout << "[figures] check-then-act, " << trio::testing::schedule_name(s)
              << ": found at case " << result.cases << ", shrunk in " << result.shrink_runs
              << " runs to \"" << result.shrunk.choice_string() << "\"\n";
  }
}

TEST(Property, FindsLostWakeupAsDeadlockAndShrinksToOneChoice) {
  for (Schedule s : {Schedule::kCoinFlip, Schedule::kShuffle, Schedule::kPct}) {
    SCOPED_TRACE(trio::testing::schedule_name(s));
    auto result = check_property([] { return lost_wakeup(false); }, prop(s));
    ASSERT_FALSE(result.passed);
    EXPECT_LE(result.cases, 10) << result.report;
    EXPECT_EQ(trio::testing::count_nonzero(result.shrunk.choices), 1u) << result.report;
    EXPECT_THAT(result.report, HasSubstr("Deadlock"));
    std::cout << "[figures] lost wake-up, " << trio::testing::schedule_name(s) << ": found at case "
              << result.cases << ", shrunk in " << result.shrink_runs << " runs to \""
              << result.shrunk.choice_string() << "\"\n";
  }
}

TEST(Property, ShrunkChoiceStringReplaysToTheSameTrace) {
  auto scenario = [] { return check_then_act(false); };
  auto result = check_property(scenario, prop(Schedule::kPct));
  ASSERT_FALSE(result.passed);
  auto again = trio::testing::replay_choices(scenario, result.shrunk.choice_string(),
                                             ExploreOptions{.schedule = Schedule::kPct});
  EXPECT_TRUE(again.failed());
  EXPECT_EQ(again.hash, result.shrunk.hash);
  EXPECT_EQ(again.trace, result.shrunk.trace);
}

TEST(Property, ReportShowsErrorChoicesReplayLineAndReadableTrace) {
  auto result = check_property([] { return siblings_append(false); }, prop(Schedule::kCoinFlip));
  ASSERT_FALSE(result.passed);
  std::cout << result.report;
  EXPECT_THAT(result.report, HasSubstr("rapidcheck seed 0"));
  EXPECT_THAT(result.report, HasSubstr("choices: \"" + result.shrunk.choice_string() + "\""));
  EXPECT_THAT(result.report, HasSubstr("replay: trio::testing::replay_choices("));
  EXPECT_THAT(result.report, HasSubstr("shrunk trace (its end):\n"));
  EXPECT_THAT(result.report, HasSubstr(" step"));
  EXPECT_THAT(result.report, HasSubstr("run raised"));
}

TEST(Shrinking, ALivelockAfterHundredsOfCoinFlipsShrinksInAtMost100Replays) {
  PropertyOptions options = prop(Schedule::kCoinFlip);
  options.explore.max_virtual_time = std::chrono::milliseconds(300);
  auto result = check_property(warm_up_then_elect, options);
  ASSERT_FALSE(result.passed);
  EXPECT_THAT(result.shrunk.error, HasSubstr("LivelockError"));
  EXPECT_GE(trio::testing::count_nonzero(result.first_choices), 300u) << "a noisy first case";
  EXPECT_EQ(trio::testing::count_nonzero(result.shrunk.choices), 1u) << result.report;
  EXPECT_LE(result.shrink_runs, 100) << "ddmin: halves before single decisions";
  std::cout << "[figures] livelock after " << result.first_choices.size() << " decisions ("
            << trio::testing::count_nonzero(result.first_choices) << " non-zero), "
            << result.shrunk.trace.size() << " events: shrunk in " << result.shrink_runs
            << " replays\n";
}

TEST(Shrinking, ALivelockIsReportedAsTheCycleItIsStuckIn) {
  PropertyOptions options = prop(Schedule::kCoinFlip);
  options.explore.max_virtual_time = std::chrono::milliseconds(300);
  auto result = check_property(warm_up_then_elect, options);
  ASSERT_FALSE(result.passed);
  const auto& run = result.shrunk;
  ASSERT_NE(run.budget_ran_out_at, SIZE_MAX);
  auto cycle = trio::testing::find_cycle(run.trace, run.budget_ran_out_at);
  ASSERT_TRUE(cycle.has_value());
  // One turn: both nodes wake from their back-off, ask, count, split, and sleep again.
  EXPECT_EQ(cycle->period_ns, 10'000'000);
  EXPECT_GE(cycle->repetitions, 20u);
  EXPECT_THAT(result.report, HasSubstr("livelock: the run is stuck in a cycle of " +
                                       std::to_string(cycle->length) + " events (0.010000s"));
  EXPECT_THAT(result.report, HasSubstr("-- the cycle, its last turn"));
  EXPECT_THAT(result.report, HasSubstr("node0 scheduled after sleep"));
  EXPECT_THAT(result.report, HasSubstr("node1 blocked on sleep"));
  const auto lines = std::count(result.report.begin(), result.report.end(), '\n');
  EXPECT_LE(lines, 100) << "not the whole trace of " << run.trace.size() << " events";
  std::cout << result.report;
}

TEST(Shrinking, AOneDecisionBugIsReportedInAtMost20EventsOfTheUsersTasks) {
  auto result = check_property([] { return siblings_append(false); }, prop(Schedule::kCoinFlip));
  ASSERT_FALSE(result.passed);
  EXPECT_EQ(trio::testing::count_nonzero(result.shrunk.choices), 1u);
  const std::vector<std::string> lines = event_lines(result.report);
  EXPECT_LE(lines.size(), 20u) << result.report;
  EXPECT_THAT(result.report, ::testing::Not(HasSubstr("<init>")));
  EXPECT_THAT(result.report, HasSubstr("main.2 yield"));
  EXPECT_THAT(result.report, HasSubstr("run raised"));
  std::cout << result.report << "[figures] one-decision report: " << lines.size() << " events\n";
}

TEST(Property, CorrectVersionsPassEveryCase) {
  for (Schedule s : {Schedule::kCoinFlip, Schedule::kShuffle, Schedule::kPct}) {
    SCOPED_TRACE(trio::testing::schedule_name(s));
    auto a = check_property([] { return siblings_append(true); }, prop(s, 300));
    EXPECT_TRUE(a.passed) << a.report;
    EXPECT_EQ(a.cases, 300);
    auto b = check_property([] { return check_then_act(true); }, prop(s, 300));
    EXPECT_TRUE(b.passed) << b.report;
    EXPECT_EQ(b.cases, 300);
    auto c = check_property([] { return lost_wakeup(true); }, prop(s, 300));
    EXPECT_TRUE(c.passed) << c.report;
    EXPECT_EQ(c.cases, 300);
  }
}

TEST(Property, FifoScheduleMakesNoChoicesAndMissesTheBugs) {
  // The simplest schedule passes both buggy scenarios: what the shrinker shrinks towards.
  auto a = check_property([] { return siblings_append(false); }, prop(Schedule::kFifo, 20));
  EXPECT_TRUE(a.passed) << a.report;
  auto b = check_property([] { return check_then_act(false); }, prop(Schedule::kFifo, 20));
  EXPECT_TRUE(b.passed) << b.report;
  auto c = check_property([] { return lost_wakeup(false); }, prop(Schedule::kFifo, 20));
  EXPECT_TRUE(c.passed) << c.report;
}

TEST(Property, SameRapidcheckSeedSameResult) {
  auto scenario = [] { return check_then_act(false); };
  auto first = check_property(scenario, prop(Schedule::kShuffle));
  auto second = check_property(scenario, prop(Schedule::kShuffle));
  ASSERT_FALSE(first.passed);
  EXPECT_EQ(first.cases, second.cases);
  EXPECT_EQ(first.shrunk.hash, second.shrunk.hash);
  EXPECT_EQ(first.report, second.report);
}

// The doc's example: a property over schedules, its report, and replaying the shrunk run.
// [START explore_check_property]
TEST(Explore, CheckThenActIsFoundShrunkAndReplayed) {
  auto scenario = [] { return check_then_act(/*fixed=*/false); };
  trio::testing::PropertyOptions options{.explore = {.schedule = trio::testing::Schedule::kPct},
                                         .max_cases = 100};
  auto result = trio::testing::check_property(scenario, options);
  ASSERT_FALSE(result.passed);  // the planted bug is found...
  EXPECT_EQ(trio::testing::count_nonzero(result.shrunk.choices), 1u);  // ...and shrunk
  std::cout << result.report;

  // The choice string is the repro: replaying it gives the same run, event for event.
  auto again =
      trio::testing::replay_choices(scenario, result.shrunk.choice_string(), options.explore);
  EXPECT_EQ(again.hash, result.shrunk.hash);
}
// [END explore_check_property]

// [START explore_sweep]
TEST(Explore, SeedSweepUnderPct) {
  auto sweep = trio::testing::sweep_seeds([] { return check_then_act(/*fixed=*/true); },
                                          /*first_seed=*/1, /*count=*/1000,
                                          {.schedule = trio::testing::Schedule::kPct});
  EXPECT_FALSE(sweep.failing_seed) << "seed " << *sweep.failing_seed << ": " << sweep.failure.error
                                   << "\nchoices " << sweep.failure.choice_string();
}
// [END explore_sweep]

// TRIO_PROP: a TEST whose body is the scenario. These are correct versions (they must pass).
// [START explore_trio_prop]
TRIO_PROP_WITH(TrioProp, CorrectCheckThenActPasses,
               {.explore = {.schedule = trio::testing::Schedule::kPct}, .max_cases = 200}) {
  co_await check_then_act(true);
}
// [END explore_trio_prop]

TRIO_PROP(TrioProp, DefaultOptionsRunOnCoinFlips) { co_await siblings_append(true); }
