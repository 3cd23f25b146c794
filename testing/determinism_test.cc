// SPDX-License-Identifier: Apache-2.0 OR MIT
// Determinism self-check (testing/determinism.h): a scenario run twice with one seed gives one
// trace hash; a scenario that reads state from outside the run (a global that changes between
// runs) is caught, and the report names the first diverging event of each run with context;
// different seeds give different schedules for a racy scenario; the run's outcome is part of
// the trace.
#include "testing/determinism.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include "runtime/trio.h"

using namespace std::chrono_literals;
using ::testing::HasSubstr;
using trio::Task;
using trio::testing::check_determinism;
using trio::testing::format_event;
using trio::testing::run_scenario;
using trio::testing::TraceEventKind;

namespace {

// Workers racing through checkpoints and sleeps, cancelled by a deadline half-way: many
// scheduling decisions, all drawn from the seed.
Task<> racy_workers() {
  std::vector<int> log;
  co_await trio::move_on_after(2500ms, [&]() -> Task<> {
    co_await trio::open_nursery([&](trio::Nursery& n) -> Task<> {
      for (int w = 0; w < 4; ++w)
        n.start_soon([&log, w]() -> Task<> {
          for (int k = 0; k < 5; ++k) {
            log.push_back(w);
            co_await trio::checkpoint();
            co_await trio::sleep(1s);
          }
        });
      co_return;
    });
  });
}

TEST(Determinism, SameSeedGivesTheSameTraceHash) {
  // [START tracing_determinism]
  const auto report = trio::testing::check_determinism(racy_workers, {.seed = 7});
  EXPECT_TRUE(report.deterministic()) << report.to_string();
  // [END tracing_determinism]
  EXPECT_FALSE(report.diverging_index.has_value());
  EXPECT_GT(report.first_events, 100u);
  EXPECT_THAT(report.to_string(), HasSubstr("seed 7: deterministic"));
}

TEST(Determinism, EveryPolicyIsDeterministic) {
  for (auto policy : {trio::SchedulingPolicy::kCoinFlip, trio::SchedulingPolicy::kShuffle,
                      trio::SchedulingPolicy::kFifo, trio::SchedulingPolicy::kLifo}) {
    const auto report = check_determinism(racy_workers, {.seed = 3, .scheduling = policy});
    EXPECT_TRUE(report.deterministic()) << report.to_string();
  }
}

// Random sleeps drawn from the run's seed (lowlevel::random_choice) on top of racy workers.
Task<> random_sleepers() {
  co_await trio::open_nursery([&](trio::Nursery& n) -> Task<> {
    for (int w = 0; w < 5; ++w)
      n.start_soon([]() -> Task<> {
        for (int k = 0; k < 4; ++k)
          co_await trio::sleep(std::chrono::milliseconds(trio::lowlevel::random_choice(3)));
      });
    co_await racy_workers();
  });
}

// Seeded runs — the coin flips, the shuffles, random_choice — pinned to fixed hashes: g++ and
// clang builds (CI runs both) and any machine must produce exactly these traces.
TEST(Determinism, SeededRunsHaveTheSameHashOnEveryCompiler) {
  struct Case {
    trio::SchedulingPolicy policy;
    uint64_t seed;
    const char* hash;
  };
  const Case cases[] = {
      {trio::SchedulingPolicy::kCoinFlip, 7, "0x4f010640b35b757b"},
      {trio::SchedulingPolicy::kCoinFlip, 8, "0xbfd2b44cec468672"},
      {trio::SchedulingPolicy::kShuffle, 7, "0xc944e5d67cd0ee25"},
      {trio::SchedulingPolicy::kShuffle, 8, "0xa168d706e428048f"},
  };
  for (const Case& c : cases) {
    const auto run = run_scenario(random_sleepers, {.seed = c.seed, .scheduling = c.policy});
    EXPECT_EQ(run.error, nullptr);
    EXPECT_GT(run.event_count, 150u);
    EXPECT_EQ(trio::testing::format_hash(run.hash), c.hash)
        << "policy " << static_cast<int>(c.policy) << " seed " << c.seed;
  }
}

// The bug the check exists for: behaviour that depends on something outside the run. Here a
// global counter changes how long the second run's sleeper sleeps.
int g_runs = 0;
Task<> reads_a_global() {
  const int run = g_runs++;
  co_await trio::open_nursery([&](trio::Nursery& n) -> Task<> {
    n.start_soon(trio::TaskName("steady"), []() -> Task<> { co_await trio::sleep(1s); });
    n.start_soon(trio::TaskName("drifting"),
                 [run]() -> Task<> { co_await trio::sleep(2s + run * 1ms); });
    co_return;
  });
}

TEST(Determinism, AGlobalThatChangesBetweenRunsIsDetectedAtTheFirstDivergingEvent) {
  g_runs = 0;
  const auto report = check_determinism(reads_a_global, {.seed = 1});
  ASSERT_FALSE(report.deterministic());
  ASSERT_TRUE(report.diverging_index.has_value()) << report.to_string();
  ASSERT_TRUE(report.first_event && report.second_event);
  // Up to the idle period before the drifting sleeper wakes, both runs agree.
  EXPECT_EQ(report.first_event->kind, TraceEventKind::kIdle);
  EXPECT_EQ(format_event(*report.first_event), "1.000000s - idle until 2.000000s");
  EXPECT_EQ(format_event(*report.second_event), "1.000000s - idle until 2.001000s");
  const std::string text = report.to_string();
  EXPECT_THAT(text, HasSubstr("NOT deterministic"));
  EXPECT_THAT(text,
              HasSubstr("first diverging event: #" + std::to_string(*report.diverging_index)));
  EXPECT_THAT(text, HasSubstr("first run:    1.000000s - idle until 2.000000s"));
  EXPECT_THAT(text, HasSubstr("second run:   1.000000s - idle until 2.001000s"));
  EXPECT_THAT(text, HasSubstr("steady exited"));  // context: the events just before
}

// A divergence in structure (an extra task) is named at the spawn.
int g_spawns = 0;
TEST(Determinism, AnExtraTaskInOneRunIsNamedAtItsSpawn) {
  g_spawns = 0;
  const auto report = check_determinism([]() -> Task<> {
    const bool extra = g_spawns++ == 1;
    co_await trio::open_nursery([&](trio::Nursery& n) -> Task<> {
      n.start_soon(trio::TaskName("always"), []() -> Task<> { co_await trio::sleep(1s); });
      if (extra) n.start_soon(trio::TaskName("sometimes"), []() -> Task<> { co_return; });
      co_return;
    });
  });
  ASSERT_FALSE(report.deterministic());
  ASSERT_TRUE(report.second_event.has_value());
  EXPECT_EQ(format_event(*report.second_event), "0.000000s sometimes spawned by main");
}

TEST(Determinism, DifferentSeedsGiveDifferentTracesForARacyScenario) {
  std::set<uint64_t> hashes;
  for (uint64_t seed = 1; seed <= 16; ++seed)
    hashes.insert(run_scenario(racy_workers, {.seed = seed}).hash);
  // 4 workers × 10 batches of coin flips: collisions between 16 seeds would mean the seed does
  // not reach the scheduler.
  EXPECT_GE(hashes.size(), 12u);
  // And FIFO ignores the seed entirely.
  const auto fifo = trio::SchedulingPolicy::kFifo;
  EXPECT_EQ(run_scenario(racy_workers, {.seed = 1, .scheduling = fifo}).hash,
            run_scenario(racy_workers, {.seed = 2, .scheduling = fifo}).hash);
}

TEST(RunScenario, TheOutcomeIsTheLastEventOfTheTrace) {
  const auto ok = run_scenario([]() -> Task<> { co_await trio::sleep(1s); });
  EXPECT_EQ(ok.error, nullptr);
  ASSERT_FALSE(ok.trace.empty());
  EXPECT_EQ(format_event(ok.trace.back()), "1.000000s - note run returned");
  const auto failed = run_scenario([]() -> Task<> {
    co_await trio::sleep(2s);
    throw std::runtime_error("boom");
  });
  ASSERT_NE(failed.error, nullptr);
  EXPECT_THAT(format_event(failed.trace.back()), HasSubstr("2.000000s - note run raised"));
  EXPECT_THAT(format_event(failed.trace.back()), HasSubstr("boom"));
  EXPECT_THROW(std::rethrow_exception(failed.error), std::runtime_error);
}

TEST(RunScenario, ExtraInstrumentsSeeTheRun) {
  trio::testing::TraceRecorder mine;
  const auto run = run_scenario(racy_workers, {.seed = 5, .instruments = {&mine}});
  // Same events as the scenario's own recorder, minus the outcome note added after the run.
  ASSERT_EQ(mine.trace().size() + 1, run.trace.size());
  EXPECT_TRUE(std::equal(mine.trace().begin(), mine.trace().end(), run.trace.begin()));
}

TEST(CompareTraces, APrefixDivergesWhereTheShorterTraceEnds) {
  trio::testing::Trace a = run_scenario(racy_workers, {.seed = 2}).trace;
  trio::testing::Trace b(a.begin(), a.begin() + 10);
  const auto report = trio::testing::compare_traces(a, b);
  EXPECT_FALSE(report.deterministic());
  ASSERT_TRUE(report.diverging_index.has_value());
  EXPECT_EQ(*report.diverging_index, 10u);
  EXPECT_TRUE(report.first_event.has_value());
  EXPECT_FALSE(report.second_event.has_value());
  EXPECT_EQ(report.context.size(), trio::testing::DeterminismReport::kContextEvents);
  EXPECT_THAT(report.to_string(), HasSubstr("second run:   (trace ended)"));
}

int g_late = 0;
TEST(Determinism, ADivergenceBeyondTheStoredEventsIsStillDetectedByTheHash) {
  g_late = 0;
  const auto report = check_determinism(
      []() -> Task<> {
        const int run = g_late++;
        for (int i = 0; i < 50; ++i) co_await trio::checkpoint();
        co_await trio::sleep(1s + run * 1s);
      },
      {.max_trace_events = 20});
  EXPECT_FALSE(report.deterministic());
  EXPECT_FALSE(report.diverging_index.has_value());
  EXPECT_THAT(report.to_string(), HasSubstr("diverge after them"));
}

}  // namespace
