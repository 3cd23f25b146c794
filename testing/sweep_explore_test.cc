// SPDX-License-Identifier: Apache-2.0 OR MIT
// The one sweep API: PCT, cancellation exploration and timer perturbation are options of
// sweep(), they combine (a cancel point under a seed's schedule), every failure has one token
// (TRIO_REPLAY) that replays it event for event, and sweep() honours TRIO_REPLAY. Timer
// perturbation finds a timeout racing a completion 10 ms earlier, which exact times never do.
// Including sweep.h and property.h together, run_seed(scenario, seed) is one function.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <deque>
#include <optional>
#include <stdexcept>
#include <string>

#include "runtime/sync.h"
#include "runtime/trio.h"
#include "testing/planted_bugs.h"
#include "testing/property.h"
#include "testing/replay.h"
#include "testing/sweep.h"

namespace {

using namespace std::chrono_literals;
using ::testing::HasSubstr;
using trio::testing::ReplayToken;
using trio::testing::Schedule;
using trio::testing::SweepOptions;
using trio::testing::SweepProgress;
using trio::testing::planted::check_then_act;

SweepOptions quiet(uint64_t seeds) {
  return {.seeds = seeds, .progress = SweepProgress::kQuiet, .use_environment = false};
}

// Sets an environment variable for one test and restores it.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const std::string& value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old;
    setenv(name, value.c_str(), 1);
  }
  ~ScopedEnv() {
    if (old_) {
      setenv(name_, old_->c_str(), 1);
    } else {
      unsetenv(name_);
    }
  }

 private:
  const char* name_;
  std::optional<std::string> old_;
};

// ---- defect 7: one run_seed
// -----------------------------------------------------------------------

TEST(SweepApi, RunSeedIsOneFunctionWithSweepHAndPropertyH) {
  auto scenario = [] { return check_then_act(/*fixed=*/false); };
  for (uint64_t seed = 0; seed < 20; ++seed) {
    const trio::testing::ScheduleRun run = trio::testing::run_seed(scenario, seed);
    const std::string what = trio::testing::run_seed(scenario, seed, SweepOptions{});
    EXPECT_EQ(run.failed(), !what.empty()) << "seed " << seed << ": the same run";
  }
}

// ---- PCT
// ------------------------------------------------------------------------------------------

TEST(SweepApi, PctIsAnOptionAndItsFailureHasAReplayToken) {
  auto scenario = [] { return check_then_act(/*fixed=*/false); };
  SweepOptions options = quiet(1000);
  options.schedule = Schedule::kPct;
  options.pct = {.depth = 2, .max_steps = 40};
  const auto report = trio::testing::sweep(scenario, options);
  ASSERT_FALSE(report.ok());
  const auto& f = report.failures.front();
  EXPECT_THAT(f.what, HasSubstr("no double entry"));
  EXPECT_THAT(report.summary(), HasSubstr("pct depth 2 steps 40"));
  // Without the environment, the repro line is the call that replays the token.
  EXPECT_THAT(f.repro, HasSubstr("trio::testing::replay_token(scenario, "));
  EXPECT_EQ(trio::testing::format_replay_token(f.token),
            "seed=" + std::to_string(f.seed) + ":schedule=pct:depth=2:steps=40");
  // The same first failing seed as the older PCT entry point, sweep_seeds.
  const auto old = trio::testing::sweep_seeds(scenario, 0, 1000,
                                              {.schedule = Schedule::kPct, .pct = options.pct});
  ASSERT_TRUE(old.failing_seed.has_value());
  EXPECT_EQ(*old.failing_seed, f.seed);
  EXPECT_EQ(old.failure.hash == 0, false);
  // The token replays it, event for event.
  const auto again = trio::testing::replay_token(scenario, f.token, options);
  EXPECT_EQ(again.what, f.what);
  EXPECT_EQ(again.hash, f.hash);
}

// ---- cancellation under a seed
// ---------------------------------------------------------------------

// A forwarder that takes an item from a queue, then reaches a cancel point before handing it
// on (a cancellation there loses the item), and a producer racing it: which items are in
// flight at each cancel point depends on the schedule.
struct Pipeline {
  std::deque<int> queue;
  std::deque<int> out;
  int produced = 0;
};

trio::Task<> pipeline_run(Pipeline& p, bool fixed) {
  p = Pipeline{};
  co_await trio::move_on_after(1h, [&]() -> trio::Task<> {
    co_await trio::open_nursery([&](trio::Nursery& n) -> trio::Task<> {
      n.start_soon([&]() -> trio::Task<> {  // producer
        for (int i = 0; i < 3; ++i) {
          p.queue.push_back(i);
          ++p.produced;
          co_await trio::checkpoint();
        }
      });
      n.start_soon([&]() -> trio::Task<> {  // forwarder
        for (int round = 0; round < 4; ++round) {
          while (!p.queue.empty()) {
            const int item = p.queue.front();
            p.queue.pop_front();
            try {
              co_await trio::checkpoint();
            } catch (const trio::Cancelled&) {
              if (fixed) p.queue.push_front(item);
              throw;
            }
            p.out.push_back(item);
          }
          co_await trio::checkpoint();
        }
      });
      co_return;
    });
  });
}

