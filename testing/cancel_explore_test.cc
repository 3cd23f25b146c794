// SPDX-License-Identifier: Apache-2.0 OR MIT
// Cancellation exploration finds planted cancellation bugs (a flag-lock left held, a message
// dropped by a cancelled forwarder) at the exact cancel point, passes their fixed versions at
// every point, and counts, samples and targets cancel points as documented.
#include "testing/cancel_explore.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <deque>
#include <iostream>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "runtime/trio.h"
#include "testing/choices.h"

namespace {

using namespace std::chrono_literals;
using ::testing::HasSubstr;
using trio::testing::CancelTarget;
using trio::testing::explore_cancellation;

// ---- planted bug 1: a hand-made lock that is not released when its holder is cancelled ---------

struct FlagLock {
  bool busy = false;
  int uses = 0;
};

trio::Task<> use_lock_buggy(FlagLock& lock) {
  lock.busy = true;
  co_await trio::sleep(1s);  // cancelled here: busy stays true forever
  lock.busy = false;
  ++lock.uses;
}

trio::Task<> use_lock_fixed(FlagLock& lock) {
  lock.busy = true;
  try {
    co_await trio::sleep(1s);
  } catch (...) {
    lock.busy = false;
    throw;
  }
  lock.busy = false;
  ++lock.uses;
}

template <class Use>
std::function<trio::Task<>()> lock_body(FlagLock& lock, Use use) {
  return [&lock, use]() -> trio::Task<> {
    lock = FlagLock{};
    co_await trio::open_nursery([&](trio::Nursery& n) -> trio::Task<> {
      for (int i = 0; i < 2; ++i) {
        n.start_soon([&lock, use]() -> trio::Task<> {
          co_await trio::move_on_after(10s, [&]() -> trio::Task<> { co_await use(lock); });
        });
      }
      co_return;
    });
  };
}

std::function<std::string()> lock_released(const FlagLock& lock) {
  return [&lock] { return lock.busy ? std::string("the lock is still held") : std::string(); };
}

TEST(CancelExploration, FindsLockNotReleasedOnCancellation) {
  FlagLock lock;
  auto report =
      explore_cancellation(lock_body(lock, use_lock_buggy), lock_released(lock), {.seed = 3});
  ASSERT_FALSE(report.ok()) << report.to_string();
  const auto& f = report.failures.front();
  // Point 0 is the main task waiting at the nursery's exit, before the children ran: cancelling
  // the nursery there cancels both children at their sleep, with the lock taken.
  EXPECT_EQ(f.point, 0u);
  EXPECT_EQ(f.task, "main");
  EXPECT_EQ(f.scope_index, 0u);
  EXPECT_EQ(f.what, "the lock is still held");
  EXPECT_THAT(f.trace, HasSubstr("injected at cancel point 0"));
  EXPECT_EQ(report.runs, 1u);  // stopped at the first failing point
  EXPECT_THAT(report.to_string(), HasSubstr("first failure: cancel point 0"));
  EXPECT_THAT(report.to_string(), HasSubstr("run_with_cancellation(body, invariants, /*point=*/0"));
}

TEST(CancelExploration, FixedLockIsReleasedAtEveryPoint) {
  FlagLock lock;
  auto report =
      explore_cancellation(lock_body(lock, use_lock_fixed), lock_released(lock), {.seed = 3});
  EXPECT_TRUE(report.ok()) << report.to_string();
  EXPECT_GE(report.cancel_points, 2u);
  EXPECT_EQ(report.runs, report.cancel_points);
}

// A body and its invariants may be move-only (Scenario and Invariants are absl::AnyInvocables):
// here the body owns the lock and the invariants own their message, each through a unique_ptr.
TEST(CancelExploration, TakesAMoveOnlyBodyAndInvariants) {
  auto owned_lock = std::make_unique<FlagLock>();
  const FlagLock& lock = *owned_lock;
  int checks = 0;
  auto report = explore_cancellation(
      [body = lock_body(*owned_lock, use_lock_buggy), owner = std::move(owned_lock)] {
        return body();
      },
      [message = std::make_unique<std::string>("the lock is still held"), &lock, &checks] {
        ++checks;
        return lock.busy ? *message : std::string();
      },
      {.seed = 3});
  ASSERT_FALSE(report.ok()) << report.to_string();
  EXPECT_EQ(report.failures.front().what, "the lock is still held");
  EXPECT_GE(checks, 2) << "the invariants ran after the baseline and the injected run";
}

TEST(CancelExploration, RunWithCancellationReproducesAReportedPoint) {
  FlagLock lock;
  auto body = lock_body(lock, use_lock_buggy);
  auto report = explore_cancellation(body, lock_released(lock), {.seed = 5});
  ASSERT_FALSE(report.ok());
  const auto& f = report.failures.front();
  auto again = trio::testing::run_with_cancellation(body, lock_released(lock), f.point,
                                                    f.scope_index, {.seed = 5});
  ASSERT_TRUE(again.has_value());
  EXPECT_EQ(again->task, f.task);
  EXPECT_EQ(again->trace, f.trace);
}

// ---- planted bug 2: a forwarder that drops the item it holds when cancelled --------------------

struct Pipeline {
  std::deque<int> queue;
  std::vector<int> out;
  int items_in = 0;
};

// [START cancel_explore_bug]
trio::Task<> forward_buggy(Pipeline& p) {
  while (!p.queue.empty()) {
    int item = p.queue.front();
    p.queue.pop_front();
    co_await trio::checkpoint();  // cancelled here: `item` is in neither the queue nor `out`
    p.out.push_back(item);
  }
}
// [END cancel_explore_bug]

trio::Task<> forward_fixed(Pipeline& p) {
  while (!p.queue.empty()) {
    int item = p.queue.front();
    p.queue.pop_front();
    try {
      co_await trio::checkpoint();
    } catch (const trio::Cancelled&) {
      p.queue.push_front(item);  // give it back before unwinding
      throw;
    }
    p.out.push_back(item);
  }
}

template <class Forward>
std::function<trio::Task<>()> pipeline_body(Pipeline& p, Forward forward) {
  return [&p, forward]() -> trio::Task<> {
    p = Pipeline{};
    for (int i = 0; i < 4; ++i) p.queue.push_back(i);
    p.items_in = 4;
    co_await trio::move_on_after(1min, [&]() -> trio::Task<> { co_await forward(p); });
  };
}

std::function<std::string()> nothing_lost(const Pipeline& p) {
  return [&p]() -> std::string {
    const size_t accounted = p.out.size() + p.queue.size();
    if (accounted == static_cast<size_t>(p.items_in)) return "";
    return "items in " + std::to_string(p.items_in) + " != items out " +
           std::to_string(p.out.size()) + " + items queued " + std::to_string(p.queue.size());
  };
}

TEST(CancelExploration, FindsMessageDroppedByCancelledWrapper) {
  // [START cancel_explore_use]
  Pipeline p;
  auto report = explore_cancellation(pipeline_body(p, forward_buggy), nothing_lost(p), {.seed = 1});
  ASSERT_FALSE(report.ok()) << report.to_string();
  EXPECT_EQ(report.cancel_points, 4u);  // one checkpoint per item
  const auto& f = report.failures.front();
  EXPECT_EQ(f.point, 0u);
  EXPECT_EQ(f.what, "items in 4 != items out 0 + items queued 3");
  // [END cancel_explore_use]
  EXPECT_EQ(f.task, "main") << "the forwarder runs in the main task";
}

TEST(CancelExploration, FindsEveryDroppingPointWhenAskedToContinue) {
  Pipeline p;
  auto report = explore_cancellation(pipeline_body(p, forward_buggy), nothing_lost(p),
                                     {.seed = 1, .stop_at_first_failure = false});
  EXPECT_EQ(report.runs, 4u);
  ASSERT_EQ(report.failures.size(), 4u);
  EXPECT_EQ(report.failures[3].what, "items in 4 != items out 3 + items queued 0");
}

TEST(CancelExploration, FixedForwarderKeepsEveryMessageAtEveryPoint) {
  Pipeline p;
  auto report = explore_cancellation(pipeline_body(p, forward_fixed), nothing_lost(p),
                                     {.seed = 1, .target = CancelTarget::kEach});
  EXPECT_TRUE(report.ok()) << report.to_string();
  EXPECT_EQ(report.cancel_points, 4u);
  EXPECT_EQ(report.runs, 4u) << "the move_on_after is the body's only scope around the forwarder";
}

// ---- counting, sampling, targets and the harness's own checks
// ------------------------------------

TEST(CancelExploration, CountsCancelPointsPerTask) {
  auto body = []() -> trio::Task<> {
    co_await trio::open_nursery([&](trio::Nursery& n) -> trio::Task<> {
      n.start_soon([]() -> trio::Task<> {
        for (int i = 0; i < 3; ++i) co_await trio::checkpoint();
      });
      co_return;
    });
  };
  auto report = explore_cancellation(body, nullptr, {.seed = 2});
  EXPECT_TRUE(report.ok()) << report.to_string();
  uint64_t sum = 0;
  uint64_t child = 0;
  for (const auto& [name, count] : report.per_task) {
    sum += count;
    if (name != "main") child += count;
  }
  EXPECT_EQ(sum, report.cancel_points);
  EXPECT_EQ(child, 3u);
}

TEST(CancelExploration, SamplesAtMostMaxPointsWithTheSeed) {
  Pipeline p;
  auto body = pipeline_body(p, forward_fixed);
  auto a = explore_cancellation(body, nothing_lost(p), {.seed = 9, .max_points = 2});
  EXPECT_TRUE(a.ok()) << a.to_string();
  EXPECT_EQ(a.cancel_points, 4u);
  EXPECT_EQ(a.runs, 2u);
  auto b = explore_cancellation(pipeline_body(p, forward_buggy), nothing_lost(p),
                                {.seed = 9, .max_points = 2, .stop_at_first_failure = false});
  ASSERT_EQ(b.failures.size(), 2u);
  auto c = explore_cancellation(pipeline_body(p, forward_buggy), nothing_lost(p),
                                {.seed = 9, .max_points = 2, .stop_at_first_failure = false});
  ASSERT_EQ(c.failures.size(), 2u);
  EXPECT_EQ(b.failures[0].point, c.failures[0].point) << "the sample follows from the seed";
  EXPECT_EQ(b.failures[1].point, c.failures[1].point);
}

TEST(CancelExploration, UnexpectedExceptionFailsThePointUnlessExpected) {
  // Turning a cancellation into an error is a bug the harness reports by itself.
  auto body = []() -> trio::Task<> {
    co_await trio::move_on_after(1s, [&]() -> trio::Task<> {
      try {
        co_await trio::sleep(10ms);
      } catch (const trio::Cancelled&) {
        throw std::runtime_error("interrupted");
      }
    });
  };
  auto report = explore_cancellation(body, nullptr, {.seed = 1});
  ASSERT_FALSE(report.ok());
  EXPECT_THAT(report.failures.front().what, HasSubstr("the run raised"));
  EXPECT_THAT(report.failures.front().what, HasSubstr("interrupted"));

  auto tolerant = explore_cancellation(
      body, nullptr, {.seed = 1, .expected_error = [](const std::exception_ptr& e) {
                        return trio::describe(e).find("interrupted") != std::string::npos;
                      }});
  EXPECT_TRUE(tolerant.ok()) << tolerant.to_string();
}

TEST(CancelExploration, OutermostTargetCancelsTheWholeRun) {
  Pipeline p;
  auto report = explore_cancellation(pipeline_body(p, forward_fixed), nothing_lost(p),
                                     {.seed = 1, .target = CancelTarget::kOutermost});
  EXPECT_TRUE(report.ok()) << report.to_string();
  EXPECT_EQ(report.runs, 4u);
}

TEST(CancelExploration, ReportsAFailingBaselineRun) {
  auto report = explore_cancellation([]() -> trio::Task<> { co_return; },
                                     [] { return std::string("always broken"); }, {});
  EXPECT_FALSE(report.ok());
  EXPECT_EQ(report.runs, 0u);
  EXPECT_THAT(report.to_string(), HasSubstr("the run without injection failed: always broken"));
}

// ---- shrinking and folding the report ----------------------------------------------------------

// Noise first — three siblings take ten checkpoints each (a coin flip per batch) — then a
// worker that takes the flag lock the buggy way on one path only, drawn from the run.
std::function<trio::Task<>()> lock_on_one_path_body(FlagLock& lock) {
  return [&lock]() -> trio::Task<> {
    lock = FlagLock{};
    co_await trio::open_nursery([&](trio::Nursery& n) -> trio::Task<> {
      for (int i = 0; i < 3; ++i)
        n.start_soon([]() -> trio::Task<> {
          for (int k = 0; k < 10; ++k) co_await trio::checkpoint();
        });
      co_return;
    });
    co_await trio::move_on_after(10s, [&]() -> trio::Task<> {
      if (trio::lowlevel::random_choice(2) == 1) {
        co_await use_lock_buggy(lock);
      } else {
        co_await use_lock_fixed(lock);
      }
    });
  };
}

TEST(CancelExplorationShrinking, KeepsOnlyTheDecisionTheFailureNeeds) {
  FlagLock lock;
  auto body = lock_on_one_path_body(lock);
  std::optional<trio::testing::CancelExploreReport> found;
  for (uint64_t seed = 0; seed < 20 && !found; ++seed) {
    auto report = explore_cancellation(body, lock_released(lock), {.seed = seed});
    if (!report.ok()) found = std::move(report);
  }
  ASSERT_TRUE(found.has_value()) << "some seed takes the buggy path";
  const auto& report = *found;
  ASSERT_TRUE(report.shrunk.has_value()) << report.to_string();
  const auto& s = *report.shrunk;
  EXPECT_EQ(s.what, "the lock is still held");
  const auto values = trio::testing::parse_choices(s.choices.value_or("?"));
  ASSERT_TRUE(values.has_value());
  EXPECT_EQ(std::count_if(values->begin(), values->end(), [](uint64_t v) { return v != 0; }), 1)
      << "only the path: " << *s.choices;
  EXPECT_LE(s.point, report.failures.front().point) << "no longer a prefix";
  EXPECT_LE(report.shrink_runs, 60u);
  const std::string text = report.to_string();
  EXPECT_THAT(text, HasSubstr("under the schedule \"" + *s.choices + "\""));
  EXPECT_THAT(text, HasSubstr("{.choices = \"" + *s.choices + "\"}"));
  EXPECT_THAT(text, ::testing::Not(HasSubstr("<init>")));
  auto again = trio::testing::run_with_cancellation(body, lock_released(lock), s.point,
                                                    s.scope_index, {.choices = *s.choices});
  ASSERT_TRUE(again.has_value()) << "the shrunk failure replays";
  EXPECT_EQ(again->what, s.what);
  std::cout << text;
}

TEST(CancelExplorationShrinking, NoShrinkingWhenTurnedOff) {
  FlagLock lock;
  auto report = explore_cancellation(lock_body(lock, use_lock_buggy), lock_released(lock),
                                     {.seed = 3, .shrink = false});
  ASSERT_FALSE(report.ok());
  EXPECT_FALSE(report.shrunk.has_value());
  EXPECT_EQ(report.shrink_runs, 0u);
  EXPECT_THAT(report.to_string(), HasSubstr("trace of that run:\n" + report.failures[0].trace));
}

// The report says which scope it cancelled: its kind, its name and the file:line that opened it.
TEST(CancelExploration, ReportNamesTheCancelledScopesKindNameAndSite) {
  bool slept = false;
  int line = 0;
  auto body = [&]() -> trio::Task<> {
    slept = false;
    auto sleeper = [&](trio::CancelScope& scope) -> trio::Task<> {
      scope.set_name("the nap");
      co_await trio::sleep(1s);
      slept = true;
    };
    line = __LINE__ + 1;
    co_await trio::move_on_after(10s, sleeper);
  };
  auto invariants = [&] { return slept ? std::string() : std::string("the nap was cut short"); };
  auto report = explore_cancellation(body, invariants, {.seed = 1});
  ASSERT_FALSE(report.ok()) << report.to_string();
  const std::string where =
      "move_on_after \"the nap\" at testing/cancel_explore_test.cc:" + std::to_string(line);
  EXPECT_EQ(report.failures.front().scope, where);
  EXPECT_THAT(report.to_string(), HasSubstr("cancelling its only scope: " + where + ")"));
}

// An unnamed nursery's scope is described by its kind and the line of open_nursery.
TEST(CancelExploration, ReportNamesANurserysSite) {
  FlagLock lock;
  auto report =
      explore_cancellation(lock_body(lock, use_lock_buggy), lock_released(lock), {.seed = 3});
  ASSERT_FALSE(report.ok()) << report.to_string();
  EXPECT_THAT(report.failures.front().scope,
              ::testing::MatchesRegex("nursery at testing/cancel_explore_test.cc:[0-9]+"));
}

}  // namespace
