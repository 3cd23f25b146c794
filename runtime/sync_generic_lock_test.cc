// SPDX-License-Identifier: Apache-2.0 OR MIT
// Trio's generic lock-like tests (test_sync.py: test_generic_lock_exclusion,
// test_generic_lock_fifo_fairness, test_generic_lock_acquire_nowait_blocks_acquire), run over
// Lock, StrictFIFOLock, Semaphore(1), CapacityLimiter(1) and Trio's three locks made of memory
// channels, each under several seeds of the default (coin-flip) scheduler: only one task is ever
// in the critical section; after the first round, waiters take the lock in the same order every
// round (FIFO hand-off); and a lock taken with acquire_nowait blocks a later acquire until it is
// released. Virtual time (MockClock, autojump threshold 0).
#include <gtest/gtest.h>

#include <functional>
#include <memory>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "runtime/channel.h"
#include "runtime/sync.h"
#include "runtime/testing/sim_test_support.h"
#include "runtime/trio.h"
#include "simclock/mock_clock.h"

using namespace std::chrono_literals;
using trio::Task;
using trio::lowlevel::wait_all_tasks_blocked;

using namespace sim_test;

namespace {}  // namespace

// ---- generic lock-like tests -------------------------------------------------------------------

namespace {

struct LockLike {
  virtual ~LockLike() = default;
  virtual void acquire_nowait() = 0;
  virtual Task<> acquire() = 0;
  virtual void release() = 0;
};

template <class L>
struct Native final : LockLike {
  template <class... A>
  explicit Native(A... a) : l(a...) {}
  void acquire_nowait() override { l.acquire_nowait(); }
  Task<> acquire() override { co_await l.acquire(); }
  void release() override { l.release(); }
  L l;
};

// Trio's three ways to make a lock of a channel.
struct ChannelLock1 final : LockLike {  // holding = a value in the buffer
  explicit ChannelLock1(int capacity) {
    trio::MemorySendChannel<int> s_;
    trio::MemoryReceiveChannel<int> r_;
    std::tie(s_, r_) = trio::open_memory_channel<int>(capacity);
    s = std::move(s_);
    r = std::move(r_);
    for (int i = 0; i < capacity - 1; ++i) s.send_nowait(0);
  }
  void acquire_nowait() override { s.send_nowait(0); }
  Task<> acquire() override { co_await s.send(0); }
  void release() override { r.receive_nowait(); }
  trio::MemorySendChannel<int> s;
  trio::MemoryReceiveChannel<int> r;
};

struct ChannelLock2 final : LockLike {  // the lock is a token in the buffer
  ChannelLock2() {
    trio::MemorySendChannel<int> s_;
    trio::MemoryReceiveChannel<int> r_;
    std::tie(s_, r_) = trio::open_memory_channel<int>(10);
    s = std::move(s_);
    r = std::move(r_);
    s.send_nowait(0);
  }
  void acquire_nowait() override { r.receive_nowait(); }
  Task<> acquire() override { co_await r.receive(); }
  void release() override { s.send_nowait(0); }
  trio::MemorySendChannel<int> s;
  trio::MemoryReceiveChannel<int> r;
};

struct ChannelLock3 final : LockLike {  // waiters block in a rendezvous send
  ChannelLock3() {
    trio::MemorySendChannel<int> s_;
    trio::MemoryReceiveChannel<int> r_;
    std::tie(s_, r_) = trio::open_memory_channel<int>(0);
    s = std::move(s_);
    r = std::move(r_);
  }
  void acquire_nowait() override {
    EXPECT_FALSE(acquired);
    acquired = true;
  }
  Task<> acquire() override {
    if (acquired) {
      co_await s.send(0);
    } else {
      acquired = true;
      co_await trio::checkpoint();
    }
  }
  void release() override {
    try {
      r.receive_nowait();
    } catch (const trio::WouldBlock&) {
      EXPECT_TRUE(acquired);
      acquired = false;
    }
  }
  trio::MemorySendChannel<int> s;
  trio::MemoryReceiveChannel<int> r;
  bool acquired = false;
};

struct Factory {
  std::string name;
  std::function<std::unique_ptr<LockLike>()> make;
};

const Factory kFactories[] = {
    {"CapacityLimiter1", [] { return std::make_unique<Native<trio::CapacityLimiter>>(1); }},
    {"Semaphore1", [] { return std::make_unique<Native<trio::Semaphore>>(1); }},
    {"Lock", [] { return std::make_unique<Native<trio::Lock>>(); }},
    {"StrictFIFOLock", [] { return std::make_unique<Native<trio::StrictFIFOLock>>(); }},
    {"ChannelLock1_10", [] { return std::make_unique<ChannelLock1>(10); }},
    {"ChannelLock1_1", [] { return std::make_unique<ChannelLock1>(1); }},
    {"ChannelLock2", [] { return std::make_unique<ChannelLock2>(); }},
    {"ChannelLock3", [] { return std::make_unique<ChannelLock3>(); }},
};

class GenericLock : public ::testing::TestWithParam<Factory> {};

}  // namespace

