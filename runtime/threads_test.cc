// SPDX-License-Identifier: Apache-2.0 OR MIT
// to_thread / from_thread (spec §1.12, Trio's test_threads.py): results and exceptions come
// back; from_thread calls run on the run's thread (sync, and async in the waiting task); the
// default limiter bounds concurrency; abandon_on_cancel returns at once while the thread
// finishes alone; without it the call waits and check_cancelled() reports the cancellation;
// misuse errors; the lockstep mode gives the same trace for the same seed. Real-time waits
// happen only in worker threads (they block on a latch the run releases), never in the run.
#include "runtime/threads.h"

#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "runtime/internal/thread_cache.h"
#include "runtime/trio.h"
#include "simclock/mock_clock.h"

namespace {

using trio::Task;

// A one-shot latch a worker can wait on and the run can open.
struct Latch {
  std::mutex mu;
  std::condition_variable cv;
  bool open = false;
  void release() {
    std::lock_guard g(mu);
    open = true;
    cv.notify_all();
  }
  void wait() {
    std::unique_lock l(mu);
    cv.wait(l, [&] { return open; });
  }
};

TEST(ToThread, ReturnsTheValueFromAnotherThread) {
  std::thread::id run_thread, worker;
  int v = trio::run([&]() -> Task<int> {
    run_thread = std::this_thread::get_id();
    auto fn = [&] {
      worker = std::this_thread::get_id();
      return 6 * 7;
    };
    co_return co_await trio::to_thread::run_sync(std::move(fn));
  });
  EXPECT_EQ(v, 42);
  EXPECT_NE(worker, run_thread);
}

TEST(ToThread, RethrowsTheException) {
  EXPECT_THROW(trio::run([]() -> Task<> {
                 auto fn = [] { throw std::out_of_range("boom"); };
                 co_await trio::to_thread::run_sync(fn);
               }),
               std::out_of_range);
}

TEST(FromThread, RunSyncAndRunExecuteOnTheRunThread) {
  std::thread::id run_thread, sync_on, async_on;
  int got = 0;
  trio::run([&]() -> Task<> {
    run_thread = std::this_thread::get_id();
    auto fn = [&] {
      trio::from_thread::run_sync([&] { sync_on = std::this_thread::get_id(); });
      got = trio::from_thread::run([&]() -> Task<int> {
        async_on = std::this_thread::get_id();
        co_await trio::sleep(std::chrono::milliseconds(0));
        co_return 5;
      });
    };
    co_await trio::to_thread::run_sync(fn);
  });
  EXPECT_EQ(sync_on, run_thread);
  EXPECT_EQ(async_on, run_thread);
  EXPECT_EQ(got, 5);
}

TEST(FromThread, MisuseErrors) {
  trio::run([&]() -> Task<> {
    EXPECT_THROW(trio::from_thread::run_sync([] {}), trio::RuntimeError);
    EXPECT_THROW(trio::from_thread::check_cancelled(), trio::RuntimeError);
    co_return;
  });
  std::thread foreign([] { EXPECT_THROW(trio::from_thread::run_sync([] {}), trio::RuntimeError); });
  foreign.join();
}

TEST(FromThread, ForeignThreadWithTokenAndAfterTheRun) {
  std::optional<trio::lowlevel::TrioToken> token;
  int got = 0;
  trio::run([&]() -> Task<> {
    token = trio::lowlevel::current_trio_token();
    auto fn = [&] {
      std::thread foreign([&] { got = trio::from_thread::run_sync([] { return 9; }, &*token); });
      foreign.join();
    };
    co_await trio::to_thread::run_sync(fn);
  });
  EXPECT_EQ(got, 9);
  EXPECT_THROW(trio::from_thread::run_sync([] {}, &*token), trio::RunFinishedError);
}

TEST(ToThread, AbandonOnCancelReturnsAtOnceAndTheThreadFinishesAlone) {
  auto latch = std::make_shared<Latch>();
  auto finished = std::make_shared<std::atomic<bool>>(false);
  bool cancelled_caught = false;
  trio::run([&]() -> Task<> {
    trio::CancelScope scope;
    co_await scope.enter([&](trio::CancelScope& s) -> Task<> {
      co_await trio::open_nursery([&](trio::Nursery& n) -> Task<> {
        n.start_soon([&]() -> Task<> {
          co_await trio::lowlevel::wait_all_tasks_blocked();
          s.cancel();
        });
        auto fn = [latch, finished] {
          latch->wait();
          finished->store(true);
        };
        co_await trio::to_thread::run_sync(fn, {.abandon_on_cancel = true});
      });
    });
    cancelled_caught = scope.cancelled_caught();
    EXPECT_EQ(trio::lowlevel::active_thread_count(), 1u);
    latch->release();
    co_await trio::lowlevel::wait_all_threads_completed();
    EXPECT_EQ(trio::lowlevel::active_thread_count(), 0u);
  });
  EXPECT_TRUE(cancelled_caught);
  EXPECT_TRUE(finished->load());
}

TEST(ToThread, WithoutAbandonTheCallWaitsAndCheckCancelledReports) {
  Latch latch;
  bool saw_cancel = false;
  bool returned = false;
  trio::run([&]() -> Task<> {
    co_await trio::move_on_after(std::chrono::hours(1), [&]() -> Task<> {
      trio::CancelScope* outer = nullptr;
      (void)outer;
      co_await trio::open_nursery([&](trio::Nursery& n) -> Task<> {
        n.start_soon([&]() -> Task<> {
          co_await trio::lowlevel::wait_all_tasks_blocked();
          n.cancel_scope().cancel();
          latch.release();
        });
        auto fn = [&] {
          latch.wait();
          try {
            trio::from_thread::check_cancelled();
          } catch (const trio::Cancelled&) {
            saw_cancel = true;
          }
        };
        co_await trio::to_thread::run_sync(fn);
        returned = true;  // the call ignored the cancellation until the thread finished
      });
    });
  });
  EXPECT_TRUE(saw_cancel);
  EXPECT_TRUE(returned);
}

TEST(ToThread, DefaultLimiterHasFortyTokens) {
  trio::run([&]() -> Task<> {
    EXPECT_EQ(trio::to_thread::current_default_thread_limiter().total_tokens(), 40);
    co_return;
  });
}

TEST(ToThread, CustomLimiterBoundsConcurrency) {
  std::atomic<int> running{0}, peak{0};
  trio::run([&]() -> Task<> {
    trio::CapacityLimiter limiter(2);
    co_await trio::open_nursery([&](trio::Nursery& n) -> Task<> {
      for (int i = 0; i < 6; ++i) {
        n.start_soon([&]() -> Task<> {
          auto fn = [&] {
            int now = ++running;
            int p = peak.load();
            while (now > p && !peak.compare_exchange_weak(p, now)) {
            }
            std::this_thread::yield();
            --running;
          };
          co_await trio::to_thread::run_sync(fn, {.limiter = &limiter});
        });
      }
      co_return;
    });
  });
  EXPECT_LE(peak.load(), 2);
  EXPECT_GE(peak.load(), 1);
}

std::string lockstep_trace(uint64_t seed) {
  std::string trace;
  trio::MockClock clock;
  clock.set_autojump_threshold(std::chrono::nanoseconds(0));
  trio::RunOptions options{.clock = &clock, .seed = seed};
  options.threads = trio::ThreadMode::kLockstep;
  try {
    trio::run(options, [&]() -> Task<> {
      co_await trio::open_nursery([&](trio::Nursery& n) -> Task<> {
        for (int i = 0; i < 4; ++i) {
          n.start_soon([&, i]() -> Task<> {
            auto fn = [&, i] {
              trio::from_thread::run_sync([&, i] { trace += "s" + std::to_string(i); });
              return i;
            };
            int v = co_await trio::to_thread::run_sync(fn);
            trace += "r" + std::to_string(v);
          });
        }
        co_return;
      });
    });
  } catch (...) {
    ADD_FAILURE() << trio::describe_tree(std::current_exception());
  }
  return trace;
}

TEST(ToThread, LockstepModeIsDeterministicPerSeed) {
  for (uint64_t seed = 1; seed <= 5; ++seed) {
    const std::string first = lockstep_trace(seed);
    for (int k = 0; k < 5; ++k) EXPECT_EQ(lockstep_trace(seed), first) << "seed " << seed;
  }
}

TEST(ThreadCache, DrainLeavesNoIdleWorkers) {
  trio::run([&]() -> Task<> {
    auto fn = [] {};
    co_await trio::to_thread::run_sync(fn);
    co_await trio::lowlevel::wait_all_threads_completed();
  });
  trio::lowlevel::drain_thread_cache();
  // Workers that finished their job may still be on their way to idle; drain again after.
  for (int i = 0; i < 100000 && trio::internal::thread_cache_statistics().live_workers != 0; ++i) {
    std::this_thread::yield();
    trio::lowlevel::drain_thread_cache();
  }
  EXPECT_EQ(trio::internal::thread_cache_statistics().live_workers, 0u);
}

}  // namespace
