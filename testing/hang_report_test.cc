// SPDX-License-Identifier: Apache-2.0 OR MIT
// Hang reports: a run that can never continue fails at once with a DeadlockError whose task tree
// names every task, its nursery, its cancel scopes (deadline, shield, cancel called) and what it
// waits on; a run that keeps going without finishing — tasks waking each other forever, in
// virtual time or at one instant — fails with a LivelockError when it exceeds its
// virtual-time or step budget, with the same tree, and the tasks are cancelled so the run ends.
// A deadlock stays a deadlock when a budget is set, and tasks that ignore the cancellation make
// the process abort with the report instead of spinning forever.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

#include "runtime/trio.h"
#include "simclock/mock_clock.h"
#include "testing/determinism.h"

using namespace std::chrono_literals;
using ::testing::HasSubstr;
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
