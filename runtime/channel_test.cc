// SPDX-License-Identifier: Apache-2.0 OR MIT
// Memory channels, part 1 (spec §1.8, invariants 14–15; Trio's test_channel.py): argument
// checks, send/receive with and without blocking, the checkpoint rule for every operation
// (cancel_points / schedule_points counters), clones with many producers and consumers,
// unbounded buffers, statistics including peak_buffer_used, fairness (a waiting receiver owns
// the next value, a waiting sender the next free slot), rendezvous, move-only values, and the
// receive_or_end loop. Closing is in channel_close_test.cc. Virtual time (MockClock, autojump 0).
#include "runtime/channel.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "runtime/testing/sim_test_support.h"
#include "runtime/trio.h"
#include "simclock/mock_clock.h"

using namespace std::chrono_literals;
using trio::Task;
using trio::lowlevel::wait_all_tasks_blocked;

using namespace sim_test;

namespace {}  // namespace

// Trio's TypeError for a float buffer size is a compile error.
template <class F>
concept OpensWith = requires(F f) {
  trio::open_memory_channel<int>(f);
};
static_assert(OpensWith<int> && OpensWith<int64_t> && !OpensWith<double> && !OpensWith<float>);

TEST(MemoryChannel, RejectsANegativeBufferSize) {
  try {
    trio::open_memory_channel<int>(-1);
    ADD_FAILURE() << "no error";
  } catch (const trio::ValueError& e) {
    EXPECT_STREQ(e.what(), "max_buffer_size must be >= 0");
  }
}

TEST(MemoryChannel, SendReceiveCloseAndTheirCheckpoints) {
  sim_run([]() -> Task<> {
    trio::MemorySendChannel<std::string> s;
    trio::MemoryReceiveChannel<std::string> r;
    std::tie(s, r) = trio::open_memory_channel<std::string>(2);
    EXPECT_NO_CHECKPOINT(s.send_nowait("1"));
    EXPECT_CHECKPOINT(co_await s.send("2"));
    EXPECT_THROW(s.send_nowait("3"), trio::WouldBlock);
    std::string got;
    EXPECT_CHECKPOINT(got = co_await r.receive());
    EXPECT_EQ(got, "1");
    EXPECT_NO_CHECKPOINT(got = r.receive_nowait());
    EXPECT_EQ(got, "2");
    EXPECT_THROW(r.receive_nowait(), trio::WouldBlock);

    s.send_nowait("last");
    EXPECT_CHECKPOINT(co_await s.aclose());
    EXPECT_TRUE(s.is_closed());
    EXPECT_THROW(co_await s.send("too late"), trio::ClosedResourceError);
    EXPECT_THROW(s.send_nowait("too late"), trio::ClosedResourceError);
    EXPECT_THROW((void)s.clone(), trio::ClosedResourceError);
    co_await s.aclose();  // idempotent

    EXPECT_EQ(r.receive_nowait(), "last");
    EXPECT_THROW(co_await r.receive(), trio::EndOfChannel);
    EXPECT_THROW(r.receive_nowait(), trio::EndOfChannel);
    co_await r.aclose();
    EXPECT_THROW(co_await r.receive(), trio::ClosedResourceError);
    EXPECT_THROW(r.receive_nowait(), trio::ClosedResourceError);
    co_await r.aclose();
  });
}

TEST(MemoryChannel, FailingOperationsExecuteOnlyTheCancelPoint) {
  sim_run([]() -> Task<> {
    trio::MemorySendChannel<int> s;
    trio::MemoryReceiveChannel<int> r;
    std::tie(s, r) = trio::open_memory_channel<int>(1);
    s.close();
    Points before = points();
    EXPECT_THROW(co_await s.send(1), trio::ClosedResourceError);
    EXPECT_THROW(co_await r.receive(), trio::EndOfChannel);
    EXPECT_EQ(points().schedule, before.schedule);
    EXPECT_EQ(points().cancel, before.cancel + 2);
  });
}

