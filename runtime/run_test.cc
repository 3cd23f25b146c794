// SPDX-License-Identifier: Apache-2.0 OR MIT
// trio::run and the task machinery under it (spec §1.1–1.2, §2.1; Trio's test_run.py, rewritten):
// run returns the main task's value and rethrows its error unwrapped; run inside run and runtime
// calls outside run are RuntimeErrors; system tasks are cancelled at shutdown and their crash is
// a TrioInternalError; the checkpoint counters move exactly as Trio's; the abort protocol's
// failed and by-hand paths; deep chains of synchronously completing Tasks run in constant stack
// (100000 levels; the asan and tsan builds are where symmetric transfer would overflow); and no
// coroutine frame outlives a run, even an abandoned one.
#include <gtest/gtest.h>

#include <chrono>
#include <exception>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "runtime/trio.h"
#include "simclock/mock_clock.h"

using namespace std::chrono_literals;
using trio::Task;
using trio::lowlevel::TaskRecord;

namespace {

trio::TimePoint at(trio::Duration d) { return trio::TimePoint(d); }

// One simulated run on an autojump MockClock; checks at the end that no frame leaked.
class Sim {
 public:
  explicit Sim(uint64_t seed = 1) : seed_(seed) { clock.set_autojump_threshold(0s); }
  ~Sim() { EXPECT_EQ(trio::lowlevel::live_frames(), 0) << "a coroutine frame leaked"; }
  template <class F, class... Args>
  auto run(F main, Args&&... args) {
    return trio::run(trio::RunOptions{.clock = &clock, .seed = seed_}, std::move(main),
                     std::forward<Args>(args)...);
  }
  trio::MockClock clock;

 private:
  uint64_t seed_;
};

// Calls `fn` and returns the message of the E it threw ("<no exception>" if none).
template <class E, class F>
std::string message_of(F&& fn) {
  try {
    fn();
  } catch (const E& e) {
    return e.what();
  }
  return "<no exception>";
}

Task<int> add_one(int x) {
  co_await trio::sleep(1s);
  co_return x + 1;
}

}  // namespace

// ---- run ----------------------------------------------------------------------------------

TEST(Run, ReturnsMainTaskValueAndForwardsArguments) {
  Sim sim;
  EXPECT_EQ(sim.run(add_one, 41), 42);
  Sim sim2;
  std::string s = sim2.run(
      [](std::string a, std::unique_ptr<int> b) -> Task<std::string> {
        co_await trio::checkpoint();
        co_return a + std::to_string(*b);
      },
      std::string("answer="), std::make_unique<int>(42));
  EXPECT_EQ(s, "answer=42");
}

TEST(Run, MainTaskErrorComesOutUnwrapped) {
  Sim sim;
  std::string error;
  bool was_group = false;
  try {
    sim.run([]() -> Task<> {
      co_await trio::sleep(1s);
      throw std::out_of_range("main failed");
    });
  } catch (const std::out_of_range& e) {
    error = e.what();
  } catch (const trio::BaseExceptionGroup&) {
    was_group = true;
  }
  EXPECT_FALSE(was_group);
  EXPECT_EQ(error, "main failed");
}

TEST(Run, RunInsideRunIsRuntimeError) {
  Sim sim;
  std::string error;
  sim.run([&]() -> Task<> {
    error = message_of<trio::RuntimeError>([] { trio::run([]() -> Task<> { co_return; }); });
    co_await trio::checkpoint();  // the outer run is unharmed
  });
  EXPECT_EQ(error, "Attempted to call run() from inside a run()");
}

TEST(Run, RuntimeCallsOutsideRunAreRuntimeErrors) {
  EXPECT_FALSE(trio::lowlevel::in_trio_run());
  EXPECT_FALSE(trio::lowlevel::in_trio_task());
  EXPECT_THROW(trio::current_time(), trio::RuntimeError);
  EXPECT_EQ(message_of<trio::RuntimeError>([] { trio::lowlevel::current_task(); }),
            "must be called from async context");
  EXPECT_THROW(trio::current_effective_deadline(), trio::RuntimeError);
  EXPECT_THROW(trio::lowlevel::current_root_task(), trio::RuntimeError);
  EXPECT_THROW(trio::lowlevel::current_statistics(), trio::RuntimeError);
  EXPECT_THROW(trio::lowlevel::current_clock(), trio::RuntimeError);
  EXPECT_THROW(trio::lowlevel::current_trio_token(), trio::RuntimeError);
  EXPECT_THROW(trio::lowlevel::spawn_system_task([]() -> Task<> { co_return; }),
               trio::RuntimeError);
  trio::lowlevel::RunVar<int> var("var", 1);
  EXPECT_EQ(message_of<trio::RuntimeError>([&] { var.get(); }),
            "Cannot be used outside of a run context");
  EXPECT_EQ(trio::lowlevel::live_frames(), 0);  // nothing was created by the failed calls
}

