// SPDX-License-Identifier: Apache-2.0 OR MIT
// The low-level API (spec §1.11–1.13; the low-level parts of Trio's test_run.py and
// test_local.py): wait_task_rescheduled's abort protocol (called at most once; failed and slow
// aborts), reschedule misuse, RunVar, system tasks, the root task and run statistics.
// ParkingLot has its own file (parking_lot_test.cc).
// Every run uses a MockClock with autojump threshold 0, and wait_all_tasks_blocked() as the
// deterministic "let everyone else settle" step.
#include <gtest/gtest.h>

#include <algorithm>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "runtime/testing/sim_test_support.h"
#include "runtime/trio.h"
#include "simclock/mock_clock.h"

using namespace std::chrono_literals;
using trio::Task;
using trio::lowlevel::Abort;
using trio::lowlevel::ParkingLot;
using trio::lowlevel::RaiseCancel;
using trio::lowlevel::TaskRecord;
using trio::lowlevel::wait_all_tasks_blocked;
using Record = std::vector<std::string>;

namespace {

using sim_test::sim_run;

// ---- wait_task_rescheduled / reschedule ---------------------------------------------------

TEST(WaitTaskRescheduled, ReturnsNormallyOrRaisesWhatRescheduleSends) {
  Record record;
  sim_run([&]() -> Task<> {
    TaskRecord* child = nullptr;
    co_await trio::open_nursery([&](trio::Nursery& n) -> Task<> {
      n.start_soon([&]() -> Task<> {
        child = &trio::lowlevel::current_task();
        co_await trio::lowlevel::wait_task_rescheduled([](RaiseCancel) { return Abort::kFailed; });
        record.push_back("woke");
        try {
          co_await trio::lowlevel::wait_task_rescheduled(
              [](RaiseCancel) { return Abort::kFailed; });
        } catch (const trio::BusyResourceError& e) {
          record.push_back(e.what());
        }
      });
      co_await wait_all_tasks_blocked();
      EXPECT_EQ(trio::lowlevel::waiting_on(*child), "wait_task_rescheduled");
      trio::lowlevel::reschedule(*child);
      co_await wait_all_tasks_blocked();
      trio::lowlevel::reschedule(*child,
                                 std::make_exception_ptr(trio::BusyResourceError("sent in")));
    });
  });
  EXPECT_EQ(record, (Record{"woke", "sent in"}));
}

TEST(WaitTaskRescheduled, SucceededAbortIsCalledOnceAndRaisesCancelled) {
  int aborts = 0;
  Record record;
  sim_run([&]() -> Task<> {
    co_await trio::open_nursery([&](trio::Nursery& n) -> Task<> {
      n.start_soon([&]() -> Task<> {
        try {
          co_await trio::lowlevel::wait_task_rescheduled([&](RaiseCancel) {
            ++aborts;
            return Abort::kSucceeded;
          });
        } catch (const trio::Cancelled& c) {
          record.push_back(c.source_name());
          throw;
        }
      });
      co_await wait_all_tasks_blocked();
      n.cancel_scope().cancel();
      n.cancel_scope().cancel();  // level-triggered, but the abort is not called again
    });
  });
  EXPECT_EQ(aborts, 1);
  EXPECT_EQ(record, (Record{"explicit"}));
}

TEST(WaitTaskRescheduled, AbortIsCalledAtOnceWhenAlreadyCancelled) {
  int aborts = 0;
  bool caught = false;
  sim_run([&]() -> Task<> {
    trio::CancelScope scope;
    scope.cancel();
    co_await scope.enter([&]() -> Task<> {
      co_await trio::lowlevel::wait_task_rescheduled([&](RaiseCancel) {
        ++aborts;
        return Abort::kSucceeded;
      });
      ADD_FAILURE() << "not cancelled";
    });
    caught = scope.cancelled_caught();
  });
  EXPECT_EQ(aborts, 1);
  EXPECT_TRUE(caught);
}

TEST(WaitTaskRescheduled, FailedAbortLeavesTheTaskBlockedUntilWokenByHand) {
  // Trio's test_failed_abort: the cancel does not wake it; a manual wake-up does, and the next
  // cancel point sees the cancellation.
  int aborts = 0;
  Record record;
  sim_run([&]() -> Task<> {
    TaskRecord* stubborn = nullptr;
    trio::CancelScope* scope_ptr = nullptr;
    co_await trio::open_nursery([&](trio::Nursery& n) -> Task<> {
      n.start_soon([&]() -> Task<> {
        stubborn = &trio::lowlevel::current_task();
        trio::CancelScope scope;
        scope_ptr = &scope;
        co_await scope.enter([&]() -> Task<> {
          record.push_back("sleep");
          co_await trio::lowlevel::wait_task_rescheduled([&](RaiseCancel) {
            ++aborts;
            return Abort::kFailed;
          });
          record.push_back("woke");
          try {
            co_await trio::checkpoint_if_cancelled();
          } catch (const trio::Cancelled&) {
            record.push_back("cancelled");
            throw;
          }
        });
      });
      co_await wait_all_tasks_blocked();
      EXPECT_EQ(record, (Record{"sleep"}));
      scope_ptr->cancel();
      co_await wait_all_tasks_blocked();
      EXPECT_EQ(record, (Record{"sleep"}));  // the cancel did not wake it
      scope_ptr->cancel();
      trio::lowlevel::reschedule(*stubborn);
    });
  });
  EXPECT_EQ(record, (Record{"sleep", "woke", "cancelled"}));
  EXPECT_EQ(aborts, 1);
}

TEST(WaitTaskRescheduled, SlowAbortDeliversRaiseCancelLater) {
  std::optional<RaiseCancel> pending;
  Record record;
  sim_run([&]() -> Task<> {
    trio::CancelScope* scope_ptr = nullptr;
    co_await trio::open_nursery([&](trio::Nursery& n) -> Task<> {
      n.start_soon([&]() -> Task<> {
        trio::CancelScope scope;
        scope_ptr = &scope;
        co_await scope.enter([&]() -> Task<> {
          try {
            co_await trio::lowlevel::wait_task_rescheduled([&](RaiseCancel raise_cancel) {
              pending = raise_cancel;
              return Abort::kFailed;
            });
          } catch (const trio::Cancelled& c) {
            record.push_back(c.to_string());
            throw;
          }
        });
      });
      co_await wait_all_tasks_blocked();
      scope_ptr->cancel("stop it");
      co_await wait_all_tasks_blocked();
      EXPECT_TRUE(pending.has_value());
      if (!pending) co_return;
      record.push_back("cleanup done");
      trio::lowlevel::reschedule(pending->task(), (*pending)());
    });
  });
  EXPECT_EQ(record, (Record{"cleanup done",
                            "cancelled due to explicit with reason 'stop it' from task main"}));
}

TEST(Deadlock, UnderAutojumpWithNoDeadlineIsReportedInsteadOfSpinning) {
  // Regression: with autojump primed and no deadline pending, the loop used to spin forever
  // (autojump had nowhere to jump) instead of raising DeadlockError.
  EXPECT_THROW(
      sim_run([]() -> Task<> {
        co_await trio::lowlevel::wait_task_rescheduled([](RaiseCancel) { return Abort::kFailed; });
      }),
      trio::DeadlockError);
}

TEST(Reschedule, ATaskThatIsNotBlockedIsRuntimeError) {
  sim_run([&]() -> Task<> {
    EXPECT_THROW(trio::lowlevel::reschedule(trio::lowlevel::current_task()), trio::RuntimeError);
    co_await trio::open_nursery([&](trio::Nursery& n) -> Task<> {
      TaskRecord* child = nullptr;
      n.start_soon([&]() -> Task<> {
        child = &trio::lowlevel::current_task();
        co_await trio::sleep_forever();
      });
      co_await wait_all_tasks_blocked();
      n.cancel_scope().cancel();  // the child is now runnable, with Cancelled
      EXPECT_THROW(trio::lowlevel::reschedule(*child), trio::RuntimeError);
    });
  });
}

TEST(SleepForever, ReschedulingItByHandIsRuntimeError) {
  std::string message;
  sim_run([&]() -> Task<> {
    try {
      co_await trio::open_nursery([&](trio::Nursery& n) -> Task<> {
        TaskRecord* child = nullptr;
        n.start_soon([&]() -> Task<> {
          child = &trio::lowlevel::current_task();
          co_await trio::sleep_forever();
        });
        co_await wait_all_tasks_blocked();
        trio::lowlevel::reschedule(*child);
      });
    } catch (const trio::ExceptionGroup& g) {
      message = trio::describe(g.exceptions().at(0));
      EXPECT_TRUE(trio::holds<trio::RuntimeError>(g.exceptions().at(0)));
    }
  });
  EXPECT_EQ(message, "Should never have been rescheduled!");
}

// ---- RunVar --------------------------------------------------------------------------------

TEST(RunVar, SetAndResetRestoreThePreviousValue) {
  trio::lowlevel::RunVar<int> var("var");
  sim_run([&]() -> Task<> {
    EXPECT_THROW(var.get(), trio::LookupError);
    EXPECT_EQ(var.get_or(9), 9);
    auto t1 = var.set(5);
    EXPECT_EQ(var.get(), 5);
    auto t2 = var.set(6);
    EXPECT_EQ(var.get(), 6);
    var.reset(t2);
    EXPECT_EQ(var.get(), 5);
    var.reset(t1);
    EXPECT_THROW(var.get(), trio::LookupError);     // back to "no value"
    EXPECT_THROW(var.reset(t1), trio::ValueError);  // a token is single-use
    co_return;
  });
}

TEST(RunVar, TheDefaultIsUsedUntilSetAndATokenBelongsToItsVar) {
  trio::lowlevel::RunVar<std::string> a("a", "default"), b("b");
  sim_run([&]() -> Task<> {
    EXPECT_EQ(a.get(), "default");
    EXPECT_EQ(a.get_or("fallback"), "default");
    EXPECT_EQ(a.name(), "a");
    auto token = a.set("set");
    EXPECT_EQ(a.get(), "set");
    EXPECT_THROW(b.reset(token), trio::ValueError);
    a.reset(token);
    EXPECT_EQ(a.get(), "default");
    co_return;
  });
}

TEST(RunVar, TasksOfARunShareTheValueAndTheNextRunStartsFresh) {
  trio::lowlevel::RunVar<int> var("var");
  int seen_by_child = 0;
  sim_run([&]() -> Task<> {
    var.set(42);
    co_await trio::open_nursery([&](trio::Nursery& n) -> Task<> {
      n.start_soon([&]() -> Task<> {
        seen_by_child = var.get();
        var.set(43);
        co_return;
      });
      co_return;
    });
    EXPECT_EQ(var.get(), 43);
  });
  EXPECT_EQ(seen_by_child, 42);
  sim_run([&]() -> Task<> {
    EXPECT_THROW(var.get(), trio::LookupError);
    co_return;
  });
}

TEST(RunVar, OutsideARunIsRuntimeError) {
  trio::lowlevel::RunVar<int> var("var", 1);
  try {
    var.get();
    ADD_FAILURE() << "no error";
  } catch (const trio::RuntimeError& e) {
    EXPECT_STREQ(e.what(), "Cannot be used outside of a run context");
  }
  EXPECT_THROW(var.set(2), trio::RuntimeError);
  EXPECT_THROW(var.get_or(3), trio::RuntimeError);
}

// ---- system tasks, the root task, statistics -----------------------------------------------

TEST(SystemTask, RunsBesideMainAndIsCancelledWithReasonShutdownWhenMainExits) {
  Record record;
  int result = sim_run([&]() -> Task<int> {
    TaskRecord& sys = trio::lowlevel::spawn_system_task(trio::TaskName("sys"), [&]() -> Task<> {
      record.push_back("started");
      try {
        co_await trio::sleep_forever();
      } catch (const trio::Cancelled& c) {
        record.push_back(std::string("cancelled: ") + c.source_name());
        throw;
      }
    });
    EXPECT_EQ(trio::lowlevel::task_name(sys), "sys");
    EXPECT_TRUE(sys.is_system);
    EXPECT_EQ(trio::lowlevel::parent_nursery(sys)->parent_task(),
              &trio::lowlevel::current_root_task());
    co_await trio::sleep(1s);
    record.push_back("main done");
    co_return 7;
  });
  EXPECT_EQ(result, 7);
  EXPECT_EQ(record, (Record{"started", "main done", "cancelled: shutdown"}));
}

// True if `e` is, or is a group containing at any depth, an exception described as `text`.
bool contains_error(const std::exception_ptr& e, const std::string& text) {
  try {
    std::rethrow_exception(e);
  } catch (const trio::BaseExceptionGroup& g) {
    for (const auto& leaf : g.leaves())
      if (trio::describe(leaf) == text) return true;
    return false;
  } catch (...) {
    return trio::describe(e) == text;
  }
}

TEST(SystemTask, ACrashCancelsEverythingAndRaisesTrioInternalError) {
  Record record;
  try {
    sim_run([&]() -> Task<> {
      trio::lowlevel::spawn_system_task([]() -> Task<> {
        co_await trio::sleep(1s);
        throw std::runtime_error("system task boom");
      });
      try {
        co_await trio::sleep_forever();
      } catch (const trio::Cancelled&) {
        record.push_back("main cancelled");
        throw;
      }
    });
    ADD_FAILURE() << "no error";
  } catch (const trio::TrioInternalError& e) {
    EXPECT_TRUE(contains_error(e.cause(), "system task boom")) << e.what();
  }
  EXPECT_EQ(record, (Record{"main cancelled"}));
}

TEST(RootTask, IsTheInitTaskThatHoldsMainsNursery) {
  sim_run([&]() -> Task<> {
    TaskRecord& root = trio::lowlevel::current_root_task();
    EXPECT_EQ(trio::lowlevel::task_name(root), "<init>");
    TaskRecord& me = trio::lowlevel::current_task();
    EXPECT_EQ(trio::lowlevel::task_name(me), "main");
    EXPECT_EQ(trio::lowlevel::parent_nursery(me)->parent_task(), &root);
    EXPECT_TRUE(trio::lowlevel::in_trio_run());
    EXPECT_TRUE(trio::lowlevel::in_trio_task());
    co_return;
  });
  EXPECT_THROW(trio::lowlevel::current_root_task(), trio::RuntimeError);
  EXPECT_THROW(trio::lowlevel::current_task(), trio::RuntimeError);
  EXPECT_FALSE(trio::lowlevel::in_trio_run());
  EXPECT_FALSE(trio::lowlevel::in_trio_task());
}

TEST(Statistics, CountLivingAndRunnableTasksAndTheNextDeadline) {
  sim_run([&]() -> Task<> {
    auto stats = trio::lowlevel::current_statistics();
    EXPECT_EQ(stats.tasks_living, 2u);  // <init> and main (Trio also counts its run_sync_soon task)
    EXPECT_EQ(stats.tasks_runnable, 0u);
    EXPECT_EQ(stats.seconds_to_next_deadline, trio::kInfDuration);
    EXPECT_EQ(stats.io_statistics.backend, "epoll");
    EXPECT_EQ(stats.run_sync_soon_queue_size, 0u);
    co_await trio::open_nursery([&](trio::Nursery& n) -> Task<> {
      n.start_soon([]() -> Task<> { co_await trio::sleep_forever(); });
      n.start_soon([]() -> Task<> { co_await trio::sleep(7s); });
      stats = trio::lowlevel::current_statistics();
      EXPECT_EQ(stats.tasks_living, 4u);
      EXPECT_EQ(stats.tasks_runnable, 2u);  // the new children; main is running, not runnable
      co_await wait_all_tasks_blocked();
      stats = trio::lowlevel::current_statistics();
      EXPECT_EQ(stats.tasks_runnable, 0u);
      EXPECT_EQ(stats.seconds_to_next_deadline, 7s);
      co_await trio::CancelScope(trio::current_time() + 5s).enter([&]() -> Task<> {
        EXPECT_EQ(trio::lowlevel::current_statistics().seconds_to_next_deadline, 5s);
        co_return;
      });
      n.cancel_scope().cancel();
    });
    EXPECT_EQ(trio::lowlevel::current_statistics().seconds_to_next_deadline, trio::kInfDuration);
    EXPECT_EQ(trio::lowlevel::current_statistics().tasks_living, 2u);
  });
  EXPECT_THROW(trio::lowlevel::current_statistics(), trio::RuntimeError);
}

}  // namespace