TEST(MemoryChannel, SyncCallsAreNeverCheckpoints) {
  sim_run([]() -> Task<> {
    trio::MemorySendChannel<int> s;
    trio::MemoryReceiveChannel<int> r;
    std::tie(s, r) = trio::open_memory_channel<int>(1);
    EXPECT_NO_CHECKPOINT({
      trio::MemorySendChannel<int> s2 = s.clone();
      trio::MemoryReceiveChannel<int> r2 = r.clone();
      s.send_nowait(1);
      (void)s.statistics();
      EXPECT_EQ(r2.receive_nowait(), 1);
      s2.close();
      r2.close();
      s.close();
      r.close();
    });
    co_return;
  });
}

// Trio #553: a receive cancelled by a timeout does not break a later send.
TEST(MemoryChannel, ATimedOutReceiveLeavesTheChannelUsable) {
  sim_run([]() -> Task<> {
    trio::MemorySendChannel<std::string> s;
    trio::MemoryReceiveChannel<std::string> r;
    std::tie(s, r) = trio::open_memory_channel<std::string>(1);
    const bool moved_on =
        co_await trio::move_on_after(10s, [&]() -> Task<> { co_await r.receive(); });
    EXPECT_TRUE(moved_on);
    EXPECT_EQ(s.statistics().tasks_waiting_receive, 0u);
    co_await s.send("Test for PR #553");
    EXPECT_EQ(r.receive_nowait(), "Test for PR #553");
  });
}

TEST(MemoryChannel, ManyProducersWithClonesEndTheStreamWhenAllClose) {
  sim_run([]() -> Task<> {
    trio::MemorySendChannel<int> send_channel;
    trio::MemoryReceiveChannel<int> receive_channel;
    std::tie(send_channel, receive_channel) = trio::open_memory_channel<int>(0);
    std::vector<int> got;
    co_await trio::open_nursery([&](trio::Nursery& n) -> Task<> {
      for (int i = 0; i < 10; ++i) {
        // Each producer owns a clone, closed when the producer exits.
        n.start_soon(
            [](trio::MemorySendChannel<int> tx, int i) -> Task<> {
              for (int j = 3 * i; j < 3 * (i + 1); ++j) co_await tx.send(j);
            },
            send_channel.clone(), i);
      }
      send_channel.close();
      while (std::optional<int> v = co_await receive_channel.receive_or_end()) got.push_back(*v);
    });
    std::sort(got.begin(), got.end());
    std::vector<int> expected(30);
    for (int i = 0; i < 30; ++i) expected[i] = i;
    EXPECT_EQ(got, expected);
  });
}

TEST(MemoryChannel, ManyConsumersShareTheValuesFairly) {
  sim_run([]() -> Task<> {
    std::set<int> successful_receivers;
    std::vector<int> received;
    co_await trio::open_nursery([&](trio::Nursery& n) -> Task<> {
      trio::MemorySendChannel<int> send_channel;
      trio::MemoryReceiveChannel<int> receive_channel;
      std::tie(send_channel, receive_channel) = trio::open_memory_channel<int>(1);
      for (int i = 0; i < 5; ++i) {
        n.start_soon(
            [&](trio::MemoryReceiveChannel<int> rx, int i) -> Task<> {
              while (std::optional<int> v = co_await rx.receive_or_end()) {
                successful_receivers.insert(i);
                received.push_back(*v);
              }
            },
            receive_channel.clone(), i);
      }
      receive_channel.close();
      co_await wait_all_tasks_blocked();
      for (int i = 0; i < 10; ++i) co_await send_channel.send(i);
      send_channel.close();
    });
    EXPECT_EQ(successful_receivers, (std::set<int>{0, 1, 2, 3, 4}));
    std::sort(received.begin(), received.end());
    EXPECT_EQ(received, (std::vector<int>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}));
  });
}

