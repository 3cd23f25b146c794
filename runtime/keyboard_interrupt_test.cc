// SPDX-License-Identifier: Apache-2.0 OR MIT
// Ctrl-C (spec §2.11; Trio's test_ki.py, the delivery checks of test_ki_protection_works): a
// run on the main thread turns SIGINT into a KeyboardInterrupt for the main task, delivered at
// its next cancel point, or at once through its abort hook if it is blocked, outside every
// cancel scope; a nursery the main task waits in takes it as one of its errors and cancels its
// children; one that arrives when the main task cannot take it any more comes out of run().
// The handler is installed only over the default action, and removed when the run ends.
//
// The tests raise SIGINT in-process (raise() runs the handler before it returns). Each one
// first checks that the run's handler is in place, so that a regression fails the test
// instead of killing the process.
#include <gtest/gtest.h>
#include <pthread.h>
#include <signal.h>

#include <algorithm>
#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "runtime/channel.h"
#include "runtime/sync.h"
#include "runtime/trio.h"
#include "simclock/mock_clock.h"

using namespace std::chrono_literals;
using trio::Task;
using trio::lowlevel::wait_all_tasks_blocked;

namespace {

sighandler_t current_sigint_handler() {
  struct sigaction now;
  sigaction(SIGINT, nullptr, &now);
  return now.sa_handler;
}

// Each test starts and ends with SIGINT at its default action (whatever the test runner set).
class KeyboardInterruptTest : public ::testing::Test {
 protected:
  void SetUp() override {
    struct sigaction dfl = {};
    dfl.sa_handler = SIG_DFL;
    sigemptyset(&dfl.sa_mask);
    sigaction(SIGINT, &dfl, &saved_);
  }
  void TearDown() override { sigaction(SIGINT, &saved_, nullptr); }
  struct sigaction saved_;
};

// Ctrl-C, from inside the run. Fails (instead of killing the test) if trio's handler is absent.
void press_ctrl_c() {
  ASSERT_NE(current_sigint_handler(), SIG_DFL) << "trio::run did not install its SIGINT handler";
  ASSERT_NE(current_sigint_handler(), SIG_IGN);
  raise(SIGINT);
}

// sim_run, with Ctrl-C handling (off by default for a run on a MockClock).
template <class F>
void ki_run(F fn, std::vector<trio::Instrument*> instruments = {}) {
  trio::MockClock clock;
  clock.set_autojump_threshold(0s);
  trio::run(trio::RunOptions{.clock = &clock,
                             .instruments = std::move(instruments),
                             .seed = 17,
                             .handle_keyboard_interrupt = true},
            std::move(fn));
  EXPECT_EQ(trio::lowlevel::live_frames(), 0);
}

template <class F>
void expect_run_raises_keyboard_interrupt(F fn) {
  try {
    ki_run(std::move(fn));
    ADD_FAILURE() << "run() returned normally";
  } catch (const trio::KeyboardInterrupt&) {
  }
}

// The exception group's leaves, described.
std::vector<std::string> leaves_of(const trio::BaseExceptionGroup& g) {
  std::vector<std::string> out;
  for (const auto& e : g.leaves()) out.push_back(trio::describe(e));
  return out;
}

TEST_F(KeyboardInterruptTest, TheMainTaskGetsItAtItsNextCheckpointAndRunRaisesIt) {
  bool ran_on = false;
  expect_run_raises_keyboard_interrupt([&]() -> Task<> {
    press_ctrl_c();
    ran_on = true;  // a C++ handler cannot throw: nothing happens until a checkpoint
    co_await trio::checkpoint();
    ADD_FAILURE() << "the checkpoint did not raise";
  });
  EXPECT_TRUE(ran_on);
}

TEST_F(KeyboardInterruptTest, TheHandlerIsInstalledOnlyForTheRunOverTheDefaultAction) {
  ki_run([&]() -> Task<> {
    EXPECT_NE(current_sigint_handler(), SIG_DFL);
    co_return;
  });
  EXPECT_EQ(current_sigint_handler(), SIG_DFL);

  // A simulation leaves SIGINT alone unless asked (RunOptions::handle_keyboard_interrupt).
  trio::MockClock clock;
  trio::run(trio::RunOptions{.clock = &clock}, [&]() -> Task<> {
    EXPECT_EQ(current_sigint_handler(), SIG_DFL);
    co_return;
  });

  // Trio's "good neighbour" rule: a handler the program installed is left alone.
  static std::atomic<int> own_handler_calls{0};
  struct sigaction own = {};
  own.sa_handler = [](int) { own_handler_calls.fetch_add(1); };
  sigemptyset(&own.sa_mask);
  sigaction(SIGINT, &own, nullptr);
  ki_run([&]() -> Task<> {
    EXPECT_EQ(current_sigint_handler(), own.sa_handler);
    raise(SIGINT);
    co_await trio::checkpoint();  // nothing pending: no KeyboardInterrupt
  });
  EXPECT_EQ(own_handler_calls.load(), 1);
  EXPECT_EQ(current_sigint_handler(), own.sa_handler);
}

TEST_F(KeyboardInterruptTest, ItIsOutsideEveryCancelScope) {
  // Trio's check 11: in a cancelled scope, the next checkpoint raises KeyboardInterrupt, which
  // the scope does not catch.
  expect_run_raises_keyboard_interrupt([&]() -> Task<> {
    trio::CancelScope scope;
    co_await scope.enter([&]() -> Task<> {
      scope.cancel();
      press_ctrl_c();
      co_await trio::checkpoint();
    });
    ADD_FAILURE() << "the cancelled scope caught the KeyboardInterrupt";
  });
}

TEST_F(KeyboardInterruptTest, AShieldDoesNotHoldItBack) {
  expect_run_raises_keyboard_interrupt([&]() -> Task<> {
    trio::CancelScope shielded(trio::kInf, /*shield=*/true);
    co_await shielded.enter([&]() -> Task<> {
      trio::lowlevel::spawn_system_task([]() -> Task<> {
        co_await trio::sleep(1s);
        press_ctrl_c();
      });
      co_await trio::sleep(10s);
    });
    ADD_FAILURE() << "the shielded sleep was not interrupted";
  });
}

TEST_F(KeyboardInterruptTest, EveryKindOfCancelPointRaisesItInTheMainTask) {
  ki_run([&]() -> Task<> {
    trio::MemorySendChannel<int> tx;
    trio::MemoryReceiveChannel<int> rx;
    std::tie(tx, rx) = trio::open_memory_channel<int>(4);
    trio::Lock lock;
    trio::Event never;
    int raised = 0;
    // `make()` makes the awaitable (awaiters cannot be moved).
    const auto interrupted = [&](auto make) -> Task<> {
      press_ctrl_c();
      try {
        co_await make();
        ADD_FAILURE() << "no KeyboardInterrupt";
      } catch (const trio::KeyboardInterrupt&) {
        ++raised;
      }
    };
    co_await interrupted([] { return trio::checkpoint_if_cancelled(); });
    co_await interrupted([&] { return tx.send(1); });
    EXPECT_EQ(tx.statistics().current_buffer_used, 0u);  // atomic: nothing was sent
    co_await interrupted([&] { return lock.acquire(); });
    EXPECT_FALSE(lock.locked());  // nor acquired
    co_await interrupted([&] { return never.wait(); });
    co_await interrupted([] { return trio::sleep(1s); });
    co_await interrupted([] { return trio::sleep_until(trio::current_time() - 1s); });
    co_await interrupted([] { return trio::sleep_forever(); });
    EXPECT_EQ(raised, 7);
    co_await trio::checkpoint();  // delivered: nothing pending any more
  });
}

TEST_F(KeyboardInterruptTest, ABlockedMainTaskIsWokenWithItAndOtherTasksAreNotInterrupted) {
  std::vector<std::string> log;
  expect_run_raises_keyboard_interrupt([&]() -> Task<> {
    trio::lowlevel::spawn_system_task([&]() -> Task<> {
      co_await trio::sleep(1s);
      press_ctrl_c();
      co_await trio::checkpoint();  // not the main task: goes on
      log.push_back("system task went on");
      co_await trio::sleep_forever();
    });
    trio::Event never;
    try {
      co_await never.wait();
    } catch (const trio::KeyboardInterrupt&) {
      log.push_back("main interrupted at " +
                    std::to_string(trio::current_time().time_since_epoch().count()));
      throw;
    }
  });
  std::sort(log.begin(), log.end());  // (the two run in the same batch, in either order)
  EXPECT_EQ(log,
            (std::vector<std::string>{"main interrupted at 1000000000", "system task went on"}));
}

TEST_F(KeyboardInterruptTest, ANurseryTheMainTaskWaitsInTakesItAndCancelsItsChildren) {
  // Trio's check 2 and test_reason_delayed_ki: the children see Cancelled("cancelled due to
  // KeyboardInterrupt from task <main>"); the KeyboardInterrupt comes out inside the group.
  std::vector<std::string> child_errors;
  std::string main_name;
  try {
    ki_run([&]() -> Task<> {
      main_name = trio::lowlevel::current_task().name();
      co_await trio::open_nursery([&](trio::Nursery& n) -> Task<> {
        for (int i = 0; i < 2; ++i) {
          n.start_soon([&, i]() -> Task<> {
            try {
              if (i == 0) {
                co_await wait_all_tasks_blocked();  // the main task waits in the nursery
                press_ctrl_c();
              }
              co_await trio::sleep_forever();
            } catch (const trio::Cancelled& c) {
              child_errors.push_back(c.to_string());
              throw;
            }
          });
        }
        co_return;
      });
      ADD_FAILURE() << "the nursery did not raise";
    });
    ADD_FAILURE() << "run() returned normally";
  } catch (const trio::BaseExceptionGroup& g) {
    EXPECT_EQ(leaves_of(g), std::vector<std::string>{"KeyboardInterrupt"}) << g.format_tree();
  }
  const std::string expected = "cancelled due to KeyboardInterrupt from task " + main_name;
  EXPECT_EQ(child_errors, (std::vector<std::string>{expected, expected}));
}

TEST_F(KeyboardInterruptTest, ASecondOneWhileTheNurseryWindsDownComesOutOfRunAfterTheGroup) {
  // The nursery's abort hook takes the first; the main task cannot take another until the
  // nursery has finished, and it never reaches a checkpoint after that: run() raises the second
  // with the group (the main task's error) as its context.
  try {
    ki_run([&]() -> Task<> {
      co_await trio::open_nursery([&](trio::Nursery& n) -> Task<> {
        n.start_soon([&]() -> Task<> {
          co_await wait_all_tasks_blocked();
          press_ctrl_c();
          try {
            co_await trio::sleep_forever();
          } catch (const trio::Cancelled&) {
            press_ctrl_c();  // again, while the nursery winds down
            throw;
          }
        });
        co_return;
      });
    });
    ADD_FAILURE() << "run() returned normally";
  } catch (const trio::KeyboardInterrupt& ki) {
    ASSERT_TRUE(ki.context());
    try {
      std::rethrow_exception(ki.context());
    } catch (const trio::BaseExceptionGroup& g) {
      EXPECT_EQ(leaves_of(g), std::vector<std::string>{"KeyboardInterrupt"}) << g.format_tree();
    }
  }
}

TEST_F(KeyboardInterruptTest, ArrivingBeforeTheMainTaskRunsItIsRaisedAtItsFirstCheckpoint) {
  // Trio's check 4 ("KI arrives very early, before main is even spawned").
  struct EarlyCtrlC : trio::Instrument {
    void before_run() override { press_ctrl_c(); }
  } early;
  bool started = false;
  EXPECT_THROW(ki_run(
                   [&]() -> Task<> {
                     started = true;
                     co_await trio::checkpoint();
                   },
                   {&early}),
               trio::KeyboardInterrupt);
  EXPECT_TRUE(started);
}

TEST_F(KeyboardInterruptTest, ArrivingAfterTheMainTaskFinishedItComesOutOfRun) {
  // A system task presses Ctrl-C while the run shuts down (the main task is gone).
  const auto ctrl_c_at_shutdown = []() -> Task<> {
    try {
      co_await trio::sleep_forever();
    } catch (const trio::Cancelled&) {
      press_ctrl_c();
      throw;
    }
  };
  expect_run_raises_keyboard_interrupt([&]() -> Task<> {
    trio::lowlevel::spawn_system_task(ctrl_c_at_shutdown);
    co_return;
  });
  // Trio's check 9: with the main task's own error as its context.
  try {
    ki_run([&]() -> Task<> {
      trio::lowlevel::spawn_system_task(ctrl_c_at_shutdown);
      co_await wait_all_tasks_blocked();
      throw trio::ValueError("main failed");
    });
    ADD_FAILURE() << "run() returned normally";
  } catch (const trio::KeyboardInterrupt& ki) {
    EXPECT_EQ(trio::describe(ki.context()), "main failed");
  }
}

TEST_F(KeyboardInterruptTest, CatchingItInTheMainTaskEndsIt) {
  int interrupts = 0;
  ki_run([&]() -> Task<> {
    for (int i = 0; i < 3; ++i) {
      try {
        press_ctrl_c();
        co_await trio::sleep(1s);
      } catch (const trio::KeyboardInterrupt&) {
        ++interrupts;
      }
    }
  });
  EXPECT_EQ(interrupts, 3);
}

TEST_F(KeyboardInterruptTest, ASignalOnAnotherThreadWakesABlockingWait) {
  // A real clock: the run blocks in epoll_wait for up to an hour, and the SIGINT is handled on
  // a helper thread, which cannot interrupt that wait: the handler must wake it. (If it did not,
  // this test would hang until Bazel's timeout.)
  std::atomic<bool> handler_installed{false};
  std::thread helper([&] {
    while (!handler_installed.load()) std::this_thread::yield();
    pthread_kill(pthread_self(), SIGINT);  // handled on this thread
  });
  try {
    trio::run([&]() -> Task<> {
      EXPECT_NE(current_sigint_handler(), SIG_DFL);
      if (current_sigint_handler() == SIG_DFL) co_return;  // (the helper would kill the process)
      handler_installed = true;
      co_await trio::sleep(3600s);
      ADD_FAILURE() << "the sleep was not interrupted";
    });
    ADD_FAILURE() << "run() returned normally";
  } catch (const trio::KeyboardInterrupt&) {
  }
  helper.join();
}

}  // namespace
