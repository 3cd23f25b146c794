// SPDX-License-Identifier: Apache-2.0 OR MIT
// Event, Semaphore and CapacityLimiter (spec §1.7, §2.12; Trio's test_sync.py): contracts,
// Trio's error messages, FIFO hand-off fairness (a release goes straight to the longest waiter,
// and *_nowait fails while others wait), cancellation leaving the primitive unchanged, and the
// checkpoint rule — every blocking call is a cancel point and a schedule point (checked with
// the task's cancel_points / schedule_points counters), every sync call is neither. Runs use a
// MockClock with autojump threshold 0 and wait_all_tasks_blocked() to let other tasks settle.
#include "runtime/sync.h"

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "runtime/testing/sim_test_support.h"
#include "runtime/trio.h"
#include "simclock/mock_clock.h"

using namespace std::chrono_literals;
using trio::Task;
using trio::lowlevel::wait_all_tasks_blocked;
using Record = std::vector<std::string>;

using namespace sim_test;

// ---- Event -------------------------------------------------------------------------------------

TEST(Event, SetIsSyncAndWaitingOnASetEventIsACheckpoint) {
  sim_run([]() -> Task<> {
    trio::Event e;
    EXPECT_FALSE(e.is_set());
    EXPECT_EQ(e.statistics().tasks_waiting, 0u);
    EXPECT_NO_CHECKPOINT(e.set());
    EXPECT_TRUE(e.is_set());
    EXPECT_NO_CHECKPOINT(e.set());  // idempotent
    EXPECT_CHECKPOINT(co_await e.wait());
  });
}

TEST(Event, SetWakesEveryWaiter) {
  sim_run([]() -> Task<> {
    trio::Event e;
    Record record;
    std::vector<trio::lowlevel::TaskRecord*> waiters;
    auto child = [&]() -> Task<> {
      record.push_back("sleeping");
      waiters.push_back(&trio::lowlevel::current_task());
      EXPECT_CHECKPOINT(co_await e.wait());
      record.push_back("woken");
    };
    co_await trio::open_nursery([&](trio::Nursery& n) -> Task<> {
      n.start_soon(child);
      n.start_soon(child);
      co_await wait_all_tasks_blocked();
      EXPECT_EQ(record, (Record{"sleeping", "sleeping"}));
      EXPECT_EQ(e.statistics().tasks_waiting, 2u);
      for (auto* t : waiters) EXPECT_EQ(trio::lowlevel::waiting_on(*t), "Event.wait");
      e.set();
      EXPECT_EQ(e.statistics().tasks_waiting, 0u);
      co_await wait_all_tasks_blocked();
      EXPECT_EQ(record, (Record{"sleeping", "sleeping", "woken", "woken"}));
    });
  });
}

TEST(Event, ACancelledWaitLeavesTheOtherWaitersWaiting) {
  sim_run([]() -> Task<> {
    trio::Event e;
    int woken = 0;
    trio::CancelScope first;
    co_await trio::open_nursery([&](trio::Nursery& n) -> Task<> {
      n.start_soon(
          [&]() -> Task<> { co_await first.enter([&]() -> Task<> { co_await e.wait(); }); });
      n.start_soon([&]() -> Task<> {
        co_await e.wait();
        ++woken;
      });
      co_await wait_all_tasks_blocked();
      EXPECT_EQ(e.statistics().tasks_waiting, 2u);
      first.cancel();
      co_await wait_all_tasks_blocked();
      EXPECT_TRUE(first.cancelled_caught());
      EXPECT_EQ(e.statistics().tasks_waiting, 1u);
      e.set();
    });
    EXPECT_EQ(woken, 1);
  });
}

TEST(Event, WaitingInACancelledScopeRaisesEvenWhenSet) {
  sim_run([]() -> Task<> {
    trio::Event e;
    for (bool set : {false, true}) {
      if (set) e.set();
      trio::CancelScope scope;
      scope.cancel();
      co_await scope.enter([&]() -> Task<> {
        co_await e.wait();
        ADD_FAILURE() << "wait returned in a cancelled scope";
      });
      EXPECT_TRUE(scope.cancelled_caught());
      EXPECT_EQ(e.statistics().tasks_waiting, 0u);
    }
  });
}

