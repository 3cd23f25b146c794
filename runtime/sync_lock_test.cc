// SPDX-License-Identifier: Apache-2.0 OR MIT
// Lock, StrictFIFOLock and Condition (spec §1.7, §2.12, invariant 14; Trio's test_sync.py):
// ownership and its misuse errors (Trio's messages), FIFO hand-off of ownership, a lock whose
// owner exits while holding it breaking with BrokenResourceError (parking-lot breakers, moved
// on every hand-off), Condition's wait/notify re-acquiring in FIFO order and re-acquiring
// before a cancellation escapes, and checkpoints on every blocking call and none on sync calls.
// Trio's generic lock-like tests are in sync_generic_lock_test.cc. Virtual time (MockClock,
// autojump threshold 0).
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "runtime/sync.h"
#include "runtime/testing/sim_test_support.h"
#include "runtime/trio.h"
#include "simclock/mock_clock.h"

using namespace std::chrono_literals;
using trio::Task;
using trio::lowlevel::TaskRecord;
using trio::lowlevel::wait_all_tasks_blocked;

using namespace sim_test;

namespace {

// The message of the exception `fn` throws as E ("" and a failure if none).
template <class E, class F>
std::string error_of(F fn) {
  try {
    fn();
  } catch (const E& e) {
    return e.what();
  }
  ADD_FAILURE() << "no exception";
  return "";
}

// Regression (with ParkingLot.DestroyingALotUnregistersItFromItsLiveBreakers): destroying a
// lock is safe whether its owner is still running or tasks are waiting for it.
TEST(Lock, DestroyedWhileHeldThenTheOwnerExitsCleanly) {
  sim_run([&]() -> Task<> {
    co_await trio::open_nursery([&](trio::Nursery& n) -> Task<> {
      auto lock = std::make_unique<trio::Lock>();
      trio::Event held;
      trio::Event destroyed;
      n.start_soon([&]() -> Task<> {
        lock->acquire_nowait();
        held.set();
        co_await destroyed.wait();
      });
      co_await held.wait();
      lock.reset();
      destroyed.set();
    });
  });
}

TEST(Lock, DestroyedWithWaitersWakesThemWithBrokenResourceError) {
  std::string error;
  sim_run([&]() -> Task<> {
    co_await trio::open_nursery([&](trio::Nursery& n) -> Task<> {
      auto lock = std::make_unique<trio::Lock>();
      trio::Event release;
      n.start_soon([&]() -> Task<> {
        lock->acquire_nowait();
        co_await release.wait();
      });
      co_await wait_all_tasks_blocked();
      n.start_soon([&]() -> Task<> {
        try {
          co_await lock->acquire();
        } catch (const trio::BrokenResourceError& e) {
          error = e.what();
        }
      });
      co_await wait_all_tasks_blocked();
      lock.reset();
      release.set();
    });
  });
  EXPECT_NE(error.find("ParkingLot destroyed while 1 task(s) were parked in it"), std::string::npos)
      << error;
}

}  // namespace

// Trio's TypeError cases are compile errors here.
static_assert(!std::is_constructible_v<trio::Condition, trio::StrictFIFOLock&>);
static_assert(std::is_constructible_v<trio::Condition, trio::Lock&>);
static_assert(!std::is_constructible_v<trio::Semaphore, double>);
static_assert(!std::is_constructible_v<trio::CapacityLimiter, double>);
static_assert(!std::is_convertible_v<trio::Event&, bool>);

// ---- Lock and StrictFIFOLock -------------------------------------------------------------------

template <class L>
class LockTest : public ::testing::Test {};
using LockTypes = ::testing::Types<trio::Lock, trio::StrictFIFOLock>;
TYPED_TEST_SUITE(LockTest, LockTypes);

