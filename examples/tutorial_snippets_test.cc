// SPDX-License-Identifier: Apache-2.0 OR MIT
// The code docs/tutorial.md shows for timeouts, cancellation and exception groups
// (cancellation_lib, exception_group_lib) runs on a MockClock and prints exactly the output the
// tutorial shows, at the virtual times it claims, under every scheduling policy; so the doc's
// snippets (kept identical to the sources by doc_snippets_test) cannot rot.
#include <gtest/gtest.h>

#include <chrono>
#include <exception>
#include <set>
#include <string>
#include <type_traits>
#include <vector>

#include "examples/cancellation_lib.h"
#include "examples/exception_group_lib.h"
#include "examples/simulate.h"
#include "runtime/trio.h"
#include "simclock/mock_clock.h"

namespace examples {
namespace {

using namespace std::chrono_literals;
using Demo = trio::Task<> (*)(std::ostream&);

const trio::SchedulingPolicy kPolicies[] = {
    trio::SchedulingPolicy::kCoinFlip, trio::SchedulingPolicy::kShuffle,
    trio::SchedulingPolicy::kFifo, trio::SchedulingPolicy::kLifo};

// Runs `demo` under every policy and several seeds; expects `output` and `elapsed` every time.
void ExpectDemo(Demo demo, const std::string& output, trio::Duration elapsed) {
  for (trio::SchedulingPolicy policy : kPolicies) {
    for (uint64_t seed = 0; seed < 4; ++seed) {
      SCOPED_TRACE("policy " + std::to_string(static_cast<int>(policy)) + ", seed " +
                   std::to_string(seed));
      Simulated r = simulate(demo, {.seed = seed, .scheduling = policy});
      EXPECT_EQ(r.output, output);
      EXPECT_EQ(r.elapsed, elapsed);
      EXPECT_EQ(trio::lowlevel::live_frames(), 0);
    }
  }
}

// ---- timeouts ---------------------------------------------------------------------------------

TEST(Timeouts, FailAfterRaisesTooSlowErrorAtTheDeadline) {
  ExpectDemo(fetch_with_timeout,
             "fetching...\n"
             "gave up after 1.00 seconds: operation timed out\n",
             1s);
}

TEST(Timeouts, MoveOnAfterReportsWhetherItMovedOnOrReturnsTheValue) {
  ExpectDemo(move_on_examples,
             "moved on: true\n"
             "no greeting after 1 second\n"
             "got: hello after 1s\n",
             3s);  // 1 s cut short, 1 s cut short, 1 s to fetch
}

TEST(Timeouts, TimeoutAroundANurseryCancelsEveryChildAndCatchesTheirCancelleds) {
  for (uint64_t seed = 0; seed < 8; ++seed) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    Simulated r = simulate(parent_with_timeout, {.seed = seed});
    const std::vector<std::string> lines = split_lines(r.output);
    ASSERT_EQ(lines.size(), 7u);
    EXPECT_EQ(lines[0], "parent: started!");
    EXPECT_EQ(lines[3], "parent: waiting for children to finish...");
    EXPECT_EQ((std::set<std::string>{lines[4], lines[5]}),
              (std::set<std::string>{"  child1: started! sleeping now...",
                                     "  child2: started! sleeping now..."}));
    // No "exiting!" and no "parent: all done!": the Cancelleds unwound them.
    EXPECT_EQ(lines[6], "timed out: the children were cancelled");
    EXPECT_EQ(r.elapsed, 500ms);
    EXPECT_EQ(trio::lowlevel::live_frames(), 0);
  }
}

// ---- Cancelled --------------------------------------------------------------------------------

TEST(Cancelled, IsNotAStdExceptionSoCatchingStdExceptionLetsItThrough) {
  static_assert(!std::is_base_of_v<std::exception, trio::Cancelled>);
  trio::MockClock clock;
  clock.set_autojump_threshold(0s);
  bool caught_as_std_exception = false;
  const bool moved_on =
      trio::run(trio::RunOptions{.clock = &clock, .seed = 1}, [&]() -> trio::Task<bool> {
        co_return co_await trio::move_on_after(1s, [&]() -> trio::Task<> {
          try {
            co_await trio::sleep_forever();
          } catch (const std::exception&) {
            caught_as_std_exception = true;
          }
        });
      });
  EXPECT_FALSE(caught_as_std_exception);
  EXPECT_TRUE(moved_on);
}

TEST(Cancelled, CarefulWorkerCleansUpAndRethrowsSoTheScopeCatchesIt) {
  ExpectDemo(run_careful_worker,
             "worker: working...\n"
             "worker: cancelled due to deadline; cleaning up\n"
             "main: moved on after 1.00 seconds\n",
             1s);
}

TEST(Cancelled, SwallowingItLetsTheWorkRunOnUntilTheNextCheckpoint) {
  ExpectDemo(run_swallowing_worker,
             "swallower: caught something; carrying on\n"
             "swallower: still running at 1.00 seconds, after the deadline!\n"
             "main: moved on\n",
             1s);
}

TEST(Cancelled, CatchAllThatRethrowsItFirstRetriesErrorsButStopsAtTheDeadline) {
  ExpectDemo(run_retrying_worker,
             "retrier: attempt 1 failed; retrying\n"
             "retrier: attempt 2 failed; retrying\n"
             "main: moved on after 1.00 seconds\n",
             1s);  // failures at 0.4 s and 0.8 s, cancelled at 1 s in the third sleep
}

// ---- a crash cancels the siblings -------------------------------------------------------------

TEST(Nursery, CrashingChildCancelsItsSiblingAndComesOutInAGroup) {
  ExpectDemo(crash_cancels_siblings,
             "crasher: raising\n"
             "sleeper: cancelled due to nursery with reason 'child task raised exception "
             "crasher failed' from task crasher\n"
             "main: caught Exceptions from Trio nursery (1 sub-exception)\n"
             "Exceptions from Trio nursery (1 sub-exception)\n"
             "+-- [task crasher] crasher failed\n",
             1s);  // the sleeper's 10 s sleep was cut short at 1 s
}

// ---- exception groups -------------------------------------------------------------------------

TEST(ExceptionGroup, PrintedWalkedAndSplitInArrivalOrder) {
  // kFifo: "config" was spawned first, so it runs (and fails) first.
  Simulated r = simulate(exception_group_example, {.scheduling = trio::SchedulingPolicy::kFifo});
  EXPECT_EQ(r.output,
            "Exceptions from Trio nursery (2 sub-exceptions)\n"
            "+-- [task config] bad config: port must be a number\n"
            "+-- [task database] database unreachable\n"
            "task config raised: bad config: port must be a number\n"
            "task database raised: database unreachable\n"
            "handled: Exceptions from Trio nursery (1 sub-exception)\n"
            "main: still failing: Exceptions from Trio nursery (1 sub-exception)\n"
            "+-- [task database] database unreachable\n");
  EXPECT_EQ(r.elapsed, 0s);  // both fail on their first step
}

TEST(ExceptionGroup, BothFailuresArriveInEitherOrderAndSplitKeepsOnlyTheRest) {
  std::set<std::string> first_members;
  for (uint64_t seed = 0; seed < 16; ++seed) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    const std::vector<std::string> lines =
        split_lines(simulate(exception_group_example, {.seed = seed}).output);
    ASSERT_EQ(lines.size(), 8u);
    EXPECT_EQ(lines[0], "Exceptions from Trio nursery (2 sub-exceptions)");
    EXPECT_EQ((std::set<std::string>{lines[1], lines[2]}),
              (std::set<std::string>{"+-- [task config] bad config: port must be a number",
                                     "+-- [task database] database unreachable"}));
    first_members.insert(lines[1]);
    EXPECT_EQ((std::set<std::string>{lines[3], lines[4]}),
              (std::set<std::string>{"task config raised: bad config: port must be a number",
                                     "task database raised: database unreachable"}));
    EXPECT_EQ(lines[5], "handled: Exceptions from Trio nursery (1 sub-exception)");
    EXPECT_EQ(lines[6], "main: still failing: Exceptions from Trio nursery (1 sub-exception)");
    EXPECT_EQ(lines[7], "+-- [task database] database unreachable");
  }
  EXPECT_EQ(first_members.size(), 2u);  // the coin flip put each first for some seed
}

TEST(ExceptionGroup, RunRethrowsTheRestWhenNobodyCatchesIt) {
  // Without exception_group_example's catch, the rest escapes trio::run as an ExceptionGroup.
  trio::MockClock clock;
  clock.set_autojump_threshold(0s);
  std::ostringstream out;
  try {
    trio::run(trio::RunOptions{.clock = &clock, .seed = 1}, start_services, std::ref(out));
    FAIL() << "start_services should have rethrown the runtime_error";
  } catch (const trio::ExceptionGroup& rest) {
    ASSERT_EQ(rest.size(), 1u);
    EXPECT_EQ(rest.source_tasks()[0], "database");
    EXPECT_TRUE(trio::holds<std::runtime_error>(rest.exceptions()[0]));
    EXPECT_FALSE(rest.contains<trio::ValueError>());
  }
}

}  // namespace
}  // namespace examples