std::string nothing_lost(const Pipeline& p) {
  const size_t total = p.queue.size() + p.out.size();
  return total == static_cast<size_t>(p.produced)
             ? ""
             : "produced " + std::to_string(p.produced) + " != queued " +
                   std::to_string(p.queue.size()) + " + forwarded " + std::to_string(p.out.size());
}

TEST(SweepApi, CancellationExplorationRunsEveryPointOfEverySeed) {
  Pipeline p;
  SweepOptions options = quiet(50);
  options.cancellation = {.enabled = true};
  options.invariants = [&p] { return nothing_lost(p); };
  const auto report = trio::testing::sweep([&p] { return pipeline_run(p, false); }, options);
  ASSERT_FALSE(report.ok());
  const auto& f = report.failures.front();
  ASSERT_TRUE(f.cancel_point.has_value());
  EXPECT_THAT(f.what, HasSubstr("produced"));
  EXPECT_THAT(f.trace, HasSubstr("injected at cancel point " + std::to_string(*f.cancel_point)));
  EXPECT_GT(report.runs, report.seeds_run) << "runs with an injected cancellation";
  EXPECT_THAT(report.to_string(), HasSubstr("cancel point " + std::to_string(*f.cancel_point)));
  EXPECT_EQ(f.token.cancel_point, f.cancel_point);
  EXPECT_EQ(f.token.seed, f.seed);
  // The token (cancel point k under seed s) replays it, event for event.
  const auto again =
      trio::testing::replay_token([&p] { return pipeline_run(p, false); }, f.token, options);
  EXPECT_EQ(again.what, f.what);
  EXPECT_EQ(again.hash, f.hash);

  // The fixed forwarder passes every point of every seed, under shuffled batches too.
  options.schedule = Schedule::kShuffle;
  const auto fixed = trio::testing::sweep([&p] { return pipeline_run(p, true); }, options);
  EXPECT_TRUE(fixed.ok()) << fixed.to_string();
  EXPECT_EQ(fixed.seeds_run, 50u);
  EXPECT_GT(fixed.runs, 50u * 5);
}

// ---- timer perturbation
// ------------------------------------------------------------------------------

// A client waits up to 1 s for a reply; the server needs 990 ms. The buggy client decides by
// its timeout flag: if the timeout and the reply fall on the same instant and the server runs
// first, the customer was charged but the client reports a failure. With exact times the reply
// always comes 10 ms before the timeout, so no seed fails.
trio::Task<> near_miss_timeout(bool fixed) {
  int charged = 0;
  int succeeded = 0;
  for (int request = 0; request < 3; ++request) {
    trio::Event replied;
    bool gave_up = false;
    co_await trio::open_nursery([&](trio::Nursery& n) -> trio::Task<> {
      n.start_soon([&]() -> trio::Task<> {  // the server
        co_await trio::sleep(990ms);
        if (gave_up) co_return;
        ++charged;
        replied.set();
      });
      const bool timed_out =
          co_await trio::move_on_after(1s, [&]() -> trio::Task<> { co_await replied.wait(); });
      const bool success = fixed ? replied.is_set() : !timed_out;
      if (success)
        ++succeeded;
      else
        gave_up = true;
    });
  }
  if (charged != succeeded) {
    throw std::logic_error("charged " + std::to_string(charged) + " time(s) for " +
                           std::to_string(succeeded) + " successful request(s)");
  }
}

TEST(SweepApi, TimerPerturbationFindsATimeoutRacingANearMissCompletion) {
  auto buggy = [] { return near_miss_timeout(false); };
  // Exact times: never (under any schedule).
  for (Schedule s : {Schedule::kCoinFlip, Schedule::kShuffle, Schedule::kPct}) {
    SweepOptions exact = quiet(1000);
    exact.schedule = s;
    EXPECT_TRUE(trio::testing::sweep(buggy, exact).ok()) << trio::testing::schedule_name(s);
  }
  // Deadlines nudged by up to 20 ms: found.
  SweepOptions options = quiet(1000);
  options.timer_perturbation = 20ms;
  options.stop_at_first_failure = false;
  const auto report = trio::testing::sweep(buggy, options);
  ASSERT_FALSE(report.ok());
  const auto& f = report.failures.front();
  EXPECT_THAT(f.what, HasSubstr("successful request(s)"));
  EXPECT_THAT(report.summary(), HasSubstr("timers perturbed by < 20 ms"));
  EXPECT_EQ(trio::testing::format_replay_token(f.token),
            "seed=" + std::to_string(f.seed) + ":timers=20000000");
  std::cerr << report.failing_seeds << " of 1000 seeds fail with timer perturbation\n";
  const auto again = trio::testing::replay_token(buggy, f.token, quiet(1));
  EXPECT_EQ(again.what, f.what);
  EXPECT_EQ(again.hash, f.hash);
  // The fixed client passes them all.
  options.stop_at_first_failure = true;
  const auto fixed = trio::testing::sweep([] { return near_miss_timeout(true); }, options);
  EXPECT_TRUE(fixed.ok()) << fixed.to_string();
}