// ---- Semaphore ---------------------------------------------------------------------------------

TEST(Semaphore, RejectsANegativeOrInconsistentInitialValue) {
  EXPECT_THROW(
      {
        try {
          trio::Semaphore s(-1);
        } catch (const trio::ValueError& e) {
          EXPECT_STREQ(e.what(), "initial value must be >= 0");
          throw;
        }
      },
      trio::ValueError);
  EXPECT_THROW(
      {
        try {
          trio::Semaphore s(2, 1);
        } catch (const trio::ValueError& e) {
          EXPECT_STREQ(e.what(), "max_values must be >= initial_value");
          throw;
        }
      },
      trio::ValueError);
}

TEST(Semaphore, CountsAndCheckpointsAndHandsAReleaseToTheWaiter) {
  sim_run([]() -> Task<> {
    trio::Semaphore s(1);
    EXPECT_EQ(s.value(), 1);
    EXPECT_FALSE(s.max_value().has_value());
    EXPECT_NO_CHECKPOINT(s.release());
    EXPECT_EQ(s.value(), 2);
    EXPECT_EQ(s.statistics().tasks_waiting, 0u);
    EXPECT_NO_CHECKPOINT(s.acquire_nowait());
    EXPECT_EQ(s.value(), 1);
    EXPECT_CHECKPOINT(co_await s.acquire());
    EXPECT_EQ(s.value(), 0);
    EXPECT_THROW(s.acquire_nowait(), trio::WouldBlock);
    s.release();
    EXPECT_CHECKPOINT({
      trio::LockGuard guard = co_await s.acquire_guard();
      EXPECT_EQ(s.value(), 0);
    });
    EXPECT_EQ(s.value(), 1);
    s.acquire_nowait();

    Record record;
    co_await trio::open_nursery([&](trio::Nursery& n) -> Task<> {
      n.start_soon([&]() -> Task<> {
        record.push_back("started");
        EXPECT_CHECKPOINT(co_await s.acquire());
        record.push_back("finished");
      });
      co_await wait_all_tasks_blocked();
      EXPECT_EQ(record, Record{"started"});
      EXPECT_EQ(s.statistics().tasks_waiting, 1u);
      EXPECT_EQ(s.value(), 0);
      s.release();
      // Fairness: the unit went to the waiter.
      EXPECT_EQ(s.value(), 0);
      EXPECT_THROW(s.acquire_nowait(), trio::WouldBlock);
    });
    EXPECT_EQ(record, (Record{"started", "finished"}));
  });
}

TEST(Semaphore, ABoundedSemaphoreRejectsReleasingPastItsMaximum) {
  sim_run([]() -> Task<> {
    trio::Semaphore bs(1, 1);
    EXPECT_EQ(bs.max_value(), 1);
    try {
      bs.release();
      ADD_FAILURE() << "no error";
    } catch (const trio::ValueError& e) {
      EXPECT_STREQ(e.what(), "semaphore released too many times");
    }
    EXPECT_EQ(bs.value(), 1);
    bs.acquire_nowait();
    EXPECT_EQ(bs.value(), 0);
    bs.release();
    EXPECT_EQ(bs.value(), 1);
    co_return;
  });
}

TEST(Semaphore, ACancelledAcquireTakesNothing) {
  sim_run([]() -> Task<> {
    trio::Semaphore s(0);
    co_await trio::open_nursery([&](trio::Nursery& n) -> Task<> {
      n.start_soon([&]() -> Task<> { co_await s.acquire(); });
      co_await wait_all_tasks_blocked();
      n.cancel_scope().cancel();
    });
    EXPECT_EQ(s.statistics().tasks_waiting, 0u);
    s.release();
    EXPECT_EQ(s.value(), 1);
    // A cancelled caller is refused even when a unit is free.
    trio::CancelScope scope;
    scope.cancel();
    co_await scope.enter([&]() -> Task<> { co_await s.acquire(); });
    EXPECT_TRUE(scope.cancelled_caught());
    EXPECT_EQ(s.value(), 1);
  });
}

