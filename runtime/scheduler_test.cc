// SPDX-License-Identifier: Apache-2.0 OR MIT
// The scheduler (spec §2.9, Trio's test_scheduler_determinism.py and the batch rules of
// _run.py): a seed fixes the whole trace and different seeds give different traces; a
// coin-flip batch runs in FIFO or LIFO order and nothing else; kFifo / kLifo / kShuffle do what
// they say; every task runnable at the start of a batch runs exactly once in it, so two busy
// tasks never run more than twice in a row, and wake-ups made during a batch wait for the next
// one. Traces are recorded by the tasks themselves; batch boundaries by an instrument's
// before_io_wait hook (called once per loop iteration).
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "runtime/trio.h"

using trio::SchedulingPolicy;
using trio::Task;

namespace {

constexpr int kBatchMark = -1;

// Marks the start of each batch in a shared trace.
struct BatchMarker final : trio::Instrument {
  std::vector<int>* trace;
  explicit BatchMarker(std::vector<int>* t) : trace(t) {}
  void before_io_wait(trio::Duration) override { trace->push_back(kBatchMark); }
};

trio::RunOptions options_for(uint64_t seed, SchedulingPolicy policy = SchedulingPolicy::kCoinFlip) {
  return trio::RunOptions{.seed = seed, .scheduling = policy};
}

// `tasks` tasks, each appending its index to the trace at every step, `steps` times.
std::vector<int> busy_trace(trio::RunOptions options, int tasks, int steps,
                            bool mark_batches = false) {
  std::vector<int> trace;
  BatchMarker marker(&trace);
  if (mark_batches) options.instruments.push_back(&marker);
  trio::run(options, [&]() -> Task<> {
    co_await trio::open_nursery([&](trio::Nursery& n) -> Task<> {
      for (int i = 0; i < tasks; ++i)
        n.start_soon([&trace, i, steps]() -> Task<> {
          for (int s = 0; s < steps; ++s) {
            trace.push_back(i);
            co_await trio::checkpoint();
          }
        });
      co_return;
    });
  });
  EXPECT_EQ(trio::lowlevel::live_frames(), 0);
  return trace;
}

// The order in which `tasks` tasks spawned together take their first step.
std::vector<int> first_batch_order(trio::RunOptions options, int tasks) {
  std::vector<int> trace = busy_trace(options, tasks, 1);
  return std::vector<int>(trace.begin(), trace.begin() + tasks);
}

std::vector<int> iota(int n, bool reversed = false) {
  std::vector<int> v(n);
  for (int i = 0; i < n; ++i) v[i] = reversed ? n - 1 - i : i;
  return v;
}

// Splits a marked trace into its batches (empty batches dropped).
std::vector<std::vector<int>> batches_of(const std::vector<int>& trace) {
  std::vector<std::vector<int>> out(1);
  for (int x : trace) {
    if (x == kBatchMark) {
      if (!out.back().empty()) out.emplace_back();
    } else {
      out.back().push_back(x);
    }
  }
  if (out.back().empty()) out.pop_back();
  return out;
}

size_t longest_run(const std::vector<int>& trace) {
  size_t best = 0, run = 0;
  for (size_t i = 0; i < trace.size(); ++i) {
    run = (i > 0 && trace[i] == trace[i - 1]) ? run + 1 : 1;
    best = std::max(best, run);
  }
  return best;
}

TEST(Scheduler, SameSeedGivesAnIdenticalTrace) {
  for (uint64_t seed : {0u, 1u, 12345u}) {
    std::vector<int> a = busy_trace(options_for(seed), 5, 50);
    std::vector<int> b = busy_trace(options_for(seed), 5, 50);
    ASSERT_EQ(a.size(), 250u);
    EXPECT_EQ(a, b) << "seed " << seed;
  }
}

TEST(Scheduler, SameSeedGivesAnIdenticalTraceUnderShuffle) {
  EXPECT_EQ(busy_trace(options_for(99, SchedulingPolicy::kShuffle), 5, 50),
            busy_trace(options_for(99, SchedulingPolicy::kShuffle), 5, 50));
}

TEST(Scheduler, DifferentSeedsGiveDifferentTraces) {
  std::set<std::vector<int>> traces;
  for (uint64_t seed = 0; seed < 10; ++seed) traces.insert(busy_trace(options_for(seed), 5, 50));
  // Trio gets 10 distinct traces out of 10 runs; a coin flip per batch over 50 batches makes a
  // collision astronomically unlikely, but the property claimed is only "not all the same".
  EXPECT_GE(traces.size(), 2u);
}

TEST(Scheduler, CoinFlipBatchesRunInFifoOrLifoOrderOnly) {
  std::map<std::vector<int>, int> seen;
  for (uint64_t seed = 0; seed < 400; ++seed) ++seen[first_batch_order(options_for(seed), 5)];
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_TRUE(seen.count(iota(5)));
  EXPECT_TRUE(seen.count(iota(5, true)));
  // A fair coin: both orders are common (Trio measured 198 / 202).
  EXPECT_GT(seen[iota(5)], 100);
  EXPECT_GT(seen[iota(5, true)], 100);
}

TEST(Scheduler, FifoPolicyRunsEveryBatchInTheOrderTasksBecameRunnable) {
  for (uint64_t seed = 0; seed < 20; ++seed) {
    std::vector<int> trace = busy_trace(options_for(seed, SchedulingPolicy::kFifo), 4, 10);
    std::vector<int> want;
    for (int round = 0; round < 10; ++round)
      for (int i = 0; i < 4; ++i) want.push_back(i);
    EXPECT_EQ(trace, want) << "seed " << seed;
  }
}

TEST(Scheduler, LifoPolicyReversesEveryBatch) {
  // Each batch is reversed, and the tasks re-enter the run queue in the order they ran, so the
  // rounds alternate: 3210, 0123, 3210, ...
  std::vector<int> trace = busy_trace(options_for(5, SchedulingPolicy::kLifo), 4, 10);
  std::vector<int> want;
  for (int round = 0; round < 10; ++round) {
    std::vector<int> r = iota(4, round % 2 == 0);
    want.insert(want.end(), r.begin(), r.end());
  }
  EXPECT_EQ(trace, want);
}

TEST(Scheduler, ShufflePolicyGivesManyPermutationsOfEachBatch) {
  std::set<std::vector<int>> orders;
  for (uint64_t seed = 0; seed < 200; ++seed) {
    std::vector<int> order = first_batch_order(options_for(seed, SchedulingPolicy::kShuffle), 5);
    std::vector<int> sorted = order;
    std::sort(sorted.begin(), sorted.end());
    ASSERT_EQ(sorted, iota(5));  // a permutation: each task exactly once
    orders.insert(order);
  }
  // 200 draws from 120 permutations: ~100 distinct expected; FIFO/LIFO alone would give 2.
  EXPECT_GT(orders.size(), 50u);
}

TEST(Scheduler, EveryRunnableTaskRunsExactlyOncePerBatch) {
  for (SchedulingPolicy policy : {SchedulingPolicy::kCoinFlip, SchedulingPolicy::kShuffle,
                                  SchedulingPolicy::kFifo, SchedulingPolicy::kLifo}) {
    std::vector<int> trace = busy_trace(options_for(3, policy), 3, 20, /*mark_batches=*/true);
    std::vector<std::vector<int>> batches = batches_of(trace);
    ASSERT_EQ(batches.size(), 20u);
    for (const auto& batch : batches) {
      std::vector<int> sorted = batch;
      std::sort(sorted.begin(), sorted.end());
      EXPECT_EQ(sorted, iota(3));
    }
  }
}

TEST(Scheduler, TwoBusyTasksNeverRunMoreThanTwiceInARow) {
  size_t worst = 0;
  for (uint64_t seed = 0; seed < 20; ++seed) {
    for (SchedulingPolicy policy : {SchedulingPolicy::kCoinFlip, SchedulingPolicy::kShuffle}) {
      std::vector<int> trace = busy_trace(options_for(seed, policy), 2, 2000);
      ASSERT_EQ(trace.size(), 4000u);
      const size_t run = longest_run(trace);
      EXPECT_LE(run, 2u) << "seed " << seed;
      worst = std::max(worst, run);
    }
  }
  EXPECT_EQ(worst, 2u);  // ABBA does happen: the bound is tight
}

TEST(Scheduler, AWakeupDuringABatchWaitsForTheNextBatch) {
  for (SchedulingPolicy policy : {SchedulingPolicy::kFifo, SchedulingPolicy::kLifo}) {
    std::vector<int> trace;
    BatchMarker marker(&trace);
    trio::lowlevel::TaskRecord* sleeper = nullptr;
    constexpr int kSleeperBlocks = 10, kSleeperWoke = 11, kWakerWakes = 20, kWakerAgain = 21;
    trio::RunOptions options = options_for(1, policy);
    options.instruments = {&marker};
    trio::run(options, [&]() -> Task<> {
      co_await trio::open_nursery([&](trio::Nursery& n) -> Task<> {
        n.start_soon([&]() -> Task<> {
          sleeper = &trio::lowlevel::current_task();
          trace.push_back(kSleeperBlocks);
          co_await trio::lowlevel::wait_task_rescheduled(
              [](trio::lowlevel::RaiseCancel) { return trio::lowlevel::Abort::kFailed; });
          trace.push_back(kSleeperWoke);
        });
        n.start_soon([&]() -> Task<> {
          // Under kLifo this task runs first in its batch: let the sleeper block first.
          while (!sleeper || trio::lowlevel::waiting_on(*sleeper).empty())
            co_await trio::checkpoint();
          trace.push_back(kWakerWakes);
          trio::lowlevel::reschedule(*sleeper);
          co_await trio::checkpoint();
          trace.push_back(kWakerAgain);
        });
        co_return;
      });
    });
    // The wake-up and the woken task's step are in different batches.
    std::vector<std::vector<int>> batches = batches_of(trace);
    size_t woke_in = 0, woken_in = 0;
    for (size_t b = 0; b < batches.size(); ++b) {
      for (int x : batches[b]) {
        if (x == kWakerWakes) woke_in = b;
        if (x == kSleeperWoke) woken_in = b;
      }
    }
    EXPECT_EQ(woken_in, woke_in + 1);
    // ...where it runs alongside the waker's next step.
    std::vector<int> next = batches[woken_in];
    std::sort(next.begin(), next.end());
    EXPECT_EQ(next, (std::vector<int>{kSleeperWoke, kWakerAgain}));
  }
}

TEST(Scheduler, ATaskThatYieldsJoinsTheNextBatchNotTheCurrentOne) {
  // One task alone: every checkpoint is a new batch (a new loop iteration).
  std::vector<int> trace = busy_trace(options_for(1, SchedulingPolicy::kFifo), 1, 5, true);
  EXPECT_EQ(batches_of(trace).size(), 5u);
}

}  // namespace