TEST(MemoryChannel, AnUnboundedBufferNeverBlocksASender) {
  sim_run([]() -> Task<> {
    trio::MemorySendChannel<int> send;
    trio::MemoryReceiveChannel<int> receive;
    std::tie(send, receive) = trio::open_memory_channel<int>(trio::kUnbounded);
    for (int i = 0; i < 1000; ++i) send.send_nowait(i);
    EXPECT_EQ(send.statistics().max_buffer_size, trio::kUnbounded);
    send.close();
    std::vector<int> got;
    while (std::optional<int> v = co_await receive.receive_or_end()) got.push_back(*v);
    EXPECT_EQ(got.size(), 1000u);
    EXPECT_TRUE(std::is_sorted(got.begin(), got.end()));
  });
}

TEST(MemoryChannel, StatisticsCountHandlesWaitersAndThePeak) {
  sim_run([]() -> Task<> {
    trio::MemorySendChannel<int> s;
    trio::MemoryReceiveChannel<int> r;
    std::tie(s, r) = trio::open_memory_channel<int>(2);
    EXPECT_EQ(s.statistics(), r.statistics());
    trio::MemoryChannelStatistics stats = s.statistics();
    EXPECT_EQ(stats.current_buffer_used, 0u);
    EXPECT_EQ(stats.max_buffer_size, 2);
    EXPECT_EQ(stats.open_send_channels, 1u);
    EXPECT_EQ(stats.open_receive_channels, 1u);
    EXPECT_EQ(stats.tasks_waiting_send, 0u);
    EXPECT_EQ(stats.tasks_waiting_receive, 0u);
    EXPECT_EQ(stats.peak_buffer_used, 0u);

    s.send_nowait(1);
    EXPECT_EQ(s.statistics().current_buffer_used, 1u);
    trio::MemorySendChannel<int> s2 = s.clone();
    EXPECT_EQ(s.statistics().open_send_channels, 2u);
    co_await s.aclose();
    EXPECT_EQ(s2.statistics().open_send_channels, 1u);
    trio::MemoryReceiveChannel<int> r2 = r.clone();
    EXPECT_EQ(s2.statistics().open_receive_channels, 2u);
    co_await r2.aclose();
    EXPECT_EQ(s2.statistics().open_receive_channels, 1u);

    co_await trio::open_nursery([&](trio::Nursery& n) -> Task<> {
      s2.send_nowait(2);  // fill the buffer
      EXPECT_EQ(s.statistics().current_buffer_used, 2u);
      EXPECT_EQ(s.statistics().peak_buffer_used, 2u);
      for (int i = 0; i < 2; ++i) n.start_soon([&]() -> Task<> { co_await s2.send(3); });
      co_await wait_all_tasks_blocked();
      EXPECT_EQ(s.statistics().tasks_waiting_send, 2u);
      n.cancel_scope().cancel();
    });
    EXPECT_EQ(s.statistics().tasks_waiting_send, 0u);
    EXPECT_EQ(r.receive_nowait(), 1);  // the cancelled sends delivered nothing
    EXPECT_EQ(r.receive_nowait(), 2);
    EXPECT_THROW(r.receive_nowait(), trio::WouldBlock);
    EXPECT_EQ(s.statistics().current_buffer_used, 0u);
    EXPECT_EQ(s.statistics().peak_buffer_used, 2u);  // a high-water mark

    co_await trio::open_nursery([&](trio::Nursery& n) -> Task<> {
      n.start_soon([&]() -> Task<> { co_await r.receive(); });
      co_await wait_all_tasks_blocked();
      EXPECT_EQ(s.statistics().tasks_waiting_receive, 1u);
      n.cancel_scope().cancel();
    });
    EXPECT_EQ(s.statistics().tasks_waiting_receive, 0u);
    EXPECT_EQ(trio::MemorySendChannel<int>().statistics(), trio::MemoryChannelStatistics{});
  });
}