// ---- CapacityLimiter ---------------------------------------------------------------------------

TEST(CapacityLimiter, RejectsNegativeTotals) {
  try {
    trio::CapacityLimiter c(-1);
    ADD_FAILURE() << "no error";
  } catch (const trio::ValueError& e) {
    EXPECT_STREQ(e.what(), "total_tokens must be >= 0");
  }
  trio::CapacityLimiter c(2);
  EXPECT_THROW(c.set_total_tokens(-10), trio::ValueError);
  EXPECT_EQ(c.total_tokens(), 2);
}

TEST(CapacityLimiter, BorrowsForTasksAndOnBehalfOfOthers) {
  sim_run([]() -> Task<> {
    trio::CapacityLimiter c(2);
    const void* me = &trio::lowlevel::current_task();
    int someone = 0, third = 0;
    EXPECT_EQ(c.total_tokens(), 2);
    EXPECT_EQ(c.borrowed_tokens(), 0u);
    EXPECT_EQ(c.available_tokens(), 2);
    try {
      c.release();
      ADD_FAILURE() << "no error";
    } catch (const trio::RuntimeError& e) {
      EXPECT_STREQ(e.what(), "this borrower isn't holding any of this CapacityLimiter's tokens");
    }
    EXPECT_NO_CHECKPOINT(c.acquire_nowait());
    EXPECT_EQ(c.borrowed_tokens(), 1u);
    EXPECT_EQ(c.available_tokens(), 1);
    trio::CapacityLimiterStatistics stats = c.statistics();
    EXPECT_EQ(stats.borrowed_tokens, 1u);
    EXPECT_EQ(stats.total_tokens, 2);
    EXPECT_EQ(stats.borrowers, std::vector<const void*>{me});
    EXPECT_EQ(stats.tasks_waiting, 0u);

    // The same borrower cannot take a second token, blocking or not (and without a schedule
    // point).
    try {
      c.acquire_nowait();
      ADD_FAILURE() << "no error";
    } catch (const trio::RuntimeError& e) {
      EXPECT_STREQ(e.what(),
                   "this borrower is already holding one of this CapacityLimiter's tokens");
    }
    const Points before = points();
    EXPECT_THROW(co_await c.acquire(), trio::RuntimeError);
    EXPECT_EQ(points().schedule, before.schedule);
    EXPECT_EQ(c.borrowed_tokens(), 1u);

    EXPECT_CHECKPOINT(co_await c.acquire_on_behalf_of(&someone));
    EXPECT_EQ(c.borrowed_tokens(), 2u);
    EXPECT_THROW(c.acquire_on_behalf_of_nowait(&third), trio::WouldBlock);
    EXPECT_EQ(c.statistics().borrowers, (std::vector<const void*>{me, &someone}));
    EXPECT_NO_CHECKPOINT(c.release_on_behalf_of(me));
    EXPECT_EQ(c.statistics().borrowers, std::vector<const void*>{&someone});
    c.release_on_behalf_of(&someone);
    EXPECT_EQ(c.borrowed_tokens(), 0u);
    EXPECT_CHECKPOINT({
      trio::LockGuard token = co_await c.acquire_guard();
      EXPECT_EQ(c.borrowed_tokens(), 1u);
    });
    EXPECT_EQ(c.borrowed_tokens(), 0u);
  });
}

TEST(CapacityLimiter, AReleasedTokenGoesStraightToTheWaiter) {
  sim_run([]() -> Task<> {
    trio::CapacityLimiter c(2);
    int v1 = 1, v2 = 2, v3 = 3;
    co_await trio::open_nursery([&](trio::Nursery& n) -> Task<> {
      co_await c.acquire_on_behalf_of(&v1);
      co_await c.acquire_on_behalf_of(&v2);
      n.start_soon([&]() -> Task<> { co_await c.acquire_on_behalf_of(&v3); });
      co_await wait_all_tasks_blocked();
      EXPECT_EQ(c.borrowed_tokens(), 2u);
      EXPECT_EQ(c.statistics().tasks_waiting, 1u);
      c.release_on_behalf_of(&v2);
      // Fairness: the token was handed to the waiter at once.
      EXPECT_EQ(c.borrowed_tokens(), 2u);
      EXPECT_EQ(c.statistics().borrowers, (std::vector<const void*>{&v1, &v3}));
      EXPECT_THROW(c.acquire_nowait(), trio::WouldBlock);
    });
    c.release_on_behalf_of(&v3);
    c.release_on_behalf_of(&v1);
    EXPECT_EQ(c.borrowed_tokens(), 0u);
  });
}

