// SPDX-License-Identifier: Apache-2.0 OR MIT
// TRIO_TEST itself: bodies run on an autojump MockClock (or the real clock when asked) with the
// options given; the seed comes from --trio_seed, else TRIO_SEED, else a hash of the test name,
// and the same seed gives the same schedule; a failure inside a body, an escaping exception
// (groups with their tree) and a leaked frame are reported with the seed and a repro command.
// Failures of nested runs are intercepted with gtest's spi reporter and inspected.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include "runtime/sync.h"
#include "runtime/trio.h"
#include "simclock/mock_clock.h"
#include "testing/failure_capture.h"
#include "testing/testing.h"

using namespace std::chrono_literals;
using ::testing::HasSubstr;
using ::testing::TestPartResult;
using trio::Task;
using trio::testing::failures_of;
using trio::testing::TestOptions;
using trio::testing::internal::run_test_body;
using trio::testing::internal::TestSite;

namespace {

// Sets (or, with null, unsets) an environment variable for the scope.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const char* value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old;
    if (value)
      setenv(name, value, 1);
    else
      unsetenv(name);
  }
  ~ScopedEnv() {
    if (old_)
      setenv(name_, old_->c_str(), 1);
    else
      unsetenv(name_);
  }

 private:
  const char* name_;
  std::optional<std::string> old_;
};

// Sets the --trio_seed override for the scope.
class ScopedSeedFlag {
 public:
  explicit ScopedSeedFlag(std::optional<uint64_t> seed)
      : old_(trio::testing::internal::set_seed_flag(seed)) {}
  ~ScopedSeedFlag() { trio::testing::internal::set_seed_flag(old_); }

 private:
  std::optional<uint64_t> old_;
};

const TestSite kSite{"Outer", "Inner", "outer_file.cc", 7};

Task<> child(std::vector<int>* order, int i) {
  for (int k = 0; k < 3; ++k) co_await trio::checkpoint();
  order->push_back(i);
}

// Six children pass three checkpoints each, then record themselves: the order is the schedule.
std::vector<int> schedule_with_seed(uint64_t seed) {
  ScopedSeedFlag flag(seed);
  std::vector<int> order;
  run_test_body(kSite, {}, [&]() -> Task<> {
    return trio::open_nursery([&](trio::Nursery& n) -> Task<> {
      for (int i = 0; i < 6; ++i) n.start_soon(child, &order, i);
      co_return;
    });
  });
  return order;
}

Task<> never_awaited() { co_return; }

}  // namespace

// ---- the body's run -------------------------------------------------------------------------

TRIO_TEST(TrioTest, BodyRunsOnAnAutojumpMockClock) {
  auto* clock = dynamic_cast<trio::MockClock*>(&trio::lowlevel::current_clock());
  CO_ASSERT_NE(clock, nullptr);
  EXPECT_EQ(clock, &trio::testing::mock_clock());
  EXPECT_EQ(clock->autojump_threshold(), trio::Duration(0));
  EXPECT_EQ(trio::current_time(), trio::time_point_from_ns(0));
  co_await trio::sleep(1h);  // virtual: no real time passes
  EXPECT_EQ(trio::current_time(), trio::time_point_from_ns(3'600'000'000'000));
}

TRIO_TEST_REALTIME(TrioTest, RealtimeBodyRunsOnTheRealClock) {
  EXPECT_EQ(dynamic_cast<trio::MockClock*>(&trio::lowlevel::current_clock()), nullptr);
  EXPECT_THROW(trio::testing::mock_clock(), trio::RuntimeError);
  const auto real_start = std::chrono::steady_clock::now();
  const trio::TimePoint start = trio::current_time();
  co_await trio::sleep(2ms);
  EXPECT_GE(trio::current_time() - start, 2ms);
  EXPECT_GE(std::chrono::steady_clock::now() - real_start, 2ms);
}

TRIO_TEST_WITH(TrioTest, OptionsChooseTheSchedulingPolicy,
               {.scheduling = trio::SchedulingPolicy::kFifo}) {
  std::vector<int> order;
  co_await trio::open_nursery([&](trio::Nursery& n) -> Task<> {
    for (int i = 0; i < 4; ++i) n.start_soon(child, &order, i);
    co_return;
  });
  EXPECT_EQ(order, (std::vector<int>{0, 1, 2, 3}));  // FIFO, whatever the seed
}

TRIO_TEST(TrioTest, ReturnsWithEveryTaskExitedAndBodyValuesUsable) {
  int finished = 0;
  co_await trio::open_nursery([&](trio::Nursery& n) -> Task<> {
    n.start_soon([&finished]() -> Task<> {
      co_await trio::sleep(1s);
      ++finished;
    });
    co_return;
  });
  EXPECT_EQ(finished, 1);
  EXPECT_TRUE(trio::lowlevel::in_trio_run());
}

