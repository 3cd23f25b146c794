// SPDX-License-Identifier: Apache-2.0 OR MIT
// TrioToken (spec §1.12, the run_sync_soon tests of Trio's test_run.py): callbacks posted from
// other threads run on the run's thread in FIFO order per producer and wake a loop blocked in its
// I/O wait; every accepted callback runs before run() returns and later posts raise
// RunFinishedError (try_run_sync_soon returns false and never throws); the token is one per run;
// callbacks that re-post themselves cannot starve tasks; a throwing callback is a
// TrioInternalError; the queue size shows in current_statistics. Threads are real (std::thread,
// always joined) but nothing sleeps: each test waits on the run's own wake-ups.
#include <gtest/gtest.h>

#include <atomic>
#include <functional>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "runtime/trio.h"

using trio::Task;
using trio::lowlevel::Abort;
using trio::lowlevel::RaiseCancel;
using trio::lowlevel::TaskRecord;
using trio::lowlevel::TrioToken;

namespace {

// Blocks the current task until something calls reschedule() on it.
auto block_until_rescheduled() {
  return trio::lowlevel::wait_task_rescheduled([](RaiseCancel) { return Abort::kFailed; },
                                               "test: until rescheduled");
}

TEST(TrioToken, IsTheSameWithinARunAndDiffersAcrossRuns) {
  std::optional<TrioToken> first, second;
  trio::run([&]() -> Task<> {
    first = trio::lowlevel::current_trio_token();
    co_await trio::checkpoint();
    EXPECT_TRUE(trio::lowlevel::current_trio_token() == *first);
  });
  trio::run([&]() -> Task<> {
    second = trio::lowlevel::current_trio_token();
    co_return;
  });
  EXPECT_FALSE(*first == *second);
  EXPECT_THROW(trio::lowlevel::current_trio_token(), trio::RuntimeError);
}

TEST(TrioToken, ACallbackFromTheRunThreadRunsBetweenStepsNotInline) {
  std::vector<std::string> record;
  trio::run([&]() -> Task<> {
    trio::lowlevel::current_trio_token().run_sync_soon([&] { record.push_back("callback"); });
    record.push_back("posted");
    co_await trio::checkpoint();
    record.push_back("after checkpoint");
  });
  EXPECT_EQ(record, (std::vector<std::string>{"posted", "callback", "after checkpoint"}));
}

TEST(TrioToken, CallbacksFromAnotherThreadRunInFifoOrderAndWakeTheLoop) {
  constexpr int kCallbacks = 1000;
  std::vector<int> order;
  trio::run([&]() -> Task<> {
    TrioToken token = trio::lowlevel::current_trio_token();
    TaskRecord* me = &trio::lowlevel::current_task();
    // The loop blocks in its I/O wait (nothing else is runnable, no deadline): only the
    // token's wake-up can get main going again.
    std::thread producer([&order, token, me] {
      for (int i = 0; i < kCallbacks; ++i)
        token.run_sync_soon([&order, i, me] {
          order.push_back(i);
          if (i == kCallbacks - 1) trio::lowlevel::reschedule(*me);
        });
    });
    co_await block_until_rescheduled();
    producer.join();
  });
  ASSERT_EQ(order.size(), static_cast<size_t>(kCallbacks));
  for (int i = 0; i < kCallbacks; ++i) EXPECT_EQ(order[i], i);
}

TEST(TrioToken, CallbacksFromManyThreadsKeepEachThreadsOrder) {
  constexpr int kThreads = 4, kPerThread = 250;
  std::vector<std::vector<int>> per_thread(kThreads);
  int total = 0;
  trio::run([&]() -> Task<> {
    TrioToken token = trio::lowlevel::current_trio_token();
    TaskRecord* me = &trio::lowlevel::current_task();
    std::vector<std::thread> producers;
    for (int t = 0; t < kThreads; ++t)
      producers.emplace_back([&, t, token, me] {
        for (int i = 0; i < kPerThread; ++i)
          token.run_sync_soon([&, t, i, me] {
            per_thread[t].push_back(i);
            if (++total == kThreads * kPerThread) trio::lowlevel::reschedule(*me);
          });
      });
    co_await block_until_rescheduled();
    for (std::thread& p : producers) p.join();
  });
  for (int t = 0; t < kThreads; ++t) {
    ASSERT_EQ(per_thread[t].size(), static_cast<size_t>(kPerThread));
    for (int i = 0; i < kPerThread; ++i) EXPECT_EQ(per_thread[t][i], i);
  }
}

TEST(TrioToken, EveryAcceptedCallbackRunsBeforeRunReturnsAndLaterOnesAreRefused) {
  // A producer keeps posting while the run ends: each post either runs before run() returns or
  // raises RunFinishedError; none is lost or run late.
  int ran = 0;
  long accepted = 0;
  bool saw_run_finished = false;
  std::thread producer;
  trio::run([&]() -> Task<> {
    TrioToken token = trio::lowlevel::current_trio_token();
    TaskRecord* me = &trio::lowlevel::current_task();
    producer = std::thread([&, token, me] {
      token.run_sync_soon([me] { trio::lowlevel::reschedule(*me); });
      for (long attempts = 0; attempts < 100'000'000; ++attempts) {
        try {
          token.run_sync_soon([](void* p) { ++*static_cast<int*>(p); }, &ran);
          ++accepted;
        } catch (const trio::RunFinishedError&) {
          saw_run_finished = true;
          return;
        } catch (const trio::RuntimeError&) {
          std::this_thread::yield();  // the queue is full: let the run drain it
        }
      }
    });
    co_await block_until_rescheduled();  // the producer is running; now end the run
  });
  const int ran_when_run_returned = ran;
  producer.join();
  EXPECT_TRUE(saw_run_finished);
  EXPECT_EQ(ran_when_run_returned, accepted);
  EXPECT_EQ(ran, ran_when_run_returned);
}

TEST(TrioToken, AfterTheRunPostsRaiseRunFinishedErrorAndTryNeverThrows) {
  std::optional<TrioToken> token;
  trio::run([&]() -> Task<> {
    token = trio::lowlevel::current_trio_token();
    co_return;
  });
  EXPECT_THROW(token->run_sync_soon([](void*) {}, nullptr), trio::RunFinishedError);
  EXPECT_THROW(token->run_sync_soon([] {}), trio::RunFinishedError);  // and frees the callable
  EXPECT_FALSE(token->try_run_sync_soon([](void*) {}, nullptr));
  // From another thread too.
  bool accepted = true;
  std::thread other([&] { accepted = token->try_run_sync_soon([](void*) {}, nullptr); });
  other.join();
  EXPECT_FALSE(accepted);
}

TEST(TrioToken, AFullQueueIsRuntimeErrorAndTryReturnsFalse) {
  int ran = 0;
  trio::run([&]() -> Task<> {
    TrioToken token = trio::lowlevel::current_trio_token();
    auto count = [](void* p) { ++*static_cast<int*>(p); };
    for (size_t i = 0; i < trio::internal::kRunSyncSoonCapacity; ++i)
      EXPECT_TRUE(token.try_run_sync_soon(count, &ran));
    EXPECT_EQ(trio::lowlevel::current_statistics().run_sync_soon_queue_size,
              trio::internal::kRunSyncSoonCapacity);
    EXPECT_FALSE(token.try_run_sync_soon(count, &ran));
    try {
      token.run_sync_soon(count, &ran);
      ADD_FAILURE() << "a full queue accepted a callback";
    } catch (const trio::RunFinishedError&) {
      ADD_FAILURE() << "the run is not finished";
    } catch (const trio::RuntimeError&) {
    }
    co_await trio::checkpoint();  // drains the queue
    EXPECT_EQ(trio::lowlevel::current_statistics().run_sync_soon_queue_size, 0u);
    EXPECT_TRUE(token.try_run_sync_soon(count, &ran));
  });
  EXPECT_EQ(ran, static_cast<int>(trio::internal::kRunSyncSoonCapacity) + 1);
}

TEST(TrioToken, QueueSizeShowsInStatistics) {
  trio::run([&]() -> Task<> {
    EXPECT_EQ(trio::lowlevel::current_statistics().run_sync_soon_queue_size, 0u);
    TrioToken token = trio::lowlevel::current_trio_token();
    token.run_sync_soon([] {});
    token.run_sync_soon([] {});
    EXPECT_EQ(trio::lowlevel::current_statistics().run_sync_soon_queue_size, 2u);
    co_await trio::checkpoint();
    EXPECT_EQ(trio::lowlevel::current_statistics().run_sync_soon_queue_size, 0u);
  });
}

// Re-posts itself until told to stop.
struct Naughty {
  TrioToken token;
  bool stop = false;
  long runs = 0;
  static void callback(void* p) {
    auto* self = static_cast<Naughty*>(p);
    ++self->runs;
    if (!self->stop) self->token.run_sync_soon(&Naughty::callback, self);
  }
};

TEST(TrioToken, CallbacksThatRepostThemselvesDoNotStarveTasks) {
  // Regression: the loop's drain used to run until the queue was empty, so a callback that
  // re-posts itself kept the run's thread in the drain forever (Trio's
  // test_TrioToken_run_sync_soon_starvation_resistance).
  std::optional<Naughty> naughty;
  long runs_when_stopped = 0;
  trio::run([&]() -> Task<> {
    naughty.emplace(Naughty{trio::lowlevel::current_trio_token()});
    for (int i = 0; i < 10; ++i) naughty->token.run_sync_soon(&Naughty::callback, &*naughty);
    for (int i = 0; i < 100; ++i) co_await trio::checkpoint();  // must not starve
    naughty->stop = true;
    runs_when_stopped = naughty->runs;
  });
  // Each pass of the loop runs only what was queued when it started: ten per pass.
  EXPECT_GE(runs_when_stopped, 10 * 100);
  EXPECT_LE(runs_when_stopped, 10 * 102);
}

TEST(TrioToken, ACallbackThatThrowsIsATrioInternalError) {
  try {
    trio::run([]() -> Task<> {
      trio::lowlevel::current_trio_token().run_sync_soon(
          [] { throw std::runtime_error("callback boom"); });
      co_await trio::sleep_forever();
    });
    ADD_FAILURE() << "no error";
  } catch (const trio::TrioInternalError& e) {
    EXPECT_TRUE(trio::holds<std::runtime_error>(e.cause()));
    EXPECT_EQ(trio::describe(e.cause()), "callback boom");
  }
  EXPECT_EQ(trio::lowlevel::live_frames(), 0);
}

TEST(TrioToken, OtherThreadsAreNotInTheRun) {
  trio::run([]() -> Task<> {
    bool in_run = true, token_refused = false;
    std::thread other([&] {
      in_run = trio::lowlevel::in_trio_run();
      try {
        trio::lowlevel::current_trio_token();
      } catch (const trio::RuntimeError&) {
        token_refused = true;
      }
    });
    other.join();
    EXPECT_FALSE(in_run);
    EXPECT_TRUE(token_refused);
    co_return;
  });
}

}  // namespace