TEST(Run, CurrentTaskRootTaskAndClockInsideRun) {
  Sim sim;
  sim.run([&]() -> Task<> {
    EXPECT_TRUE(trio::lowlevel::in_trio_run());
    EXPECT_TRUE(trio::lowlevel::in_trio_task());
    TaskRecord& me = trio::lowlevel::current_task();
    EXPECT_EQ(me.name(), "main");
    TaskRecord& root = trio::lowlevel::current_root_task();
    EXPECT_EQ(root.name(), "<init>");
    EXPECT_NE(&root, &me);
    EXPECT_EQ(&trio::lowlevel::current_clock(), &sim.clock);
    EXPECT_EQ(trio::current_time(), at(0s));
    co_await trio::sleep(90min);
    EXPECT_EQ(trio::current_time(), at(90min));
    EXPECT_EQ(trio::current_effective_deadline(), trio::kInf);
  });
}

TEST(Run, RunsOnDifferentThreadsAreIndependent) {
  // Each thread has its own run; they interleave freely in real time.
  auto one_run = [](int x, int* out) {
    trio::MockClock clock;
    clock.set_autojump_threshold(0s);
    *out = trio::run(trio::RunOptions{.clock = &clock, .seed = 7}, [x]() -> Task<int> {
      int sum = 0;
      for (int i = 0; i < 1000; ++i) {
        co_await trio::sleep(1ms);
        sum += x;
      }
      EXPECT_EQ(trio::current_time(), trio::TimePoint(1s));
      co_return sum;
    });
    EXPECT_EQ(trio::lowlevel::live_frames(), 0);
  };
  int a = 0, b = 0;
  std::thread t1(one_run, 1, &a);
  std::thread t2(one_run, 2, &b);
  t1.join();
  t2.join();
  EXPECT_EQ(a, 1000);
  EXPECT_EQ(b, 2000);
}

TEST(Run, DeadlockIsReportedAndAbandonedRunFreesEveryFrame) {
  Sim sim;
  std::string error;
  try {
    sim.run([]() -> Task<> {
      co_await trio::open_nursery([&](trio::Nursery& n) -> Task<> {
        n.start_soon([]() -> Task<> { co_await trio::sleep_forever(); });
        co_await trio::sleep_forever();
      });
    });
  } catch (const trio::DeadlockError& e) {
    error = e.what();
  }
  EXPECT_NE(error.find("deadlock"), std::string::npos) << error;
  // ~Sim checks live_frames() == 0: the blocked tasks' frames were destroyed.
}

// ---- system tasks -------------------------------------------------------------------------

TEST(Run, SystemTasksAreCancelledAtShutdownWithReasonShutdown) {
  Sim sim;
  std::optional<trio::Cancelled> seen;
  bool ran = false;
  sim.run([&]() -> Task<> {
    trio::lowlevel::spawn_system_task([&]() -> Task<> {
      ran = true;
      try {
        co_await trio::sleep_forever();
      } catch (const trio::Cancelled& c) {
        seen = c;
        throw;
      }
    });
    co_await trio::sleep(1s);
  });
  EXPECT_TRUE(ran);
  ASSERT_TRUE(seen.has_value());
  EXPECT_EQ(seen->source(), trio::Cancelled::Source::kShutdown);
  EXPECT_EQ(seen->to_string(), "cancelled due to shutdown");
}

