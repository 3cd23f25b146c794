// SPDX-License-Identifier: Apache-2.0 OR MIT
// Seed sweeps: a correct scenario passes every seed; a planted timing bug (a timeout racing the
// completion it guards, on a deadline tie) is found within 1,000 seeds with a repro line naming
// the seed; deadlocks and livelocks fail their seed; sharding, TRIO_SWEEP_SEED and the outputs
// directory behave as documented.
#include "testing/sweep.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <iostream>
#include <memory>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>

#include "runtime/sync.h"
#include "runtime/trio.h"

namespace {

using namespace std::chrono_literals;
using ::testing::HasSubstr;
using trio::testing::SweepOptions;
using trio::testing::SweepProgress;

// A client sends requests to a server task and waits up to 1 s for each reply; the second
// request takes exactly 1 s, so the server's sleep ties the client's timeout. The server
// charges for a request and replies unless the client already gave up. The buggy client decides
// by the timeout flag: when the server runs first at the tie (the order of a batch is a choice
// of the run's seed), the reply arrived and the customer was charged, yet the client reports a
// failure. The fixed client decides by whether the reply arrived.
trio::Task<> timeout_racing_completion(bool fixed) {
  int charged = 0;
  int succeeded = 0;
  for (int request = 0; request < 3; ++request) {
    trio::Event replied;
    bool gave_up = false;
    co_await trio::open_nursery([&](trio::Nursery& n) -> trio::Task<> {
      n.start_soon([&]() -> trio::Task<> {  // the server
        co_await trio::sleep(request == 1 ? 1s : 500ms);
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

SweepOptions quiet(uint64_t seeds) {
  return {.seeds = seeds, .progress = SweepProgress::kQuiet, .use_environment = false};
}

TEST(Sweep, FindsTimeoutRacingCompletionWithin1000Seeds) {
  auto report = trio::testing::sweep([] { return timeout_racing_completion(false); }, quiet(1000));
  ASSERT_FALSE(report.ok()) << report.to_string();
  ASSERT_EQ(report.failures.size(), 1u);
  const auto& f = report.failures.front();
  EXPECT_EQ(report.seeds_run, f.seed + 1) << "stops at the first failing seed";
  EXPECT_THAT(f.what, HasSubstr("charged 3 time(s) for 2 successful request(s)"));
  // Without the environment (use_environment = false) TRIO_SWEEP_SEED would be ignored, so the
  // repro names the call that runs that seed.
  EXPECT_EQ(f.repro, "trio::testing::run_seed(scenario, " + std::to_string(f.seed) + ")");
  EXPECT_THAT(f.trace, HasSubstr("run raised"));
  EXPECT_THAT(report.to_string(), HasSubstr("first failing seed " + std::to_string(f.seed)));
  std::cerr << "planted timing bug found at seed " << f.seed << "\n";
  // The failing seed fails again on its own.
  EXPECT_THAT(
      trio::testing::run_seed([] { return timeout_racing_completion(false); }, f.seed).error,
      HasSubstr("charged 3 time(s)"));
}

TEST(Sweep, FixedTimeoutHandlingPassesEverySeed) {
  auto report = trio::testing::sweep([] { return timeout_racing_completion(true); }, quiet(1000));
  EXPECT_TRUE(report.ok()) << report.to_string();
  EXPECT_EQ(report.seeds_run, 1000u);
}

TEST(Sweep, KeepsGoingWhenAskedAndCountsFailingSeeds) {
  SweepOptions options = quiet(200);
  options.stop_at_first_failure = false;
  options.max_failures = 2;
  auto report = trio::testing::sweep([] { return timeout_racing_completion(false); }, options);
  EXPECT_EQ(report.seeds_run, 200u);
  EXPECT_GT(report.failing_seeds, 2u);
  EXPECT_LT(report.failing_seeds, 200u) << "the bug needs the unlucky order of a tie";
  std::cerr << report.failing_seeds << " of 200 seeds fail\n";
  EXPECT_EQ(report.failures.size(), 2u);
}

// A scenario may be move-only (Scenario is an absl::AnyInvocable): this one owns its request
// count through a unique_ptr, which makes the lambda move-only (the sweep's temporary
// AnyInvocable owns it, so the test counts runs outside it).
TEST(Sweep, TakesAMoveOnlyScenario) {
  uint64_t runs = 0;
  auto report = trio::testing::sweep(
      [owned = std::make_unique<int>(3), &runs] {
        runs += *owned > 0 ? 1 : 0;
        return timeout_racing_completion(true);
      },
      quiet(20));
  EXPECT_TRUE(report.ok()) << report.to_string();
  EXPECT_EQ(report.seeds_run, 20u);
  EXPECT_GE(runs, 20u);
}

// Sets environment variables for one test and restores them.
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

trio::Task<> correct_scenario() {
  co_await trio::open_nursery([&](trio::Nursery& n) -> trio::Task<> {
    for (int i = 0; i < 3; ++i) n.start_soon([]() -> trio::Task<> { co_await trio::sleep(1s); });
    co_return;
  });
}

TEST(Sweep, ShardRunsEveryTotalShardsThSeed) {
  ScopedEnv total("TEST_TOTAL_SHARDS", "4");
  ScopedEnv index("TEST_SHARD_INDEX", "2");
  ScopedEnv status("TEST_SHARD_STATUS_FILE", "");
  SweepOptions options = quiet(10);
  options.use_environment = true;
  auto report = trio::testing::sweep(correct_scenario, options);
  EXPECT_TRUE(report.ok());
  EXPECT_EQ(report.seeds_run, 2u);  // seeds 2 and 6
  EXPECT_THAT(report.summary(), HasSubstr("(shard 3/4)"));
}

TEST(Sweep, TrioSweepSeedRunsThatSeedOnly) {
  auto full = trio::testing::sweep([] { return timeout_racing_completion(false); }, quiet(1000));
  ASSERT_FALSE(full.ok());
  const uint64_t seed = full.failures.front().seed;
  ScopedEnv only("TRIO_SWEEP_SEED", std::to_string(seed));
  SweepOptions options = quiet(1000);
  options.use_environment = true;
  auto report = trio::testing::sweep([] { return timeout_racing_completion(false); }, options);
  EXPECT_EQ(report.seeds_run, 1u);
  ASSERT_FALSE(report.ok());
  EXPECT_EQ(report.failures.front().seed, seed);
  EXPECT_EQ(report.failures.front().trace, full.failures.front().trace);
}

// TRIO_SWEEP_SEED is strtoull's decimal syntax without '-': leading whitespace and a '+' are
// accepted; anything after the digits, whitespace included, makes it malformed, and a malformed
// value is ignored (every seed runs).
TEST(Sweep, TrioSweepSeedIsADecimalNumber) {
  SweepOptions options = quiet(10);
  options.use_environment = true;
  for (const char* good : {"7", " 7", "+7", "\t+7", "007"}) {
    ScopedEnv only("TRIO_SWEEP_SEED", good);
    auto report = trio::testing::sweep(correct_scenario, options);
    EXPECT_EQ(report.seeds_run, 1u) << "'" << good << "'";
    EXPECT_EQ(report.first_seed, 7u) << "'" << good << "'";
  }
  for (const char* bad : {"", "7 ", "-7", " -7", "7x", "0x7", "18446744073709551616"}) {
    ScopedEnv only("TRIO_SWEEP_SEED", bad);
    auto report = trio::testing::sweep(correct_scenario, options);
    EXPECT_EQ(report.seeds_run, 10u) << "'" << bad << "'";
  }
}

TEST(Sweep, WritesFailingSeedsToTheUndeclaredOutputsDirectory) {
  const char* tmp = std::getenv("TEST_TMPDIR");
  ASSERT_NE(tmp, nullptr) << "run under bazel test";
  ScopedEnv dir("TEST_UNDECLARED_OUTPUTS_DIR", tmp);
  SweepOptions options = quiet(1000);
  options.use_environment = true;
  options.name = "planted timing bug";
  auto report = trio::testing::sweep([] { return timeout_racing_completion(false); }, options);
  ASSERT_FALSE(report.ok());
  const uint64_t seed = report.failures.front().seed;
  std::ifstream in(std::string(tmp) + "/sweep-planted_timing_bug-seed-" + std::to_string(seed) +
                   ".txt");
  ASSERT_TRUE(in.good());
  std::stringstream text;
  text << in.rdbuf();
  EXPECT_THAT(text.str(), HasSubstr("reproduce with: "));
  EXPECT_THAT(text.str(), HasSubstr("charged 3 time(s)"));
  EXPECT_THAT(text.str(), HasSubstr("main step"));
}

TEST(Sweep, ADeadlockedRunFailsItsSeed) {
  auto report = trio::testing::sweep(
      []() -> trio::Task<> {
        trio::Event never;
        co_await never.wait();
      },
      quiet(10));
  ASSERT_FALSE(report.ok());
  EXPECT_EQ(report.failures.front().seed, 0u);
  EXPECT_THAT(report.failures.front().what, HasSubstr("deadlock: every task is blocked"));
}

TEST(Sweep, ALivelockedRunFailsItsSeedWithABudget) {
  SweepOptions options = quiet(3);
  options.max_virtual_time = std::chrono::seconds(10);
  auto report = trio::testing::sweep(
      []() -> trio::Task<> {
        for (;;) co_await trio::sleep(1s);  // a timer loop that never finishes
      },
      options);
  ASSERT_FALSE(report.ok());
  EXPECT_THAT(report.failures.front().what, HasSubstr("no progress"));
}

}  // namespace
