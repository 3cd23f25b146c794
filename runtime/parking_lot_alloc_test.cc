// SPDX-License-Identifier: Apache-2.0 OR MIT
// ParkingLot::unpark / repark of up to ParkingLot::kInlineTasks tasks allocate nothing: their
// result is an absl::InlinedVector (it was a std::vector, one malloc per call — Condition's
// notify() pays a repark on every call). This binary counts global operator new calls around
// the calls under test.
#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <new>

#include "runtime/testing/sim_test_support.h"
#include "runtime/trio.h"

namespace {
std::atomic<long> g_allocations{0};
}  // namespace

void* operator new(size_t n) {
  g_allocations.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(n ? n : 1)) return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, size_t) noexcept { std::free(p); }

namespace {

using trio::Task;
using trio::lowlevel::ParkingLot;

TEST(ParkingLot, UnparkAndReparkOfAFewTasksAllocateNothing) {
  constexpr size_t kTasks = ParkingLot::kInlineTasks;
  long unpark_allocations = -1;
  long repark_allocations = -1;
  size_t woken = 0;
  size_t moved = 0;
  sim_test::sim_run([&]() -> Task<> {
    ParkingLot lot;
    ParkingLot other;
    co_await trio::open_nursery([&](trio::Nursery& nursery) -> Task<> {
      for (size_t i = 0; i < kTasks; ++i)
        nursery.start_soon([&]() -> Task<> { co_await lot.park(); });
      co_await trio::lowlevel::wait_all_tasks_blocked();
      long before = g_allocations.load();
      moved = other.size() + lot.repark(other, kTasks).size();
      repark_allocations = g_allocations.load() - before;
      before = g_allocations.load();
      woken = other.unpark(kTasks).size();
      unpark_allocations = g_allocations.load() - before;
    });
  });
  EXPECT_EQ(moved, kTasks);
  EXPECT_EQ(woken, kTasks);
  EXPECT_EQ(repark_allocations, 0);
  EXPECT_EQ(unpark_allocations, 0);
}

}  // namespace