TYPED_TEST(LockTest, OwnershipMisuseAndCheckpoints) {
  sim_run([]() -> Task<> {
    TypeParam l;
    EXPECT_FALSE(l.locked());
    EXPECT_CHECKPOINT({
      trio::LockGuard guard = co_await l.acquire_guard();
      EXPECT_TRUE(l.locked());
    });
    EXPECT_FALSE(l.locked());
    EXPECT_NO_CHECKPOINT(l.acquire_nowait());
    EXPECT_TRUE(l.locked());
    EXPECT_NO_CHECKPOINT(l.release());
    EXPECT_FALSE(l.locked());
    EXPECT_CHECKPOINT(co_await l.acquire());
    EXPECT_TRUE(l.locked());
    EXPECT_EQ(l.statistics().owner, &trio::lowlevel::current_task());
    l.release();

    l.acquire_nowait();
    EXPECT_EQ(error_of<trio::RuntimeError>([&] { l.acquire_nowait(); }),
              "attempt to re-acquire an already held Lock");
    // The blocking form raises it too, without a schedule point.
    const Points before = points();
    EXPECT_THROW(co_await l.acquire(), trio::RuntimeError);
    EXPECT_EQ(points().schedule, before.schedule);
    l.release();
    EXPECT_EQ(error_of<trio::RuntimeError>([&] { l.release(); }),
              "can't release a Lock you don't own");

    TaskRecord* holder_task = nullptr;
    auto holder = [&]() -> Task<> {
      holder_task = &trio::lowlevel::current_task();
      trio::LockGuard guard = co_await l.acquire_guard();
      co_await trio::sleep_forever();
    };
    co_await trio::open_nursery([&](trio::Nursery& n) -> Task<> {
      EXPECT_FALSE(l.locked());
      n.start_soon(holder);
      co_await wait_all_tasks_blocked();
      EXPECT_TRUE(l.locked());
      EXPECT_THROW(l.acquire_nowait(), trio::WouldBlock);
      EXPECT_THROW(l.release(), trio::RuntimeError);  // someone else holds it
      trio::LockStatistics stats = l.statistics();
      EXPECT_TRUE(stats.locked);
      EXPECT_EQ(stats.owner, holder_task);
      EXPECT_EQ(stats.tasks_waiting, 0u);
      n.start_soon(holder);
      co_await wait_all_tasks_blocked();
      EXPECT_EQ(l.statistics().tasks_waiting, 1u);
      n.cancel_scope().cancel();
    });
    trio::LockStatistics stats = l.statistics();
    EXPECT_FALSE(stats.locked);
    EXPECT_EQ(stats.owner, nullptr);
    EXPECT_EQ(stats.tasks_waiting, 0u);
  });
}

TYPED_TEST(LockTest, ReleaseHandsOwnershipToTheLongestWaiter) {
  sim_run([]() -> Task<> {
    TypeParam l;
    std::vector<TaskRecord*> waiters;
    std::vector<int> order;
    co_await l.acquire();
    co_await trio::open_nursery([&](trio::Nursery& n) -> Task<> {
      for (int i = 0; i < 3; ++i) {
        n.start_soon(
            [&](int id) -> Task<> {
              waiters.push_back(&trio::lowlevel::current_task());
              EXPECT_CHECKPOINT(co_await l.acquire());
              order.push_back(id);
              l.release();
            },
            i);
        co_await wait_all_tasks_blocked();
      }
      EXPECT_EQ(l.statistics().tasks_waiting, 3u);
      l.release();
      // Ownership moved straight to the first waiter: we cannot take the lock back.
      EXPECT_EQ(l.statistics().owner, waiters[0]);
      EXPECT_TRUE(l.locked());
      EXPECT_THROW(l.acquire_nowait(), trio::WouldBlock);
      co_await l.acquire();  // queues behind the other two
      EXPECT_EQ(order, (std::vector<int>{0, 1, 2}));
      l.release();
    });
  });
}

TYPED_TEST(LockTest, ACancelledWaiterLeavesTheQueueAndTheOthersKeepTheirOrder) {
  sim_run([]() -> Task<> {
    TypeParam l;
    std::vector<int> order;
    trio::CancelScope scopes[3];
    co_await l.acquire();
    co_await trio::open_nursery([&](trio::Nursery& n) -> Task<> {
      for (int i = 0; i < 3; ++i) {
        n.start_soon(
            [&](int id) -> Task<> {
              co_await scopes[id].enter([&]() -> Task<> {
                co_await l.acquire();
                order.push_back(id);
                l.release();
              });
            },
            i);
        co_await wait_all_tasks_blocked();
      }
      scopes[1].cancel();
      co_await wait_all_tasks_blocked();
      EXPECT_EQ(l.statistics().tasks_waiting, 2u);
      EXPECT_EQ(l.statistics().owner, &trio::lowlevel::current_task());  // nothing taken
      l.release();
    });
    EXPECT_EQ(order, (std::vector<int>{0, 2}));
    EXPECT_TRUE(scopes[1].cancelled_caught());
    EXPECT_FALSE(l.locked());
  });
}