TEST(Run, SystemTaskCrashIsTrioInternalErrorAndCancelsMain) {
  Sim sim;
  bool main_cancelled = false;
  std::exception_ptr cause;
  try {
    sim.run([&]() -> Task<> {
      trio::lowlevel::spawn_system_task([]() -> Task<> {
        co_await trio::sleep(1s);
        throw std::out_of_range("system task crashed");
      });
      try {
        co_await trio::sleep_forever();
      } catch (const trio::Cancelled&) {
        main_cancelled = true;
        throw;
      }
    });
  } catch (const trio::TrioInternalError& e) {
    cause = e.cause();
  }
  EXPECT_TRUE(main_cancelled);
  ASSERT_TRUE(cause);
  // The crash is inside the system nursery's group (Trio nests it likewise).
  std::vector<std::string> leaves;
  try {
    std::rethrow_exception(cause);
  } catch (const trio::BaseExceptionGroup& g) {
    for (const auto& e : g.leaves()) leaves.push_back(trio::describe(e));
  } catch (...) {
    leaves.push_back("not a group: " + trio::describe(cause));
  }
  EXPECT_EQ(leaves, std::vector<std::string>{"system task crashed"});
}

TEST(Run, SystemTaskCrashWhileMainReturnsIsStillInternalError) {
  // Trio's test_system_task_crash_plus_Cancelled: the crash happens during shutdown.
  Sim sim;
  bool internal_error = false;
  try {
    sim.run([]() -> Task<> {
      trio::lowlevel::spawn_system_task([]() -> Task<> {
        try {
          co_await trio::sleep_forever();
        } catch (const trio::Cancelled&) {
          throw std::logic_error("cleanup crashed");
        }
      });
      co_return;
    });
  } catch (const trio::TrioInternalError&) {
    internal_error = true;
  }
  EXPECT_TRUE(internal_error);
}

// ---- checkpoints and their counters (spec §2.1 rule 6) ------------------------------------

struct Counts {
  uint32_t cancel, schedule;
};
Counts counts() {
  TaskRecord& t = trio::lowlevel::current_task();
  return {t.cancel_points, t.schedule_points};
}

TEST(Checkpoint, CheckpointIsOneCancelPointAndOneSchedulePoint) {
  Sim sim;
  sim.run([]() -> Task<> {
    Counts before = counts();
    co_await trio::checkpoint();
    Counts after = counts();
    EXPECT_EQ(after.cancel - before.cancel, 1u);
    EXPECT_EQ(after.schedule - before.schedule, 1u);
  });
}

TEST(Checkpoint, CancelShieldedCheckpointIsOnlyASchedulePoint) {
  Sim sim;
  sim.run([]() -> Task<> {
    trio::CancelScope scope;
    co_await scope.enter([&]() -> Task<> {
      scope.cancel();
      Counts before = counts();
      co_await trio::cancel_shielded_checkpoint();  // does not raise, even when cancelled
      Counts after = counts();
      EXPECT_EQ(after.cancel - before.cancel, 0u);
      EXPECT_EQ(after.schedule - before.schedule, 1u);
    });
    EXPECT_FALSE(scope.cancelled_caught());
  });
}

TEST(Checkpoint, CheckpointIfCancelledCountsACancelPointButDoesNotYield) {
  Sim sim;
  sim.run([]() -> Task<> {
    Counts before = counts();
    co_await trio::checkpoint_if_cancelled();
    Counts after = counts();
    EXPECT_EQ(after.cancel - before.cancel, 1u);
    EXPECT_EQ(after.schedule - before.schedule, 0u);
    trio::CancelScope scope;
    co_await scope.enter([&]() -> Task<> {
      scope.cancel();
      before = counts();
      try {
        co_await trio::checkpoint_if_cancelled();
      } catch (const trio::Cancelled&) {
        after = counts();
        throw;
      }
    });
    EXPECT_TRUE(scope.cancelled_caught());
    EXPECT_GE(after.cancel - before.cancel, 1u);
    EXPECT_GE(after.schedule - before.schedule, 1u);  // raising went through a full checkpoint
  });
}

TEST(Checkpoint, CheckpointIfCancelledDoesNotLetOtherTasksRun) {
  Sim sim;
  sim.run([]() -> Task<> {
    bool other_ran = false;
    co_await trio::open_nursery([&](trio::Nursery& n) -> Task<> {
      n.start_soon([&]() -> Task<> {
        other_ran = true;
        co_return;
      });
      // Two schedule points would be enough for the child to run, whatever the batch order.
      for (int i = 0; i < 10; ++i) co_await trio::checkpoint_if_cancelled();
      EXPECT_FALSE(other_ran);
      co_await trio::checkpoint();
      co_await trio::checkpoint();
      EXPECT_TRUE(other_ran);
    });
  });
}

