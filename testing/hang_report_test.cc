// SPDX-License-Identifier: Apache-2.0 OR MIT
// Hang reports: a run that can never continue fails at once with a DeadlockError whose task tree
// names every task, its nursery, its cancel scopes (deadline, shield, cancel called) and what it
// waits on; a run that keeps going without finishing — tasks waking each other forever, in
// virtual time or at one instant — fails with a LivelockError when it exceeds its
// virtual-time or step budget, with the same tree, and the tasks are cancelled so the run ends.
// A deadlock stays a deadlock when a budget is set, and tasks that ignore the cancellation make
// the process abort with the report instead of spinning forever. The tree names the object each
// blocked task waits on (the name the user gave it, else its kind and a per-run number) and its
// owner (a Lock's holder, a CapacityLimiter's borrowers), and the report points out the cycle
// when tasks wait for each other's objects.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

#include "runtime/channel.h"
#include "runtime/sync.h"
#include "runtime/trio.h"
#include "simclock/mock_clock.h"
#include "testing/determinism.h"

using namespace std::chrono_literals;
using ::testing::HasSubstr;
using ::testing::Not;
using trio::Task;
using trio::testing::LivelockError;
using trio::testing::run_scenario;

namespace {

std::string error_text(const std::exception_ptr& e) {
  try {
    std::rethrow_exception(e);
  } catch (const std::exception& x) {
    return x.what();
  } catch (...) {
    return "(not a std::exception)";
  }
}

std::string deadlock_text(std::function<Task<>()> body) {
  trio::MockClock clock;
  clock.set_autojump_threshold(0s);
  try {
    trio::run(trio::RunOptions{.clock = &clock}, std::move(body));
  } catch (const trio::DeadlockError& e) {
    return e.what();
  }
  ADD_FAILURE() << "no DeadlockError";
  return "";
}

// alice waits for bob's reply and bob for alice's; each would answer only after being answered.
// bob waits inside a 5 s move_on_after, shielded: the deadline expires and cannot reach him.
Task<> mutual_wait() {
  trio::lowlevel::ParkingLot alice_inbox, bob_inbox;
  co_await trio::open_nursery([&](trio::Nursery& n) -> Task<> {
    n.start_soon(trio::TaskName("alice"), [&]() -> Task<> {
      co_await alice_inbox.park("Event.wait (bob's reply)");
      bob_inbox.unpark();
    });
    n.start_soon(trio::TaskName("bob"), [&]() -> Task<> {
      co_await trio::move_on_after(5s, [&]() -> Task<> {
        trio::CancelScope shielded(trio::kInf, /*shield=*/true);
        co_await shielded.enter([&]() -> Task<> {
          co_await bob_inbox.park("Lock.acquire (held by alice)");
          alice_inbox.unpark();
        });
      });
    });
    co_return;
  });
}

TEST(DeadlockReport, NamesBothTasksAndWhatEachWaitsOn) {
  const std::string text = deadlock_text(mutual_wait);
  EXPECT_THAT(text, HasSubstr("deadlock: every task is blocked"));
  EXPECT_THAT(text, HasSubstr("task alice: blocked on Event.wait (bob's reply)\n"));
  EXPECT_THAT(text, HasSubstr("task bob: blocked on Lock.acquire (held by alice)\n"));
}

TEST(DeadlockReport, ShowsTheNurseryTreeAndTheCancelScopesWithTheirDeadlines) {
  const std::string text = deadlock_text(mutual_wait);
  // The deadlock is found at 5 s, when bob's deadline has passed without reaching him.
  EXPECT_THAT(text, HasSubstr("Task tree at 5.000000s:\n"
                              "  task <init>: blocked on nursery exit (waiting for children)\n"
                              "    system nursery: 0 children\n"
                              "    main nursery: 1 child\n"));
  EXPECT_THAT(text, HasSubstr("      task main: blocked on nursery exit (waiting for children)\n"
                              "        nursery of main: 2 children\n"
                              "          task alice:"));
  EXPECT_THAT(text, HasSubstr("            cancel scopes, innermost first: [shield] "
                              "[deadline 5.000000s (passed), cancel called (deadline)]\n"));
  // alice is in no scope of her own: no scope line under her.
  EXPECT_THAT(text, HasSubstr("task alice: blocked on Event.wait (bob's reply)\n"
                              "          task bob:"));
}

TEST(DeadlockReport, AScopeThatCancelsADeafTaskShowsItAsCancelled) {
  // A nursery exit ignores cancellation (it waits for its children): main is effectively
  // cancelled, and the report says so, with the pending deadline in the future of the scope.
  const std::string text = deadlock_text([]() -> Task<> {
    trio::lowlevel::ParkingLot never;
    trio::CancelScope scope;
    co_await scope.enter([&](trio::CancelScope& s) -> Task<> {
      co_await trio::open_nursery([&](trio::Nursery& n) -> Task<> {
        n.start_soon(trio::TaskName("stuck"), [&]() -> Task<> {
          trio::CancelScope shield(trio::kInf, true);
          co_await shield.enter([&]() -> Task<> { co_await never.park("never"); });
        });
        s.cancel("stop");
        co_return;
      });
    });
  });
  EXPECT_THAT(text, HasSubstr("task main: blocked on nursery exit (waiting for children) "
                              "[cancelled]\n"
                              "        cancel scopes, innermost first: [nursery] "
                              "[cancel called (explicit)]\n"));
  EXPECT_THAT(text, HasSubstr("task stuck: blocked on never\n"
                              "            cancel scopes, innermost first: [shield]\n"));
}

TEST(DeadlockReport, IsStillADeadlockWhenALivelockBudgetIsSet) {
  const auto run = run_scenario(mutual_wait, {.max_virtual_time = 60s, .max_steps = 10'000});
  ASSERT_NE(run.error, nullptr);
  EXPECT_THROW(std::rethrow_exception(run.error), trio::DeadlockError);
  EXPECT_THAT(error_text(run.error), HasSubstr("task bob: blocked on Lock.acquire"));
}

// ---- named objects, owners and cycles
// -------------------------------------------------------------

// [START tracing_lock_order]
struct Account {
  explicit Account(const std::string& owner) : lock("accounts[" + owner + "]") {}
  trio::Lock lock;  // named for hang reports
  int64_t balance = 100;
};

Task<> transfer(Account& from, Account& to, int64_t amount) {
  trio::LockGuard first = co_await from.lock.acquire_guard();
  co_await trio::sleep(1ms);  // the opposite transfer takes its first lock meanwhile
  trio::LockGuard second = co_await to.lock.acquire_guard();
  from.balance -= amount;
  to.balance += amount;
}

Task<> two_transfers() {
  Account alice("alice"), bob("bob");
  co_await trio::open_nursery([&](trio::Nursery& n) -> Task<> {
    n.start_soon(trio::TaskName("transfer alice->bob"),
                 [&]() -> Task<> { co_await transfer(alice, bob, 30); });
    n.start_soon(trio::TaskName("transfer bob->alice"),
                 [&]() -> Task<> { co_await transfer(bob, alice, 10); });
    co_return;
  });
}
// [END tracing_lock_order]

TEST(DeadlockReport, ALockOrderDeadlockNamesBothLocksTheirHoldersAndTheCycle) {
  // (The same text is in docs/tracing.md.)
  EXPECT_EQ(deadlock_text(two_transfers),
            "trio: deadlock: every task is blocked, no deadline is pending and no I/O or wake-up "
            "can arrive.\n"
            "Task tree at 0.001000s:\n"
            "  task <init>: blocked on nursery exit (waiting for children)\n"
            "    system nursery: 0 children\n"
            "    main nursery: 1 child\n"
            "      task main: blocked on nursery exit (waiting for children)\n"
            "        nursery of main: 2 children\n"
            "          task transfer alice->bob: blocked on Lock.acquire of lock 'accounts[bob]' "
            "(held by task transfer bob->alice)\n"
            "          task transfer bob->alice: blocked on Lock.acquire of lock "
            "'accounts[alice]' (held by task transfer alice->bob)\n"
            "deadlock cycle: task transfer alice->bob waits for lock 'accounts[bob]' held by task "
            "transfer bob->alice, which waits for lock 'accounts[alice]' held by task transfer "
            "alice->bob\n");
}

// The same deadlock with unnamed locks (and an unnamed Event nobody sets, first in the tree).
Task<> two_anonymous_transfers() {
  trio::Lock a, b;
  trio::Event never;
  co_await trio::open_nursery([&](trio::Nursery& n) -> Task<> {
    n.start_soon(trio::TaskName("idle"), [&]() -> Task<> { co_await never.wait(); });
    for (int i = 0; i < 2; ++i) {
      n.start_soon(trio::TaskName(i == 0 ? "a then b" : "b then a"), [&, i]() -> Task<> {
        trio::Lock& first = i == 0 ? a : b;
        trio::Lock& second = i == 0 ? b : a;
        trio::LockGuard held = co_await first.acquire_guard();
        co_await trio::sleep(1ms);
        co_await second.acquire();
      });
    }
    co_return;
  });
}

TEST(DeadlockReport, AnUnnamedObjectIsItsKindAndANumberTheSameInEveryRunOfTheSeed) {
  const auto first = run_scenario(two_anonymous_transfers, {.seed = 11});
  // Other runs in between (each numbers its own objects from 1: nothing carries over).
  for (int i = 0; i < 3; ++i) (void)run_scenario(two_anonymous_transfers, {.seed = 12});
  const auto second = run_scenario(two_anonymous_transfers, {.seed = 11});
  const std::string text = error_text(first.error);
  EXPECT_EQ(text, error_text(second.error));
  // Numbered per kind in the order of the tree.
  EXPECT_THAT(text, HasSubstr("task idle: blocked on Event.wait of Event#1\n"));
  EXPECT_THAT(text, HasSubstr("task a then b: blocked on Lock.acquire of Lock#1 "
                              "(held by task b then a)\n"));
  EXPECT_THAT(text, HasSubstr("task b then a: blocked on Lock.acquire of Lock#2 "
                              "(held by task a then b)\n"));
  EXPECT_THAT(text, HasSubstr("deadlock cycle: task a then b waits for Lock#1 held by task b then "
                              "a, which waits for Lock#2 held by task a then b\n"));
  // The names are in the report only: the recorded events do not change.
  EXPECT_EQ(first.hash, second.hash);
}

TEST(DeadlockReport, ALimiterWaitNamesItsBorrowersAndACycleThroughIt) {
  const std::string text = deadlock_text([]() -> Task<> {
    trio::CapacityLimiter pool(2, "db connections");
    trio::Lock table("table");
    int job = 0;  // a borrower that is not a task (acquire_on_behalf_of)
    pool.acquire_on_behalf_of_nowait(&job);
    co_await trio::open_nursery([&](trio::Nursery& n) -> Task<> {
      n.start_soon(trio::TaskName("reader"), [&]() -> Task<> {
        trio::LockGuard connection = co_await pool.acquire_guard();
        co_await trio::sleep(1ms);
        co_await table.acquire();  // held by the writer, who waits for a connection
      });
      n.start_soon(trio::TaskName("writer"), [&]() -> Task<> {
        trio::LockGuard locked = co_await table.acquire_guard();
        co_await trio::sleep(1ms);
        co_await pool.acquire();
      });
      co_return;
    });
  });
  EXPECT_THAT(text, HasSubstr("task writer: blocked on CapacityLimiter.acquire of limiter 'db "
                              "connections' (borrowed by a borrower that is not a task, task "
                              "reader)\n"));
  EXPECT_THAT(text, HasSubstr("task reader: blocked on Lock.acquire of lock 'table' (held by task "
                              "writer)\n"));
  EXPECT_THAT(text, HasSubstr("deadlock cycle: task reader waits for lock 'table' held by task "
                              "writer, which waits for limiter 'db connections' borrowed by task "
                              "reader\n"));
}

TEST(DeadlockReport, ANotifiedConditionWaiterWaitsForTheLockAndItsHolder) {
  const std::string text = deadlock_text([]() -> Task<> {
    trio::Lock queue("queue");
    trio::Condition nonempty(queue, "queue not empty");
    trio::Event never("never");
    co_await trio::open_nursery([&](trio::Nursery& n) -> Task<> {
      n.start_soon(trio::TaskName("consumer"), [&]() -> Task<> {
        trio::LockGuard held = co_await nonempty.acquire_guard();
        co_await nonempty.wait();
      });
      n.start_soon(trio::TaskName("producer"), [&]() -> Task<> {
        co_await trio::sleep(1ms);
        trio::LockGuard held = co_await queue.acquire_guard();
        nonempty.notify();
        co_await never.wait();  // the bug: waits holding the lock
      });
      co_return;
    });
  });
  EXPECT_THAT(text, HasSubstr("task consumer: blocked on Condition.wait of lock 'queue' (held by "
                              "task producer)\n"));
  EXPECT_THAT(text, HasSubstr("task producer: blocked on Event.wait of event 'never'\n"));
  EXPECT_THAT(text, Not(HasSubstr("deadlock cycle")));
}

TEST(DeadlockReport, AParentHoldingALockItsChildWaitsForIsACycleThroughTheNurseryExit) {
  const std::string text = deadlock_text([]() -> Task<> {
    trio::Lock config("config");
    trio::LockGuard held = co_await config.acquire_guard();
    co_await trio::open_nursery([&](trio::Nursery& n) -> Task<> {
      n.start_soon(trio::TaskName("reloader"), [&]() -> Task<> { co_await config.acquire(); });
      co_return;  // main waits for the reloader, holding the lock it waits for
    });
  });
  EXPECT_THAT(text, HasSubstr("task reloader: blocked on Lock.acquire of lock 'config' (held by "
                              "task main)\n"));
  EXPECT_THAT(text, HasSubstr("deadlock cycle: task main waits for its child task reloader to "
                              "exit, which waits for lock 'config' held by task main\n"));
}

TEST(DeadlockReport, NamesAChannelTheUserNamedAndNumbersAnUnnamedOne) {
  const std::string text = deadlock_text([]() -> Task<> {
    trio::MemorySendChannel<int> jobs_tx, log_tx, results_tx;
    trio::MemoryReceiveChannel<int> jobs_rx, log_rx, results_rx;
    std::tie(jobs_tx, jobs_rx) = trio::open_memory_channel<int>(0, "jobs");
    std::tie(log_tx, log_rx) = trio::open_memory_channel<int>(0);
    std::tie(results_tx, results_rx) = trio::open_memory_channel<int>(0);
    results_rx.set_name("results");  // any handle names the whole channel
    co_await trio::open_nursery([&](trio::Nursery& n) -> Task<> {
      n.start_soon(trio::TaskName("worker"), [&]() -> Task<> { (void)co_await jobs_rx.receive(); });
      n.start_soon(trio::TaskName("logger"), [&]() -> Task<> { (void)co_await log_rx.receive(); });
      n.start_soon(trio::TaskName("reporter"), [&]() -> Task<> { co_await results_tx.send(1); });
      co_return;
    });
  });
  EXPECT_THAT(text, HasSubstr("task worker: blocked on MemoryReceiveChannel.receive of channel "
                              "'jobs'\n"));
  EXPECT_THAT(text, HasSubstr("task logger: blocked on MemoryReceiveChannel.receive of "
                              "MemoryChannel#1\n"));
  EXPECT_THAT(text, HasSubstr("task reporter: blocked on MemorySendChannel.send of channel "
                              "'results'\n"));
}

TEST(DeadlockReport, EveryPrimitiveCanBeNamed) {
  const std::string text = deadlock_text([]() -> Task<> {
    trio::Event event("config loaded");
    trio::Semaphore slots(0, std::nullopt, "slots");
    trio::StrictFIFOLock fifo("fifo");
    trio::Condition nonempty("queue not empty");
    trio::lowlevel::ParkingLot lot("inbox");
    trio::MemorySendChannel<int> tx;
    trio::MemoryReceiveChannel<int> rx;
    std::tie(tx, rx) = trio::open_memory_channel<int>(0);
    tx.set_name("unsent");
    EXPECT_EQ(event.name(), "config loaded");
    EXPECT_EQ(rx.name(), "unsent");
    co_await fifo.acquire();
    co_await trio::open_nursery([&](trio::Nursery& n) -> Task<> {
      n.start_soon(trio::TaskName("e"), [&]() -> Task<> { co_await event.wait(); });
      n.start_soon(trio::TaskName("s"), [&]() -> Task<> { co_await slots.acquire(); });
      n.start_soon(trio::TaskName("f"), [&]() -> Task<> { co_await fifo.acquire(); });
      n.start_soon(trio::TaskName("c"), [&]() -> Task<> {
        trio::LockGuard held = co_await nonempty.acquire_guard();
        co_await nonempty.wait();
      });
      n.start_soon(trio::TaskName("p"), [&]() -> Task<> { co_await lot.park("Mailbox.get"); });
      n.start_soon(trio::TaskName("t"), [&]() -> Task<> { co_await tx.send(1); });
      co_return;
    });
  });
  EXPECT_THAT(text, HasSubstr("task e: blocked on Event.wait of event 'config loaded'\n"));
  EXPECT_THAT(text, HasSubstr("task s: blocked on Semaphore.acquire of semaphore 'slots'\n"));
  EXPECT_THAT(text, HasSubstr("task f: blocked on StrictFIFOLock.acquire of lock 'fifo' (held by "
                              "task main)\n"));
  EXPECT_THAT(text,
              HasSubstr("task c: blocked on Condition.wait of condition 'queue not empty'\n"));
  EXPECT_THAT(text, HasSubstr("task p: blocked on Mailbox.get of parking lot 'inbox'\n"));
  EXPECT_THAT(text, HasSubstr("task t: blocked on MemorySendChannel.send of channel 'unsent'\n"));
}

// ---- livelock -----------------------------------------------------------------------------------

// ping and pong hand a turn back and forth forever, each sleeping 1 s on its turn.
Task<> ping_pong() {
  trio::lowlevel::ParkingLot ping_turn, pong_turn;
  co_await trio::open_nursery([&](trio::Nursery& n) -> Task<> {
    n.start_soon(trio::TaskName("ping"), [&]() -> Task<> {
      for (;;) {
        co_await trio::sleep(1s);
        pong_turn.unpark();
        co_await ping_turn.park("ping's turn");
      }
    });
    n.start_soon(trio::TaskName("pong"), [&]() -> Task<> {
      for (;;) {
        co_await pong_turn.park("pong's turn");
        co_await trio::sleep(1s);
        ping_turn.unpark();
      }
    });
    co_return;
  });
}

TEST(LivelockReport, PingPongIsReportedWhenVirtualTimePassesTheBudget) {
  // [START tracing_livelock]
  const auto run = trio::testing::run_scenario(ping_pong, {.seed = 4, .max_virtual_time = 60s});
  // run.error holds a LivelockError: "no progress (livelock?) ..." and the task tree
  // [END tracing_livelock]
  ASSERT_NE(run.error, nullptr);
  EXPECT_THROW(std::rethrow_exception(run.error), LivelockError);
  const std::string text = error_text(run.error);
  EXPECT_THAT(text, HasSubstr("no progress (livelock?)"));
  EXPECT_THAT(text, HasSubstr("after 61.000000s of virtual time (budget 60.000000s)"));
  EXPECT_THAT(text, HasSubstr("Task tree at 61.000000s:\n"));
  // ping sleeps on even seconds' turns [60 s, 61 s); pong waits for its turn.
  EXPECT_THAT(text, HasSubstr("task ping: blocked on sleep until 61.000000s\n"));
  EXPECT_THAT(text, HasSubstr("task pong: blocked on pong's turn\n"));
  // The budget cancelled everything and the run ended at once, at 61 s.
  ASSERT_FALSE(run.trace.empty());
  EXPECT_EQ(run.trace.back().time_ns, 61'000'000'000);
  EXPECT_EQ(trio::lowlevel::live_frames(), 0);
}

TEST(LivelockReport, ASpinAtOneInstantIsReportedByTheStepBudget) {
  const auto run = run_scenario(
      []() -> Task<> {
        int turn = 0;
        co_await trio::open_nursery([&](trio::Nursery& n) -> Task<> {
          for (int me = 0; me < 2; ++me)
            n.start_soon(trio::TaskName(me == 0 ? "ping" : "pong"), [&turn, me]() -> Task<> {
              for (;;) {
                while (turn != me) co_await trio::checkpoint();
                turn = 1 - me;
              }
            });
          co_return;
        });
      },
      {.max_virtual_time = 60s, .max_steps = 1000});
  ASSERT_NE(run.error, nullptr);
  EXPECT_THROW(std::rethrow_exception(run.error), LivelockError);
  const std::string text = error_text(run.error);
  EXPECT_THAT(text, HasSubstr("task steps (budget 1000)"));
  EXPECT_THAT(text, HasSubstr("Task tree at 0.000000s:\n"));
  EXPECT_THAT(text, HasSubstr("task ping: runnable\n"));
  EXPECT_THAT(text, HasSubstr("task pong: runnable\n"));
}

TEST(LivelockReport, ARunThatFinishesWithinTheBudgetIsNotReported) {
  const auto run = run_scenario(
      []() -> Task<> {
        for (int i = 0; i < 60; ++i) co_await trio::sleep(1s);  // ends exactly at the budget
      },
      {.max_virtual_time = 60s, .max_steps = 1000});
  EXPECT_EQ(run.error, nullptr) << error_text(run.error);
}

TEST(ProgressBudget, WorksAsAPlainInstrument) {
  trio::testing::ProgressBudget budget(10s);
  trio::MockClock clock;
  clock.set_autojump_threshold(0s);
  // The children's Cancelled, collected by main's nursery (not its own cancellation).
  EXPECT_THROW(trio::run(trio::RunOptions{.clock = &clock, .instruments = {&budget}}, ping_pong),
               trio::BaseExceptionGroup);
  EXPECT_TRUE(budget.exceeded());
  EXPECT_THAT(budget.report(), HasSubstr("after 11.000000s of virtual time (budget 10.000000s)"));
  // A new run starts a new budget.
  trio::run(trio::RunOptions{.clock = &clock, .instruments = {&budget}},
            []() -> Task<> { co_await trio::sleep(5s); });
  EXPECT_FALSE(budget.exceeded());
  EXPECT_EQ(budget.report(), "");
}

TEST(ProgressBudgetDeathTest, TasksThatIgnoreTheCancellationAbortTheProcessWithTheReport) {
  const auto deaf = []() -> Task<> {
    for (;;) {
      try {
        co_await trio::sleep(1s);
      } catch (const trio::Cancelled&) {  // the bug: swallowing Cancelled
      }
    }
  };
  EXPECT_DEATH(run_scenario(deaf, {.max_virtual_time = 10s, .max_steps = 5000}),
               "did not finish after its tasks were cancelled");
}

}  // namespace