TYPED_TEST(LockTest, AnOwnerExitingWithoutReleasingBreaksTheLock) {
  sim_run([]() -> Task<> {
    TypeParam l;
    std::vector<std::string> errors;
    auto waiter = [&]() -> Task<> {
      try {
        co_await l.acquire();
        ADD_FAILURE() << "acquired a lock whose owner exited";
      } catch (const trio::BrokenResourceError& e) {
        errors.push_back(e.what());
      }
    };
    co_await trio::open_nursery([&](trio::Nursery& n) -> Task<> {
      n.start_soon(trio::TaskName("holder"), [&]() -> Task<> { co_await l.acquire(); });
      co_await wait_all_tasks_blocked();
      EXPECT_TRUE(l.locked());
    });
    // The holder exited holding the lock: later acquirers get BrokenResourceError.
    co_await waiter();
    EXPECT_TRUE(l.locked());
    EXPECT_EQ(l.statistics().owner, nullptr);
    EXPECT_THROW(l.acquire_nowait(), trio::WouldBlock);
    EXPECT_EQ(error_of<trio::RuntimeError>([&] { l.release(); }),
              "can't release a Lock you don't own");
    EXPECT_EQ(errors,
              std::vector<std::string>{"Owner of this lock exited without releasing: holder"});
  });
}

TYPED_TEST(LockTest, EveryWaiterOnAnOwnerThatExitsGetsBrokenResourceError) {
  sim_run([]() -> Task<> {
    TypeParam l;
    trio::Event exit_now;
    std::vector<std::string> errors;
    co_await trio::open_nursery([&](trio::Nursery& n) -> Task<> {
      n.start_soon(trio::TaskName("owner"), [&]() -> Task<> {
        co_await l.acquire();
        co_await exit_now.wait();
      });
      co_await wait_all_tasks_blocked();
      for (int i = 0; i < 3; ++i) {
        n.start_soon([&]() -> Task<> {
          try {
            co_await l.acquire();
          } catch (const trio::BrokenResourceError& e) {
            errors.push_back(e.what());
          }
        });
      }
      co_await wait_all_tasks_blocked();
      EXPECT_EQ(l.statistics().tasks_waiting, 3u);
      exit_now.set();
    });
    EXPECT_EQ(errors,
              std::vector<std::string>(3, "Owner of this lock exited without releasing: owner"));
  });
}

TYPED_TEST(LockTest, HandOffMovesTheBreakerToTheNewOwner) {
  sim_run([]() -> Task<> {
    TypeParam l;
    trio::Event second_may_exit;
    std::string error;
    co_await trio::open_nursery([&](trio::Nursery& n) -> Task<> {
      n.start_soon(trio::TaskName("first"), [&]() -> Task<> {
        co_await l.acquire();
        co_await wait_all_tasks_blocked();  // let "second" queue up
        l.release();                        // hands the lock to "second", then exits
      });
      co_await wait_all_tasks_blocked();
      n.start_soon(trio::TaskName("second"), [&]() -> Task<> {
        co_await l.acquire();
        co_await second_may_exit.wait();  // exits holding the lock
      });
      co_await wait_all_tasks_blocked();
      // "first" has exited: the lock, now owned by "second", is not broken.
      EXPECT_TRUE(l.locked());
      EXPECT_NE(l.statistics().owner, nullptr);
      n.start_soon([&]() -> Task<> {
        try {
          co_await l.acquire();
        } catch (const trio::BrokenResourceError& e) {
          error = e.what();
        }
      });
      co_await wait_all_tasks_blocked();
      EXPECT_EQ(error, "");
      second_may_exit.set();
    });
    EXPECT_EQ(error, "Owner of this lock exited without releasing: second");
  });
}

TYPED_TEST(LockTest, DestroyingAHeldLockDoesNotBreakItsOwnersExit) {
  sim_run([]() -> Task<> {
    co_await trio::open_nursery([&](trio::Nursery& n) -> Task<> {
      n.start_soon([]() -> Task<> {
        {
          TypeParam l;
          co_await l.acquire();
        }  // destroyed while held (a bug): the owner must not be left registered
        co_await trio::checkpoint();
      });  // the owner exits: ASan checks that nothing touches the destroyed lock
      co_return;
    });
  });
}