// Workers take the lock and yield inside; only one is ever in the critical section.
TEST_P(GenericLock, MutualExclusion) {
  for (uint64_t seed : {1, 2, 3}) {
    sim_run(
        [&]() -> Task<> {
          std::unique_ptr<LockLike> lock = GetParam().make();
          bool in_critical_section = false;
          int acquires = 0;
          co_await trio::open_nursery([&](trio::Nursery& n) -> Task<> {
            for (int w = 0; w < 5; ++w) {
              n.start_soon([&]() -> Task<> {
                for (int i = 0; i < 10; ++i) {
                  co_await lock->acquire();
                  ++acquires;
                  EXPECT_FALSE(in_critical_section);
                  in_critical_section = true;
                  co_await trio::checkpoint();
                  co_await trio::checkpoint();
                  EXPECT_TRUE(in_critical_section);
                  in_critical_section = false;
                  lock->release();
                }
              });
            }
            co_return;
          });
          EXPECT_EQ(acquires, 50);
        },
        seed);
  }
}

// Tasks queue on the lock; after the first round they keep repeating the same order.
TEST_P(GenericLock, FifoFairnessAcrossRounds) {
  for (uint64_t seed : {1, 2, 3, 4}) {
    sim_run(
        [&]() -> Task<> {
          std::unique_ptr<LockLike> lock = GetParam().make();
          std::vector<int> initial_order, record;
          co_await trio::open_nursery([&](trio::Nursery& n) -> Task<> {
            for (int name = 1; name <= 3; ++name) {
              n.start_soon(
                  [&](int me) -> Task<> {
                    initial_order.push_back(me);
                    for (int i = 0; i < 5; ++i) {
                      co_await lock->acquire();
                      record.push_back(me);
                      lock->release();
                    }
                  },
                  name);
            }
            co_return;
          });
          EXPECT_EQ(record.size(), 15u);
          if (record.size() != 15u) co_return;
          for (size_t i = 0; i < 5; ++i)
            EXPECT_EQ(std::vector<int>(record.begin() + 3 * i, record.begin() + 3 * i + 3),
                      initial_order);
        },
        seed);
  }
}

TEST_P(GenericLock, AcquireNowaitBlocksALaterAcquire) {
  sim_run([&]() -> Task<> {
    std::unique_ptr<LockLike> lock = GetParam().make();
    std::vector<std::string> record;
    co_await trio::open_nursery([&](trio::Nursery& n) -> Task<> {
      lock->acquire_nowait();
      n.start_soon([&]() -> Task<> {
        record.push_back("started");
        co_await lock->acquire();
        lock->release();
        record.push_back("finished");
      });
      co_await wait_all_tasks_blocked();
      EXPECT_EQ(record, std::vector<std::string>{"started"});
      lock->release();
    });
    EXPECT_EQ(record, (std::vector<std::string>{"started", "finished"}));
  });
}

INSTANTIATE_TEST_SUITE_P(AllLockLikes, GenericLock, ::testing::ValuesIn(kFactories),
                         [](const ::testing::TestParamInfo<Factory>& info) {
                           return info.param.name;
                         });