// TEST and TRIO_TEST share a suite (both register under ::testing::Test's type id).
TEST(TrioTest, PlainTestsShareTheSuite) { EXPECT_FALSE(trio::lowlevel::in_trio_run()); }

TEST(TrioTest, SeedAndClockAccessorsRaiseOutsideATrioTest) {
  EXPECT_THROW(trio::testing::test_seed(), trio::RuntimeError);
  EXPECT_THROW(trio::testing::mock_clock(), trio::RuntimeError);
}

// ---- seeds ----------------------------------------------------------------------------------

TRIO_TEST(TrioTestSeed, BodySeesTheResolvedSeed) {
  std::string error;
  EXPECT_EQ(trio::testing::test_seed(),
            trio::testing::internal::resolve_seed(
                {"TrioTestSeed", "BodySeesTheResolvedSeed", __FILE__, __LINE__}, &error));
  co_return;
}

TEST(TrioTestSeed, DefaultIsAFixed32BitHashOfTheTestName) {
  // FNV-1a of "A.B" folded to 32 bits: pinned so that default seeds never change silently.
  EXPECT_EQ(trio::testing::default_seed("A", "B"), 1524488565u);
  EXPECT_NE(trio::testing::default_seed("A", "B"), trio::testing::default_seed("A", "C"));
  ScopedSeedFlag no_flag(std::nullopt);
  ScopedEnv no_env("TRIO_SEED", nullptr);
  std::string error;
  EXPECT_EQ(trio::testing::internal::resolve_seed(kSite, &error),
            trio::testing::default_seed("Outer", "Inner"));
}

TEST(TrioTestSeed, EnvironmentOverridesDefaultAndFlagOverridesEnvironment) {
  ScopedSeedFlag no_flag(std::nullopt);
  ScopedEnv env("TRIO_SEED", "18446744073709551615");
  std::string error;
  EXPECT_EQ(trio::testing::internal::resolve_seed(kSite, &error), 18446744073709551615u);
  ScopedSeedFlag flag(42);
  EXPECT_EQ(trio::testing::internal::resolve_seed(kSite, &error), 42u);
}

TEST(TrioTestSeed, MalformedEnvironmentSeedFailsTheTestWithoutRunningIt) {
  ScopedSeedFlag no_flag(std::nullopt);
  ScopedEnv env("TRIO_SEED", "12x");
  bool ran = false;
  auto failures = failures_of([&] {
    run_test_body(kSite, {}, [&]() -> Task<> {
      ran = true;
      return never_awaited();
    });
  });
  EXPECT_FALSE(ran);
  ASSERT_EQ(failures.size(), 1u);
  EXPECT_TRUE(failures[0].fatally_failed());
  EXPECT_THAT(failures[0].message(), HasSubstr("TRIO_SEED='12x' is not a seed"));
}

// parse_flags is absl::ParseCommandLine after check_trio_flags: gtest's flags are gone by then
// (InitGoogleMock took them), and absl would reject them, so the rest here is positional.
TEST(TrioTestSeed, ParseFlagsTakesTrioSeedAndLeavesTheRest) {
  ScopedSeedFlag restore(std::nullopt);
  char a0[] = "bin", a1[] = "first", a2[] = "--trio_seed=5", a3[] = "positional";
  char* argv[] = {a0, a1, a2, a3, nullptr};
  int argc = 4;
  std::string error;
  ASSERT_TRUE(trio::testing::internal::parse_flags(&argc, argv, &error)) << error;
  EXPECT_EQ(argc, 3);
  EXPECT_STREQ(argv[1], "first");
  EXPECT_STREQ(argv[2], "positional");
  EXPECT_EQ(argv[3], nullptr);
  EXPECT_EQ(trio::testing::internal::resolve_seed(kSite, &error), 5u);
}

TEST(TrioTestSeed, ParseFlagsRejectsBadSeedsAndUnknownTrioFlags) {
  ScopedSeedFlag restore(std::nullopt);
  for (const char* bad : {"--trio_seed=", "--trio_seed=-1", "--trio_seed=0x10",
                          "--trio_seed=18446744073709551616", "--trio_sed=1"}) {
    std::string arg = bad;
    char a0[] = "bin";
    char* argv[] = {a0, arg.data(), nullptr};
    int argc = 2;
    std::string error;
    EXPECT_FALSE(trio::testing::internal::parse_flags(&argc, argv, &error)) << bad;
    EXPECT_THAT(error, HasSubstr(bad));
  }
}