// A released lock keeps its last owner's breaker registration, dormant (so that the same task
// re-acquiring it is cheap): it must never break the lock, and it must be dropped when another
// task takes the lock or the task exits.
TYPED_TEST(LockTest, AnOwnerThatReleasedBeforeExitingLeavesTheLockUsable) {
  sim_run([]() -> Task<> {
    TypeParam l;
    trio::Event first_may_exit;
    co_await trio::open_nursery([&](trio::Nursery& n) -> Task<> {
      n.start_soon(trio::TaskName("first"), [&]() -> Task<> {
        for (int i = 0; i < 3; ++i) {
          co_await l.acquire();
          l.release();
        }
        co_await first_may_exit.wait();  // exits after "second" took and released the lock
      });
      co_await wait_all_tasks_blocked();
      n.start_soon(trio::TaskName("second"), [&]() -> Task<> {
        co_await l.acquire();
        l.release();
      });
      co_await wait_all_tasks_blocked();
      first_may_exit.set();
    });
    EXPECT_FALSE(l.locked());
    co_await l.acquire();  // not broken by either exit
    EXPECT_EQ(l.statistics().owner, &trio::lowlevel::current_task());
    l.release();
    // And the registration of a later owner still works.
    std::string error;
    co_await trio::open_nursery([&](trio::Nursery& n) -> Task<> {
      n.start_soon(trio::TaskName("third"), [&]() -> Task<> { co_await l.acquire(); });
      co_await wait_all_tasks_blocked();
    });
    try {
      co_await l.acquire();
    } catch (const trio::BrokenResourceError& e) {
      error = e.what();
    }
    EXPECT_EQ(error, "Owner of this lock exited without releasing: third");
  });
}

// Regression (dormant registrations): a lock used in a run that was abandoned (a deadlock) is
// usable in a later run; nothing touches the abandoned run's registration storage (ASan).
TEST(Lock, UsableInALaterRunAfterAnAbandonedRun) {
  trio::Lock lock;
  trio::MockClock clock;
  EXPECT_THROW(trio::run(trio::RunOptions{.clock = &clock, .seed = 1},
                         [&]() -> Task<> {
                           co_await lock.acquire();
                           lock.release();
                           trio::Event never;
                           co_await never.wait();  // deadlock: the run is abandoned
                         }),
               trio::DeadlockError);
  EXPECT_EQ(trio::lowlevel::live_frames(), 0);
  sim_run([&]() -> Task<> {
    co_await trio::open_nursery([&](trio::Nursery& n) -> Task<> {
      n.start_soon([&]() -> Task<> {
        co_await lock.acquire();
        lock.release();
      });
      co_return;
    });
    co_await lock.acquire();
    EXPECT_TRUE(lock.locked());
    lock.release();
  });
}

// ---- Condition ---------------------------------------------------------------------------------

TEST(Condition, LockForwardingAndMisuse) {
  sim_run([]() -> Task<> {
    trio::Lock l;
    trio::Condition c(l);
    EXPECT_EQ(&c.lock(), &l);
    EXPECT_FALSE(c.locked());
    EXPECT_CHECKPOINT(co_await c.acquire());
    EXPECT_TRUE(l.locked());
    EXPECT_TRUE(c.locked());
    c.release();

    trio::Condition own;
    EXPECT_FALSE(own.locked());
    own.acquire_nowait();
    EXPECT_TRUE(own.locked());
    EXPECT_THROW(own.acquire_nowait(), trio::RuntimeError);
    own.release();
    try {
      co_await own.wait();
      ADD_FAILURE() << "waited without the lock";
    } catch (const trio::RuntimeError& e) {
      EXPECT_STREQ(e.what(), "must hold the lock to wait");
    }
    EXPECT_EQ(error_of<trio::RuntimeError>([&] { own.notify(); }), "must hold the lock to notify");
    EXPECT_EQ(error_of<trio::RuntimeError>([&] { own.notify_all(); }),
              "must hold the lock to notify");
  });
}

