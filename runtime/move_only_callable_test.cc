// SPDX-License-Identifier: Apache-2.0 OR MIT
// Every place the runtime stores a callable takes a move-only one (issue 15): each test passes a
// lambda that owns a std::unique_ptr — which std::function would refuse to hold — and checks
// that it ran and saw its pointee. The places: TrioToken::run_sync_soon (from the run's thread
// and from another thread), the main task of trio::run, Nursery::start_soon and start,
// and spawn_system_task.
#include <gtest/gtest.h>

#include <algorithm>
#include <memory>
#include <thread>
#include <utility>
#include <vector>

#include "runtime/trio.h"

using trio::Nursery;
using trio::Task;
using trio::TaskStatus;

namespace {

// Blocks the current task until something calls reschedule() on it.
auto block_until_rescheduled() {
  return trio::lowlevel::wait_task_rescheduled(
      [](trio::lowlevel::RaiseCancel) { return trio::lowlevel::Abort::kFailed; },
      "test: until rescheduled");
}

TEST(MoveOnlyCallable, RunSyncSoonFromTheRunThread) {
  std::vector<int> seen;
  trio::run([&]() -> Task<> {
    auto owned = std::make_unique<int>(7);
    trio::lowlevel::current_trio_token().run_sync_soon(
        [&seen, owned = std::move(owned)] { seen.push_back(*owned); });
    co_await trio::checkpoint();
  });
  EXPECT_EQ(seen, std::vector<int>{7});
}

TEST(MoveOnlyCallable, RunSyncSoonFromAnotherThread) {
  std::vector<int> seen;
  trio::run([&]() -> Task<> {
    trio::lowlevel::TrioToken token = trio::lowlevel::current_trio_token();
    trio::lowlevel::TaskRecord* me = &trio::lowlevel::current_task();
    std::thread producer([&seen, token, me] {
      auto owned = std::make_unique<int>(42);
      token.run_sync_soon([&seen, me, owned = std::move(owned)] {
        seen.push_back(*owned);
        trio::lowlevel::reschedule(*me);
      });
    });
    co_await block_until_rescheduled();
    producer.join();
  });
  EXPECT_EQ(seen, std::vector<int>{42});
}

TEST(MoveOnlyCallable, MainTask) {
  auto main = [owned = std::make_unique<int>(1)]() -> Task<int> { co_return *owned; };
  EXPECT_EQ(trio::run(std::move(main)), 1);
}

TEST(MoveOnlyCallable, StartSoon) {
  std::vector<int> seen;
  trio::run([&]() -> Task<> {
    co_await trio::open_nursery([&](Nursery& n) -> Task<> {
      n.start_soon([&seen, p = std::make_unique<int>(2)]() -> Task<> {
        seen.push_back(*p);
        co_return;
      });
      co_return;
    });
  });
  EXPECT_EQ(seen, std::vector<int>{2});
}

TEST(MoveOnlyCallable, Start) {
  std::vector<int> seen;
  trio::run([&]() -> Task<> {
    co_await trio::open_nursery([&](Nursery& n) -> Task<> {
      // Named, not a temporary inside the co_await: g++ 12 destroys the captures of a closure
      // temporary in a co_await expression twice (docs/compiler-pitfalls.md, entry 2).
      auto child = [&seen, p = std::make_unique<int>(3)](TaskStatus<>& status) -> Task<> {
        seen.push_back(*p);
        status.started();
        co_return;
      };
      co_await n.start(std::move(child));
    });
  });
  EXPECT_EQ(seen, std::vector<int>{3});
}

TEST(MoveOnlyCallable, SystemTask) {
  std::vector<int> seen;
  trio::run([&]() -> Task<> {
    trio::lowlevel::spawn_system_task([&seen, p = std::make_unique<int>(4)]() -> Task<> {
      seen.push_back(*p);
      co_return;
    });
    co_await trio::checkpoint();
  });
  EXPECT_EQ(seen, std::vector<int>{4});
}

}  // namespace