TEST(Checkpoint, BlockingWaitCountsBothPoints) {
  Sim sim;
  sim.run([]() -> Task<> {
    TaskRecord* me = &trio::lowlevel::current_task();
    co_await trio::open_nursery([&](trio::Nursery& n) -> Task<> {
      n.start_soon([&]() -> Task<> {
        co_await trio::lowlevel::wait_all_tasks_blocked();
        trio::lowlevel::reschedule(*me);
      });
      Counts before = counts();
      co_await trio::lowlevel::wait_task_rescheduled(
          [](trio::lowlevel::RaiseCancel) { return trio::lowlevel::Abort::kSucceeded; });
      Counts after = counts();
      EXPECT_EQ(after.cancel - before.cancel, 1u);
      EXPECT_EQ(after.schedule - before.schedule, 1u);
    });
  });
}

// A cancelled checkpoint takes two steps of the task (spec §1.2), an uncancelled one takes one.
TEST(Checkpoint, CancelledCheckpointTakesTwoSteps) {
  struct StepCounter : trio::Instrument {
    const TaskRecord* task = nullptr;
    int steps = 0;
    void before_task_step(TaskRecord& t) override { steps += (&t == task); }
  };
  StepCounter counter;
  trio::MockClock clock;
  clock.set_autojump_threshold(0s);
  trio::run(trio::RunOptions{.clock = &clock, .instruments = {&counter}}, [&]() -> Task<> {
    counter.task = &trio::lowlevel::current_task();
    int before = counter.steps;
    co_await trio::checkpoint();
    EXPECT_EQ(counter.steps - before, 1);
    trio::CancelScope scope;
    co_await scope.enter([&]() -> Task<> {
      scope.cancel();
      before = counter.steps;
      try {
        co_await trio::checkpoint();
      } catch (const trio::Cancelled&) {
        EXPECT_EQ(counter.steps - before, 2);
        throw;
      }
    });
  });
  EXPECT_EQ(trio::lowlevel::live_frames(), 0);
}

// Trio's test_yield_briefly_checks_for_timeout: the schedule point comes first, so the loop has
// expired the deadline before the cancel check.
TEST(Checkpoint, CheckpointSeesDeadlineThatPassedWhileRunning) {
  Sim sim;
  sim.run([&]() -> Task<> {
    trio::CancelScope scope(trio::current_time() + 5s);
    co_await scope.enter([&]() -> Task<> {
      co_await trio::checkpoint();
      sim.clock.jump(10s);
      co_await trio::checkpoint();
      ADD_FAILURE() << "the checkpoint after the jump did not raise";
    });
    EXPECT_TRUE(scope.cancelled_caught());
  });
}

// ---- the abort protocol (wait_task_rescheduled / reschedule) ------------------------------