TEST(MemoryChannel, AWaitingReceiverOwnsTheNextValueAndAWaitingSenderTheNextSlot) {
  sim_run([]() -> Task<> {
    {
      // Nobody waiting: we can take back what we sent, and send again.
      trio::MemorySendChannel<int> s;
      trio::MemoryReceiveChannel<int> r;
      std::tie(s, r) = trio::open_memory_channel<int>(1);
      s.send_nowait(1);
      EXPECT_EQ(r.receive_nowait(), 1);
      s.send_nowait(2);
      EXPECT_EQ(r.receive_nowait(), 2);
      std::optional<int> result;
      co_await trio::open_nursery([&](trio::Nursery& n) -> Task<> {
        n.start_soon([&]() -> Task<> { result = co_await r.receive(); });
        co_await wait_all_tasks_blocked();
        s.send_nowait(2);
        // The waiting receiver owns it, although we run first.
        EXPECT_THROW(r.receive_nowait(), trio::WouldBlock);
        EXPECT_EQ(s.statistics().current_buffer_used, 0u);
      });
      EXPECT_EQ(result, 2);
    }
    {
      trio::MemorySendChannel<int> s;
      trio::MemoryReceiveChannel<int> r;
      std::tie(s, r) = trio::open_memory_channel<int>(1);
      s.send_nowait(1);
      EXPECT_THROW(s.send_nowait(0), trio::WouldBlock);
      co_await trio::open_nursery([&](trio::Nursery& n) -> Task<> {
        n.start_soon([&]() -> Task<> { co_await s.send(2); });
        co_await wait_all_tasks_blocked();
        EXPECT_EQ(r.receive_nowait(), 1);
        // The waiting sender owns the freed slot.
        EXPECT_THROW(s.send_nowait(3), trio::WouldBlock);
        EXPECT_EQ(co_await r.receive(), 2);
      });
    }
  });
}

TEST(MemoryChannel, ARendezvousCompletesOnlyWhenBothSidesMeet) {
  sim_run([]() -> Task<> {
    trio::MemorySendChannel<int> s;
    trio::MemoryReceiveChannel<int> r;
    std::tie(s, r) = trio::open_memory_channel<int>(0);
    EXPECT_THROW(r.receive_nowait(), trio::WouldBlock);
    EXPECT_THROW(s.send_nowait(1), trio::WouldBlock);
    co_await trio::open_nursery([&](trio::Nursery& n) -> Task<> {
      n.start_soon([&]() -> Task<> { EXPECT_CHECKPOINT(co_await s.send(1)); });
      int got = 0;
      EXPECT_CHECKPOINT(got = co_await r.receive());
      EXPECT_EQ(got, 1);
    });
    EXPECT_THROW(r.receive_nowait(), trio::WouldBlock);
    EXPECT_EQ(s.statistics().peak_buffer_used, 0u);
    // A receiver meeting a parked sender takes its value and releases it.
    bool sent = false;
    co_await trio::open_nursery([&](trio::Nursery& n) -> Task<> {
      n.start_soon([&]() -> Task<> {
        co_await s.send(7);
        sent = true;
      });
      co_await wait_all_tasks_blocked();
      EXPECT_FALSE(sent);
      EXPECT_EQ(s.statistics().tasks_waiting_send, 1u);
      EXPECT_EQ(r.receive_nowait(), 7);
      EXPECT_EQ(s.statistics().tasks_waiting_send, 0u);
    });
    EXPECT_TRUE(sent);
  });
}

TEST(MemoryChannel, MoveOnlyValuesTravelEveryPath) {
  sim_run([]() -> Task<> {
    using P = std::unique_ptr<int>;
    trio::MemorySendChannel<P> s;
    trio::MemoryReceiveChannel<P> r;
    std::tie(s, r) = trio::open_memory_channel<P>(1);
    // Buffered.
    s.send_nowait(std::make_unique<int>(1));
    EXPECT_EQ(*r.receive_nowait(), 1);
    // A failed send_nowait leaves an rvalue argument untouched.
    P keep = std::make_unique<int>(2);
    s.send_nowait(std::move(keep));
    P again = std::make_unique<int>(3);
    EXPECT_THROW(s.send_nowait(std::move(again)), trio::WouldBlock);
    EXPECT_NE(again, nullptr);
    co_await trio::open_nursery([&](trio::Nursery& n) -> Task<> {
      // A parked sender holds its value in its own frame...
      n.start_soon([&]() -> Task<> { co_await s.send(std::make_unique<int>(4)); });
      // ...and a cancelled one destroys it (ASan checks for the leak).
      trio::CancelScope cancelled;
      n.start_soon([&]() -> Task<> {
        co_await cancelled.enter([&]() -> Task<> { co_await s.send(std::make_unique<int>(5)); });
      });
      co_await wait_all_tasks_blocked();
      cancelled.cancel();
      co_await wait_all_tasks_blocked();
      EXPECT_EQ(*co_await r.receive(), 2);
      EXPECT_EQ(*co_await r.receive(), 4);
      // Handed straight to a waiting receiver.
      n.start_soon([&]() -> Task<> { EXPECT_EQ(*co_await r.receive(), 6); });
      co_await wait_all_tasks_blocked();
      co_await s.send(std::make_unique<int>(6));
    });
    // Values left in the buffer die with the channel.
    s.send_nowait(std::make_unique<int>(7));
  });
}