TEST(CapacityLimiter, AnUnboundedLimiterNeverRunsOut) {
  sim_run([]() -> Task<> {
    trio::CapacityLimiter c(trio::kUnbounded);
    EXPECT_EQ(c.total_tokens(), trio::kUnbounded);
    EXPECT_EQ(c.available_tokens(), trio::kUnbounded);
    EXPECT_THROW(c.release(), trio::RuntimeError);
    c.acquire_nowait();
    std::vector<int> others(100);
    for (int& o : others) c.acquire_on_behalf_of_nowait(&o);
    EXPECT_EQ(c.borrowed_tokens(), 101u);
    EXPECT_EQ(c.available_tokens(), trio::kUnbounded);
    co_return;
  });
}

TEST(CapacityLimiter, ChangingTotalTokensWakesWaitersAtOnceAndLetsHoldersFinish) {
  sim_run([]() -> Task<> {
    trio::CapacityLimiter c(2);
    int ids[5] = {0, 1, 2, 3, 4};
    auto borrowers = [&](std::initializer_list<int> which) {
      std::vector<const void*> v;
      for (int i : which) v.push_back(&ids[i]);
      return v;
    };
    co_await trio::open_nursery([&](trio::Nursery& n) -> Task<> {
      for (int i = 0; i < 5; ++i) {
        n.start_soon([&c](const void* who) -> Task<> { co_await c.acquire_on_behalf_of(who); },
                     static_cast<const void*>(&ids[i]));
        co_await wait_all_tasks_blocked();
      }
      EXPECT_EQ(c.statistics().borrowers, borrowers({0, 1}));
      EXPECT_EQ(c.statistics().tasks_waiting, 3u);
      EXPECT_NO_CHECKPOINT(c.set_total_tokens(c.total_tokens() + 2));
      EXPECT_EQ(c.statistics().borrowers, borrowers({0, 1, 2, 3}));
      EXPECT_EQ(c.statistics().tasks_waiting, 1u);
      c.set_total_tokens(c.total_tokens() - 3);
      EXPECT_EQ(c.borrowed_tokens(), 4u);
      EXPECT_EQ(c.total_tokens(), 1);
      EXPECT_EQ(c.available_tokens(), -3);
      c.release_on_behalf_of(&ids[0]);
      c.release_on_behalf_of(&ids[1]);
      c.release_on_behalf_of(&ids[2]);
      EXPECT_EQ(c.statistics().borrowers, borrowers({3}));
      EXPECT_EQ(c.statistics().tasks_waiting, 1u);
      c.release_on_behalf_of(&ids[3]);
      EXPECT_EQ(c.statistics().borrowers, borrowers({4}));
      EXPECT_EQ(c.statistics().tasks_waiting, 0u);
    });
  });
}

// Trio issue #548: a cancelled acquire leaves nothing behind.
TEST(CapacityLimiter, ACancelledAcquireLeavesNoPendingBorrower) {
  sim_run([]() -> Task<> {
    trio::CapacityLimiter limiter(1);
    co_await limiter.acquire();
    co_await trio::open_nursery([&](trio::Nursery& n) -> Task<> {
      n.start_soon([&]() -> Task<> { co_await limiter.acquire(); });
      co_await wait_all_tasks_blocked();
      EXPECT_EQ(limiter.statistics().tasks_waiting, 1u);
      n.cancel_scope().cancel();
    });
    EXPECT_EQ(limiter.statistics().tasks_waiting, 0u);
    limiter.release();
    EXPECT_EQ(limiter.borrowed_tokens(), 0u);
  });
}