// Trio's test_failed_abort: kFailed leaves the wake-up to the waker; the task then sees the
// cancellation at its next cancel point.
TEST(Lowlevel, FailedAbortLeavesTaskBlockedUntilRescheduled) {
  Sim sim;
  std::vector<std::string> record;
  sim.run([&]() -> Task<> {
    TaskRecord* stubborn = nullptr;
    trio::CancelScope* stubborn_scope = nullptr;
    int aborts = 0;
    co_await trio::open_nursery([&](trio::Nursery& n) -> Task<> {
      n.start_soon([&]() -> Task<> {
        stubborn = &trio::lowlevel::current_task();
        trio::CancelScope scope;
        stubborn_scope = &scope;
        co_await scope.enter([&]() -> Task<> {
          record.push_back("sleep");
          co_await trio::lowlevel::wait_task_rescheduled([&](trio::lowlevel::RaiseCancel) {
            ++aborts;
            return trio::lowlevel::Abort::kFailed;
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
      co_await trio::lowlevel::wait_all_tasks_blocked();
      stubborn_scope->cancel();
      co_await trio::lowlevel::wait_all_tasks_blocked();
      EXPECT_EQ(record, std::vector<std::string>{"sleep"});
      trio::lowlevel::reschedule(*stubborn);
    });
    EXPECT_EQ(aborts, 1);
  });
  EXPECT_EQ(record, (std::vector<std::string>{"sleep", "woke", "cancelled"}));
}

TEST(Lowlevel, ReschedulingARunnableTaskIsRuntimeError) {
  Sim sim;
  sim.run([]() -> Task<> {
    EXPECT_THROW(trio::lowlevel::reschedule(trio::lowlevel::current_task()), trio::RuntimeError);
    co_return;
  });
}

// Trio's test_cannot_wake_sleep_forever.
TEST(Lowlevel, SleepForeverRescheduledByHandIsRuntimeError) {
  Sim sim;
  std::string error;
  sim.run([&]() -> Task<> {
    TaskRecord* sleeper = nullptr;
    co_await trio::open_nursery([&](trio::Nursery& n) -> Task<> {
      n.start_soon([&]() -> Task<> {
        sleeper = &trio::lowlevel::current_task();
        try {
          co_await trio::sleep_forever();
        } catch (const trio::RuntimeError& e) {
          error = e.what();
        }
      });
      co_await trio::lowlevel::wait_all_tasks_blocked();
      trio::lowlevel::reschedule(*sleeper);
    });
  });
  EXPECT_EQ(error, "Should never have been rescheduled!");
}

TEST(Lowlevel, RescheduleWithExceptionRaisesItInTheTask) {
  Sim sim;
  std::string error;
  sim.run([&]() -> Task<> {
    TaskRecord* me = &trio::lowlevel::current_task();
    co_await trio::open_nursery([&](trio::Nursery& n) -> Task<> {
      n.start_soon([&]() -> Task<> {
        co_await trio::lowlevel::wait_all_tasks_blocked();
        trio::lowlevel::reschedule(*me, std::make_exception_ptr(std::range_error("thrown in")));
      });
      try {
        co_await trio::lowlevel::wait_task_rescheduled(
            [](trio::lowlevel::RaiseCancel) { return trio::lowlevel::Abort::kSucceeded; });
      } catch (const std::range_error& e) {
        error = e.what();
      }
    });
  });
  EXPECT_EQ(error, "thrown in");
}

// ---- deep synchronous chains (coroutine-pitfalls #1) ----------------------------------------

constexpr int kDeepChain = 100000;

// Not `co_return n == 0 ? 0 : 1 + co_await count_down(n - 1);`: g++ 12 evaluates a co_await in
// the arm of ?: that is not selected, so that form recurses forever (clang 14 is right).
Task<int> count_down(int n) {
  if (n == 0) co_return 0;
  co_return 1 + co_await count_down(n - 1);
}

Task<int> count_down_then_throw(int n) {
  if (n == 0) throw std::length_error("bottom");
  co_return 1 + co_await count_down_then_throw(n - 1);
}

Task<int> count_down_with_checkpoint_at_bottom(int n) {
  if (n == 0) {
    co_await trio::sleep(1s);  // suspends the whole chain; the scheduler resumes the bottom
    co_return 0;
  }
  co_return 1 + co_await count_down_with_checkpoint_at_bottom(n - 1);
}

Task<> void_chain(int n, int* leaves) {
  if (n == 0) {
    ++*leaves;
    co_return;
  }
  co_await void_chain(n - 1, leaves);
}

TEST(DeepChain, SynchronouslyCompletingChainDoesNotOverflowStack) {
  Sim sim;
  EXPECT_EQ(sim.run(count_down, kDeepChain), kDeepChain);
}

TEST(DeepChain, VoidChainDoesNotOverflowStack) {
  Sim sim;
  int leaves = 0;
  sim.run(void_chain, kDeepChain, &leaves);
  EXPECT_EQ(leaves, 1);
}

TEST(DeepChain, ExceptionPropagatesThroughDeepChain) {
  Sim sim;
  EXPECT_THROW(sim.run(count_down_then_throw, kDeepChain), std::length_error);
}

TEST(DeepChain, DeepChainSuspendedAtTheBottomResumes) {
  Sim sim;
  int r = sim.run([]() -> Task<int> {
    int v = co_await count_down_with_checkpoint_at_bottom(kDeepChain);
    EXPECT_EQ(trio::current_time(), trio::TimePoint(1s));
    co_return v;
  });
  EXPECT_EQ(r, kDeepChain);
}

TEST(DeepChain, DeepChainsInManyTasksAtOnce) {
  Sim sim;
  int total = 0;
  sim.run([&]() -> Task<> {
    co_await trio::open_nursery([&](trio::Nursery& n) -> Task<> {
      for (int i = 0; i < 4; ++i)
        n.start_soon([&]() -> Task<> {
          total += co_await count_down_with_checkpoint_at_bottom(kDeepChain / 4);
        });
      co_return;
    });
  });
  EXPECT_EQ(total, kDeepChain);
}