TEST(Condition, NotifyWakesOneAndNotifyAllWakesTheRest) {
  sim_run([]() -> Task<> {
    trio::Condition c;
    std::vector<int> finished;
    auto waiter = [&](int i) -> Task<> {
      {
        trio::LockGuard guard = co_await c.acquire_guard();
        EXPECT_CHECKPOINT(co_await c.wait());
        EXPECT_TRUE(c.locked());
      }
      finished.push_back(i);
    };
    co_await trio::open_nursery([&](trio::Nursery& n) -> Task<> {
      for (int i = 0; i < 3; ++i) {
        n.start_soon(waiter, i);
        co_await wait_all_tasks_blocked();
      }
      {
        trio::LockGuard guard = co_await c.acquire_guard();
        EXPECT_NO_CHECKPOINT(c.notify());
      }
      EXPECT_TRUE(c.locked());  // handed to the notified waiter
      co_await wait_all_tasks_blocked();
      EXPECT_EQ(finished, std::vector<int>{0});
      {
        trio::LockGuard guard = co_await c.acquire_guard();
        EXPECT_NO_CHECKPOINT(c.notify_all());
      }
      co_await wait_all_tasks_blocked();
      EXPECT_EQ(finished, (std::vector<int>{0, 1, 2}));
    });
  });
}

TEST(Condition, NotifiedWaitersQueueOnTheLockInOrder) {
  sim_run([]() -> Task<> {
    trio::Condition c;
    std::vector<int> finished;
    co_await trio::open_nursery([&](trio::Nursery& n) -> Task<> {
      for (int i = 0; i < 3; ++i) {
        n.start_soon(
            [&](int id) -> Task<> {
              trio::LockGuard guard = co_await c.acquire_guard();
              co_await c.wait();
              finished.push_back(id);
            },
            i);
        co_await wait_all_tasks_blocked();
      }
      {
        trio::LockGuard guard = co_await c.acquire_guard();
        c.notify(2);
        trio::ConditionStatistics stats = c.statistics();
        EXPECT_EQ(stats.tasks_waiting, 1u);
        EXPECT_EQ(stats.lock_statistics.tasks_waiting, 2u);
      }
      // Releasing handed the lock to the first notified waiter.
      EXPECT_EQ(c.statistics().lock_statistics.tasks_waiting, 1u);
      co_await wait_all_tasks_blocked();
      EXPECT_EQ(finished, (std::vector<int>{0, 1}));
      trio::LockGuard guard = co_await c.acquire_guard();
      c.notify_all();
    });
    EXPECT_EQ(finished, (std::vector<int>{0, 1, 2}));
  });
}

TEST(Condition, ACancelledWaitStillHoldsTheLockWhenItRaises) {
  sim_run([]() -> Task<> {
    trio::Condition c;
    trio::CancelScope scope;
    bool held_when_raised = false;
    co_await scope.enter([&]() -> Task<> {
      trio::LockGuard guard = co_await c.acquire_guard();
      scope.cancel();
      try {
        co_await c.wait();
      } catch (const trio::Cancelled&) {
        held_when_raised = c.statistics().lock_statistics.owner == &trio::lowlevel::current_task();
        throw;
      }
    });
    EXPECT_TRUE(scope.cancelled_caught());
    EXPECT_TRUE(held_when_raised);
    EXPECT_FALSE(c.locked());  // the guard released it while Cancelled unwound
  });
}

TEST(Condition, ACancelledWaitReacquiresBehindTheTasksAlreadyQueued) {
  sim_run([]() -> Task<> {
    trio::Condition c;
    std::vector<std::string> log;
    trio::CancelScope scope;
    co_await trio::open_nursery([&](trio::Nursery& n) -> Task<> {
      n.start_soon([&]() -> Task<> {
        co_await scope.enter([&]() -> Task<> {
          trio::LockGuard guard = co_await c.acquire_guard();
          co_await c.wait();
        });
        log.push_back("waiter out");
      });
      co_await wait_all_tasks_blocked();
      co_await c.acquire();
      n.start_soon([&]() -> Task<> {
        co_await c.acquire();
        log.push_back("queued got lock");
        c.release();
      });
      co_await wait_all_tasks_blocked();
      scope.cancel();  // the waiter re-acquires behind "queued"
      co_await wait_all_tasks_blocked();
      EXPECT_EQ(c.statistics().lock_statistics.tasks_waiting, 2u);
      c.release();
    });
    EXPECT_EQ(log, (std::vector<std::string>{"queued got lock", "waiter out"}));
  });
}