TEST(TrioTestSeed, SameSeedGivesTheSameScheduleAndSeedsExploreSchedules) {
  std::set<std::vector<int>> schedules;
  for (uint64_t seed = 1; seed <= 20; ++seed) {
    std::vector<int> first = schedule_with_seed(seed);
    EXPECT_EQ(first.size(), 6u);
    EXPECT_EQ(schedule_with_seed(seed), first) << "seed " << seed;
    schedules.insert(first);
  }
  EXPECT_GE(schedules.size(), 2u) << "the seed does not influence the schedule";
}

// ---- failure reports ------------------------------------------------------------------------

TEST(TrioTestFailure, FailureInsideTheBodyCarriesTheSeedAndABazelReproLine) {
  ScopedEnv target("TEST_TARGET", "//pkg:target");
  ScopedSeedFlag seed(123);
  auto failures = failures_of([] {
    run_test_body(kSite, {}, []() -> Task<> {
      co_await trio::sleep(1s);
      ADD_FAILURE() << "inner failure";
    });
  });
  ASSERT_EQ(failures.size(), 1u);
  const std::string& message = failures[0].message();
  EXPECT_THAT(message, HasSubstr("inner failure"));
  EXPECT_THAT(message, HasSubstr("outer_file.cc:7: trio seed 123; reproduce with: bazel test"));
  EXPECT_THAT(message,
              HasSubstr(" //pkg:target --test_filter=Outer.Inner --test_env=TRIO_SEED=123"));
  EXPECT_THAT(message, HasSubstr(trio::testing::internal::repro_command("Outer", "Inner", 123)));
}

TEST(TrioTestFailure, OutsideBazelTheReproLineRunsTheBinaryWithAFilter) {
  ScopedEnv target("TEST_TARGET", nullptr);
  EXPECT_EQ(trio::testing::internal::repro_command("Outer", "Inner", 9),
            std::string("TRIO_SEED=9 ") + program_invocation_name + " --gtest_filter=Outer.Inner");
}

TEST(TrioTestFailure, EscapingExceptionIsAFatalFailureWithTypeAndMessage) {
  ScopedSeedFlag seed(77);
  auto failures = failures_of([] {
    run_test_body(kSite, {}, []() -> Task<> {
      co_await trio::checkpoint();
      throw std::runtime_error("boom");
    });
  });
  ASSERT_EQ(failures.size(), 1u);
  EXPECT_TRUE(failures[0].fatally_failed());
  EXPECT_STREQ(failures[0].file_name(), "outer_file.cc");
  EXPECT_EQ(failures[0].line_number(), 7);
  EXPECT_THAT(failures[0].message(), HasSubstr("TRIO_TEST body raised std::runtime_error: boom"));
  EXPECT_THAT(failures[0].message(), HasSubstr("TRIO_SEED=77"));
}

// Raises at once, in the task's first step (so no sibling is cancelled before it raises).
Task<> fail_with(std::string message) {
  if (message.empty()) co_return;
  throw std::logic_error(message);
}

TEST(TrioTestFailure, EscapingExceptionGroupIsReportedWithItsTree) {
  auto failures = failures_of([] {
    run_test_body(kSite, {}, []() -> Task<> {
      return trio::open_nursery([](trio::Nursery& n) -> Task<> {
        n.start_soon(trio::TaskName("first"), fail_with, "boom");
        n.start_soon(trio::TaskName("second"), fail_with, "bang");
        co_return;
      });
    });
  });
  ASSERT_EQ(failures.size(), 1u);
  const std::string& message = failures[0].message();
  EXPECT_THAT(message, HasSubstr("TRIO_TEST body raised trio::ExceptionGroup: Exceptions from "
                                 "Trio nursery (2 sub-exceptions)"));
  EXPECT_THAT(message, HasSubstr("+-- [task first] boom"));
  EXPECT_THAT(message, HasSubstr("+-- [task second] bang"));
}

TEST(TrioTestFailure, DeadlockIsReportedInsteadOfHanging) {
  auto failures = failures_of(
      [] { run_test_body(kSite, {}, []() -> Task<> { co_await trio::sleep_forever(); }); });
  ASSERT_EQ(failures.size(), 1u);
  EXPECT_THAT(failures[0].message(), HasSubstr("TRIO_TEST body raised trio::DeadlockError"));
}