TEST(MemoryChannel, ReceiveOrEndEndsTheLoopAndIsACheckpointEvenAtTheEnd) {
  sim_run([]() -> Task<> {
    trio::MemorySendChannel<int> s;
    trio::MemoryReceiveChannel<int> r;
    std::tie(s, r) = trio::open_memory_channel<int>(4);
    s.send_nowait(1);
    s.send_nowait(2);
    s.close();
    std::optional<int> v;
    EXPECT_CHECKPOINT(v = co_await r.receive_or_end());
    EXPECT_EQ(v, 1);
    EXPECT_CHECKPOINT(v = co_await r.receive_or_end());
    EXPECT_EQ(v, 2);
    EXPECT_CHECKPOINT(v = co_await r.receive_or_end());
    EXPECT_EQ(v, std::nullopt);
    // Cancellation still wins at the end.
    trio::CancelScope scope;
    scope.cancel();
    co_await scope.enter([&]() -> Task<> { co_await r.receive_or_end(); });
    EXPECT_TRUE(scope.cancelled_caught());
    // Closing our own handle is an error, not an end.
    r.close();
    EXPECT_THROW(co_await r.receive_or_end(), trio::ClosedResourceError);

    // A receiver blocked in receive_or_end sees the end when the last sender closes.
    trio::MemorySendChannel<int> s2;
    trio::MemoryReceiveChannel<int> r2;
    std::tie(s2, r2) = trio::open_memory_channel<int>(0);
    co_await trio::open_nursery([&](trio::Nursery& n) -> Task<> {
      n.start_soon([&]() -> Task<> {
        std::vector<int> got;
        while (std::optional<int> x = co_await r2.receive_or_end()) got.push_back(*x);
        EXPECT_EQ(got, (std::vector<int>{5, 6}));
      });
      co_await s2.send(5);
      co_await s2.send(6);
      co_await wait_all_tasks_blocked();
      s2.close();
    });
  });
}

TEST(MemoryChannel, WaitingTasksAreNamedInTaskDumps) {
  sim_run([]() -> Task<> {
    trio::MemorySendChannel<int> s;
    trio::MemoryReceiveChannel<int> r;
    std::tie(s, r) = trio::open_memory_channel<int>(0);
    std::vector<trio::lowlevel::TaskRecord*> tasks;
    co_await trio::open_nursery([&](trio::Nursery& n) -> Task<> {
      n.start_soon([&]() -> Task<> {
        tasks.push_back(&trio::lowlevel::current_task());
        co_await s.send(1);
      });
      co_await wait_all_tasks_blocked();
      EXPECT_EQ(trio::lowlevel::waiting_on(*tasks[0]), "MemorySendChannel.send");
      r.receive_nowait();
      n.start_soon([&]() -> Task<> {
        tasks.push_back(&trio::lowlevel::current_task());
        co_await r.receive();
      });
      co_await wait_all_tasks_blocked();
      EXPECT_EQ(trio::lowlevel::waiting_on(*tasks[1]), "MemoryReceiveChannel.receive");
      s.send_nowait(2);
    });
  });
}