TEST(CapacityLimiter, ZeroTokensBlockEveryoneUntilTheTotalIsRaised) {
  sim_run([]() -> Task<> {
    trio::CapacityLimiter c(0);
    EXPECT_EQ(c.available_tokens(), 0);
    EXPECT_THROW(c.acquire_nowait(), trio::WouldBlock);
    bool got = false;
    co_await trio::open_nursery([&](trio::Nursery& n) -> Task<> {
      n.start_soon([&]() -> Task<> {
        co_await c.acquire();
        got = true;
        c.release();
      });
      co_await wait_all_tasks_blocked();
      EXPECT_FALSE(got);
      c.set_total_tokens(1);
    });
    EXPECT_TRUE(got);
    c.set_total_tokens(0);
    EXPECT_THROW(c.acquire_nowait(), trio::WouldBlock);
  });
}

// ---- LockGuard ---------------------------------------------------------------------------------

TEST(LockGuard, ReleasesOnScopeExitOnCancellationAndWhenReleasedEarly) {
  sim_run([]() -> Task<> {
    trio::Semaphore s(1);
    {
      trio::LockGuard g = co_await s.acquire_guard();
      EXPECT_TRUE(g.owns_lock());
      trio::LockGuard moved = std::move(g);
      EXPECT_FALSE(g.owns_lock());
      EXPECT_EQ(s.value(), 0);
      EXPECT_NO_CHECKPOINT(moved.release());
      EXPECT_EQ(s.value(), 1);
      EXPECT_FALSE(moved.owns_lock());
    }
    EXPECT_EQ(s.value(), 1);
    trio::CancelScope scope;
    co_await scope.enter([&]() -> Task<> {
      trio::LockGuard g = co_await s.acquire_guard();
      EXPECT_EQ(s.value(), 0);
      scope.cancel();
      co_await trio::sleep_forever();
    });
    EXPECT_TRUE(scope.cancelled_caught());
    EXPECT_EQ(s.value(), 1);
  });
}

// ---- destroyed while tasks wait (a lifetime bug: a clear error, not a hang) ---------------------

// Destroys `primitive` while `waiters` tasks are blocked in `wait(*primitive)`; returns what
// each waiter caught.
template <class Primitive, class Wait>
std::vector<std::string> destroy_while_waiting(std::unique_ptr<Primitive> primitive, Wait wait) {
  std::vector<std::string> caught;
  sim_run([&]() -> Task<> {
    co_await trio::open_nursery([&](trio::Nursery& n) -> Task<> {
      for (int i = 0; i < 2; ++i) {
        n.start_soon([&]() -> Task<> {
          try {
            co_await wait(*primitive);
            caught.push_back("returned");
          } catch (const trio::BrokenResourceError& e) {
            caught.push_back(e.what());
          }
        });
      }
      co_await wait_all_tasks_blocked();
      primitive.reset();
    });
  });
  return caught;
}

void expect_destroyed_errors(const std::vector<std::string>& caught, const char* operation) {
  ASSERT_EQ(caught.size(), 2u);
  for (const std::string& e : caught) {
    EXPECT_NE(e.find(std::string("destroyed while 2 task(s) were waiting on it (in ") + operation),
              std::string::npos)
        << e;
  }
}

TEST(Event, DestroyedWithWaitersWakesThemWithBrokenResourceError) {
  expect_destroyed_errors(
      destroy_while_waiting(std::make_unique<trio::Event>(),
                            [](trio::Event& e) -> Task<> { co_await e.wait(); }),
      "Event.wait");
}

TEST(Semaphore, DestroyedWithWaitersWakesThemWithBrokenResourceError) {
  expect_destroyed_errors(
      destroy_while_waiting(std::make_unique<trio::Semaphore>(0),
                            [](trio::Semaphore& s) -> Task<> { co_await s.acquire(); }),
      "Semaphore.acquire");
}

TEST(CapacityLimiter, DestroyedWithWaitersWakesThemWithBrokenResourceError) {
  expect_destroyed_errors(
      destroy_while_waiting(std::make_unique<trio::CapacityLimiter>(0),
                            [](trio::CapacityLimiter& l) -> Task<> { co_await l.acquire(); }),
      "CapacityLimiter.acquire");
}