TEST(TrioTestFailure, ALockOrderDeadlockNamesTheLocksTheirHoldersAndTheCycle) {
  auto failures = failures_of([] {
    run_test_body(kSite, {}, []() -> Task<> {
      trio::Lock inbox("inbox"), outbox("outbox");
      co_await trio::open_nursery([&](trio::Nursery& n) -> Task<> {
        for (int i = 0; i < 2; ++i) {
          n.start_soon(trio::TaskName(i == 0 ? "reader" : "writer"), [&, i]() -> Task<> {
            trio::LockGuard held = co_await (i == 0 ? inbox : outbox).acquire_guard();
            co_await trio::sleep(1ms);
            co_await (i == 0 ? outbox : inbox).acquire();
          });
        }
        co_return;
      });
    });
  });
  ASSERT_EQ(failures.size(), 1u);
  const std::string& message = failures[0].message();
  EXPECT_THAT(message, HasSubstr("TRIO_TEST body raised trio::DeadlockError"));
  EXPECT_THAT(message, HasSubstr("task reader: blocked on Lock.acquire of lock 'outbox' (held by "
                                 "task writer)\n"));
  EXPECT_THAT(message, HasSubstr("deadlock cycle: task reader waits for lock 'outbox' held by task "
                                 "writer, which waits for lock 'inbox' held by task reader\n"));
}

TEST(TrioTestFailure, LeakedFrameIsReportedWithItsCount) {
  static Task<>* leaked = nullptr;
  auto failures = failures_of([] {
    run_test_body(kSite, {}, []() -> Task<> {
      leaked = new Task<>(never_awaited());
      co_return;
    });
  });
  delete leaked;  // frees the frame the test leaked on purpose
  ASSERT_EQ(failures.size(), 1u);
  EXPECT_FALSE(failures[0].fatally_failed());
  EXPECT_THAT(failures[0].message(), HasSubstr("TRIO_TEST leaked 1 coroutine frame(s)"));
  EXPECT_THAT(failures[0].message(), HasSubstr("reproduce with:"));
}

TEST(TrioTestFailure, DestroyingAFrameFromBeforeTheRunIsReported) {
  static Task<>* early = nullptr;
  early = new Task<>(never_awaited());  // a frame created outside any run
  auto failures = failures_of([] {
    run_test_body(kSite, {}, []() -> Task<> {
      delete early;
      co_return;
    });
  });
  ASSERT_EQ(failures.size(), 1u);
  EXPECT_THAT(failures[0].message(),
              HasSubstr("TRIO_TEST destroyed 1 coroutine frame(s) created before its run"));
}

TEST(TrioTestFailure, PassingBodyReportsNothing) {
  auto failures = failures_of([] {
    run_test_body(kSite, {}, []() -> Task<> {
      EXPECT_EQ(1 + 1, 2);
      co_await trio::sleep(1s);
    });
  });
  EXPECT_TRUE(failures.empty());
}

// ---- CO_ASSERT --------------------------------------------------------------------------------

TEST(CoAssert, FailingAssertionLeavesTheCoroutineWithAFatalFailure) {
  static bool reached = false;
  reached = false;
  auto failures = failures_of([] {
    run_test_body(kSite, {}, []() -> Task<> {
      co_await trio::checkpoint();
      CO_ASSERT_EQ(1, 2) << "extra words";
      reached = true;
    });
  });
  EXPECT_FALSE(reached);
  ASSERT_EQ(failures.size(), 1u);
  EXPECT_TRUE(failures[0].fatally_failed());
  EXPECT_THAT(failures[0].message(), HasSubstr("extra words"));
}

TEST(CoAssert, EachFormFailsOnlyWhenItShould) {
  static int reached = 0;
  reached = 0;
  auto failures = failures_of([] {
    run_test_body(kSite, {}, []() -> Task<> {
      const std::vector<int> v{1, 2};
      CO_ASSERT_TRUE(true);
      CO_ASSERT_FALSE(false);
      CO_ASSERT_EQ(1, 1);
      CO_ASSERT_NE(1, 2);
      CO_ASSERT_LT(1, 2);
      CO_ASSERT_LE(2, 2);
      CO_ASSERT_GT(3, 2);
      CO_ASSERT_GE(3, 3);
      CO_ASSERT_THAT(v, ::testing::ElementsAre(1, 2));
      ++reached;
      co_await trio::open_nursery([&](trio::Nursery& n) -> Task<> {
        n.start_soon([]() -> Task<> { CO_ASSERT_THAT(1, ::testing::Eq(2)); });
        n.start_soon([]() -> Task<> { CO_FAIL() << "explicit"; });
        n.start_soon([]() -> Task<> { CO_ASSERT_TRUE(1 > 2); });
        co_return;
      });
      ++reached;  // a child's CO_ASSERT ends only that child
    });
  });
  EXPECT_EQ(reached, 2);
  ASSERT_EQ(failures.size(), 3u);
  for (const TestPartResult& f : failures) EXPECT_TRUE(f.fatally_failed());
  EXPECT_THAT(trio::testing::messages(failures),
              ::testing::UnorderedElementsAre(HasSubstr("is equal to 2"), HasSubstr("explicit"),
                                              HasSubstr("1 > 2")));
}