// ---- TRIO_REPLAY
// -------------------------------------------------------------------------------------

TEST(SweepApi, TrioReplayRunsTheOneRunOfItsToken) {
  auto buggy = [] { return near_miss_timeout(false); };
  SweepOptions options = quiet(1000);
  options.timer_perturbation = 20ms;
  const auto full = trio::testing::sweep(buggy, options);
  ASSERT_FALSE(full.ok());
  const auto& f = full.failures.front();

  ScopedEnv replay("TRIO_REPLAY", trio::testing::format_replay_token(f.token));
  SweepOptions plain = quiet(1000);  // no perturbation: the token brings it
  plain.use_environment = true;
  const auto report = trio::testing::sweep(buggy, plain);
  EXPECT_EQ(report.seeds_run, 1u);
  ASSERT_FALSE(report.ok());
  EXPECT_EQ(report.failures.front().seed, f.seed);
  EXPECT_EQ(report.failures.front().hash, f.hash);
  EXPECT_EQ(report.failures.front().trace, f.trace);
  EXPECT_THAT(report.summary(), HasSubstr("replaying TRIO_REPLAY=seed="));
  EXPECT_THAT(report.failures.front().repro, HasSubstr("TRIO_REPLAY=seed="));
}

TEST(SweepApi, AMalformedTrioReplayFailsTheSweep) {
  ScopedEnv replay("TRIO_REPLAY", "seed=12:color=blue");
  SweepOptions options = quiet(10);
  options.use_environment = true;
  const auto report = trio::testing::sweep([]() -> trio::Task<> { co_return; }, options);
  ASSERT_FALSE(report.ok());
  EXPECT_EQ(report.seeds_run, 0u);
  EXPECT_THAT(report.failures.front().what,
              HasSubstr("is not a replay token: unknown key 'color'"));
  EXPECT_THAT(report.to_string(), HasSubstr("no seeds"));
}

// ---- the token
// ---------------------------------------------------------------------------------------

TEST(ReplayToken, FormatsAndParsesBack) {
  const ReplayToken t{.seed = 17,
                      .choices = std::vector<uint64_t>{1, 0, 0, 0, 2},
                      .schedule = Schedule::kPct,
                      .pct = {.depth = 4, .max_steps = 50},
                      .cancel_point = 9,
                      .cancel_scope = 1,
                      .timer_perturbation = 20ms};
  const std::string text = trio::testing::format_replay_token(t);
  EXPECT_EQ(text,
            "seed=17:choices=1,0x3,2:schedule=pct:depth=4:steps=50:cancel=9.1:timers=20000000");
  EXPECT_EQ(
      text.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789=:,.-"),
      std::string::npos)
      << "shell-safe";
  EXPECT_EQ(trio::testing::parse_replay_token(text), t);
  EXPECT_EQ(trio::testing::format_replay_token({.seed = 3}), "seed=3");
  std::string error;
  EXPECT_FALSE(trio::testing::parse_replay_token("seed=x", &error));
  EXPECT_THAT(error, HasSubstr("seed=x"));
  EXPECT_FALSE(trio::testing::parse_replay_token("schedule=zigzag", &error));
}

// A token's numbers are bare decimal digits: no sign, no whitespace, at most 2^64 - 1.
TEST(ReplayToken, NumbersAreBareDecimalDigits) {
  EXPECT_EQ(trio::testing::parse_replay_token("seed=18446744073709551615"),
            (ReplayToken{.seed = 18446744073709551615u}));
  EXPECT_EQ(trio::testing::parse_replay_token("seed=007"), (ReplayToken{.seed = 7}));
  for (const char* bad : {"seed=", "seed=+5", "seed=-0", "seed= 5", "seed=5 ", "seed=0x5",
                          "seed=18446744073709551616", "cancel=+1", "cancel=1.-0"})
    EXPECT_FALSE(trio::testing::parse_replay_token(bad).has_value()) << bad;
}

}  // namespace
