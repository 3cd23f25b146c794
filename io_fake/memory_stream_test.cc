// SPDX-License-Identifier: Apache-2.0 OR MIT
// The memory and lockstep streams (spec §1.19), ported from Trio's test_testing.py: the
// unbounded byte queue, MemorySendStream / MemoryReceiveStream (checkpoints, conflicts, hooks,
// closing), memory_stream_pump, the one-way and two-way pairs, and the lockstep streams'
// blocking rules. Each test runs in a fresh run on MockClock (autojump threshold 0) and checks
// that no coroutine frame leaked.
#include "io_fake/memory_stream.h"

#include <gtest/gtest.h>

#include <chrono>
#include <exception>
#include <string>
#include <utility>
#include <vector>

#include "runtime/errors.h"
#include "runtime/trio.h"
#include "simclock/mock_clock.h"

using trio::Task;
using trio::lowlevel::wait_all_tasks_blocked;
using trio::testing::MemoryReceiveStream;
using trio::testing::MemorySendStream;

namespace {

template <class F>
void sim_run(F fn) {
  trio::MockClock clock;
  clock.set_autojump_threshold(std::chrono::seconds(0));
  trio::run(trio::RunOptions{.clock = &clock, .seed = 3}, std::move(fn));
  EXPECT_EQ(trio::lowlevel::live_frames(), 0);
}

// True if `e` is an E, or a group with an E among its leaves.
template <class E>
bool raised(const std::exception_ptr& e) {
  if (trio::holds<E>(e)) return true;
  try {
    std::rethrow_exception(e);
  } catch (const trio::BaseExceptionGroup& g) {
    return g.contains<E>();
  } catch (...) {
    return false;
  }
}

struct Points {
  uint32_t cancel, schedule;
};
Points points() {
  const auto& t = trio::lowlevel::current_task();
  return {t.cancel_points, t.schedule_points};
}
#define EXPECT_CHECKPOINTS(...)                   \
  do {                                            \
    const Points before_ = points();              \
    __VA_ARGS__;                                  \
    const Points after_ = points();               \
    EXPECT_NE(after_.cancel, before_.cancel);     \
    EXPECT_NE(after_.schedule, before_.schedule); \
  } while (0)

Task<> send_counting_busy(MemorySendStream* s, int* busy) {
  try {
    co_await s->send_all("xxx");
  } catch (const trio::BusyResourceError&) {
    ++*busy;
  }
}

Task<> receive_expecting(trio::ReceiveStream* r, std::string want) {
  std::string got;
  EXPECT_CHECKPOINTS(got = co_await r->receive_some(10));
  EXPECT_EQ(got, want);
}

Task<> get_data_expecting(MemorySendStream* s, std::string want) {
  std::string got = co_await s->get_data();
  EXPECT_EQ(got, want);
}

Task<> receive_expecting_cancelled(trio::ReceiveStream* r) {
  EXPECT_THROW(co_await r->receive_some(10), trio::Cancelled);
}

Task<> send_flagging(trio::SendStream* s, bool* sent) {
  co_await s->send_all("0123456789abc");
  *sent = true;
}

Task<> wait_flagging(trio::SendStream* s, bool* ready) {
  co_await s->wait_send_all_might_not_block();
  *ready = true;
}

Task<> cancel_when_idle(trio::Nursery* n) {
  co_await wait_all_tasks_blocked();
  n->cancel_scope().cancel();
}

}  // namespace

TEST(UnboundedByteQueue, GetsWhatWasPutAndRaisesWouldBlockWhenEmpty) {
  sim_run([]() -> Task<> {
    MemorySendStream s;  // its get_data* are the queue's get*
    co_await s.send_all("123");
    co_await s.send_all("456");
    EXPECT_EQ(s.get_data_nowait(1), "1");
    EXPECT_EQ(s.get_data_nowait(10), "23456");
    co_await s.send_all("789");
    EXPECT_EQ(s.get_data_nowait(), "789");
    EXPECT_THROW(s.get_data_nowait(10), trio::WouldBlock);
    EXPECT_THROW(s.get_data_nowait(), trio::WouldBlock);
    EXPECT_THROW(s.get_data_nowait(0), trio::ValueError);
    co_await s.send_all("abc");
    std::string got;
    EXPECT_CHECKPOINTS(got = co_await s.get_data(10));
    EXPECT_EQ(got, "abc");
    // Two getters at once: BusyResourceError.
    std::exception_ptr error;
    try {
      co_await trio::open_nursery([&](trio::Nursery& n) -> Task<> {
        n.start_soon(get_data_expecting, &s, std::string("asdf"));
        n.start_soon(get_data_expecting, &s, std::string("asdf"));
        co_return;
      });
    } catch (...) {
      error = std::current_exception();
    }
    EXPECT_TRUE(raised<trio::BusyResourceError>(error));
  });
}

TEST(MemorySendStream, SendAllIsACheckpointAndConcurrentSendsAreBusy) {
  sim_run([]() -> Task<> {
    MemorySendStream mss;
    EXPECT_CHECKPOINTS(co_await mss.send_all("123"));
    EXPECT_EQ(mss.get_data_nowait(1), "1");
    EXPECT_EQ(mss.get_data_nowait(), "23");
    EXPECT_CHECKPOINTS(co_await mss.wait_send_all_might_not_block());
    EXPECT_THROW(mss.get_data_nowait(), trio::WouldBlock);
    co_await mss.send_all("456");
    std::string got;
    EXPECT_CHECKPOINTS(got = co_await mss.get_data());
    EXPECT_EQ(got, "456");

    int busy = 0;
    co_await trio::open_nursery([&](trio::Nursery& n) -> Task<> {
      n.start_soon(send_counting_busy, &mss, &busy);
      n.start_soon(send_counting_busy, &mss, &busy);
      co_return;
    });
    EXPECT_EQ(busy, 1);

    EXPECT_CHECKPOINTS(co_await mss.aclose());
    EXPECT_EQ(co_await mss.get_data(), "xxx");
    EXPECT_EQ(co_await mss.get_data(), "");
    EXPECT_THROW(co_await mss.send_all("---"), trio::ClosedResourceError);
    EXPECT_THROW(co_await mss.wait_send_all_might_not_block(), trio::ClosedResourceError);
  });
}

TEST(MemorySendStream, HooksRunAfterTheWorkAndAreMutable) {
  sim_run([]() -> Task<> {
    std::vector<std::string> record;
    MemorySendStream mss;
    EXPECT_FALSE(mss.send_all_hook);
    EXPECT_FALSE(mss.wait_send_all_might_not_block_hook);
    EXPECT_FALSE(mss.close_hook);
    MemorySendStream* p = &mss;
    std::vector<std::string>* r = &record;
    mss.send_all_hook = [p, r]() -> Task<> {
      // The hook runs after send_all buffered the data.
      EXPECT_EQ(p->get_data_nowait(), "abc");
      r->push_back("send_all_hook");
      co_return;
    };
    mss.wait_send_all_might_not_block_hook = [r]() -> Task<> {
      r->push_back("wait_send_all_might_not_block_hook");
      co_return;
    };
    mss.close_hook = [r] { r->push_back("close_hook"); };
    co_await mss.send_all("abc");
    co_await mss.wait_send_all_might_not_block();
    co_await trio::aclose_forcefully(mss);
    mss.close();
    EXPECT_EQ(record,
              (std::vector<std::string>{"send_all_hook", "wait_send_all_might_not_block_hook",
                                        "close_hook", "close_hook"}));
  });
}

TEST(MemoryReceiveStream, ReceiveSomeIsACheckpointAndHonoursMaxBytes) {
  sim_run([]() -> Task<> {
    MemoryReceiveStream mrs;
    mrs.put_data("abc");
    std::string got;
    EXPECT_CHECKPOINTS(got = co_await mrs.receive_some(1));
    EXPECT_EQ(got, "a");
    EXPECT_CHECKPOINTS(got = co_await mrs.receive_some(10));
    EXPECT_EQ(got, "bc");
    mrs.put_data("abc");
    EXPECT_EQ(co_await mrs.receive_some(), "abc");
    EXPECT_THROW(co_await mrs.receive_some(size_t{0}), trio::ValueError);

    std::exception_ptr error;
    try {
      co_await trio::open_nursery([&](trio::Nursery& n) -> Task<> {
        n.start_soon(receive_expecting, &mrs, std::string("x"));
        n.start_soon(receive_expecting, &mrs, std::string("x"));
        co_return;
      });
    } catch (...) {
      error = std::current_exception();
    }
    EXPECT_TRUE(raised<trio::BusyResourceError>(error));

    mrs.put_data("def");
    mrs.put_eof();
    mrs.put_eof();
    EXPECT_EQ(co_await mrs.receive_some(10), "def");
    EXPECT_EQ(co_await mrs.receive_some(10), "");
    EXPECT_EQ(co_await mrs.receive_some(10), "");
    EXPECT_THROW(mrs.put_data("---"), trio::ClosedResourceError);
  });
}

TEST(MemoryReceiveStream, HooksRunBeforeTheWaitAndCloseDiscardsData) {
  sim_run([]() -> Task<> {
    std::vector<std::string> record;
    MemoryReceiveStream mrs2;
    MemoryReceiveStream* p = &mrs2;
    std::vector<std::string>* r = &record;
    mrs2.receive_some_hook = [p]() -> Task<> {
      p->put_data("xxx");
      co_return;
    };
    mrs2.close_hook = [r] { r->push_back("closed"); };
    mrs2.put_data("yyy");
    EXPECT_EQ(co_await mrs2.receive_some(10), "yyyxxx");
    EXPECT_EQ(co_await mrs2.receive_some(10), "xxx");
    EXPECT_EQ(co_await mrs2.receive_some(10), "xxx");
    mrs2.put_data("zzz");
    mrs2.receive_some_hook = nullptr;
    EXPECT_EQ(co_await mrs2.receive_some(10), "zzz");
    mrs2.put_data("lost on close");
    EXPECT_CHECKPOINTS(co_await mrs2.aclose());
    EXPECT_EQ(record, (std::vector<std::string>{"closed"}));
    EXPECT_THROW(co_await mrs2.receive_some(10), trio::ClosedResourceError);
  });
}

TEST(MemoryReceiveStream, ClosingMakesReceiveAndPutDataRaise) {
  sim_run([]() -> Task<> {
    MemoryReceiveStream mrs;
    mrs.close();
    EXPECT_THROW(co_await mrs.receive_some(10), trio::ClosedResourceError);
    mrs.close();  // repeated closes are fine
    EXPECT_THROW(mrs.put_data("123"), trio::ClosedResourceError);
    MemoryReceiveStream mrs2;
    mrs2.put_data("xyz");
    mrs2.close();
    EXPECT_THROW(co_await mrs2.receive_some(10), trio::ClosedResourceError);
  });
}

TEST(MemoryStreamPump, MovesBufferedBytesThenEof) {
  sim_run([]() -> Task<> {
    MemorySendStream mss;
    MemoryReceiveStream mrs;
    EXPECT_FALSE(trio::testing::memory_stream_pump(mss, mrs));
    co_await mss.send_all("123");
    EXPECT_TRUE(trio::testing::memory_stream_pump(mss, mrs));
    EXPECT_EQ(co_await mrs.receive_some(10), "123");
    co_await mss.send_all("456");
    EXPECT_TRUE(trio::testing::memory_stream_pump(mss, mrs, 1));
    EXPECT_EQ(co_await mrs.receive_some(10), "4");
    EXPECT_TRUE(trio::testing::memory_stream_pump(mss, mrs, 1));
    EXPECT_TRUE(trio::testing::memory_stream_pump(mss, mrs, 1));
    EXPECT_FALSE(trio::testing::memory_stream_pump(mss, mrs, 1));
    EXPECT_EQ(co_await mrs.receive_some(10), "56");
    mss.close();
    trio::testing::memory_stream_pump(mss, mrs);
    EXPECT_EQ(co_await mrs.receive_some(10), "");
  });
}

TEST(MemoryStreamPump, AClosedReceiverIsABrokenResource) {
  sim_run([]() -> Task<> {
    MemorySendStream mss;
    MemoryReceiveStream mrs;
    co_await mss.send_all("1");
    mrs.close();
    EXPECT_THROW(trio::testing::memory_stream_pump(mss, mrs), trio::BrokenResourceError);
  });
}

TEST(MemoryStreamOneWayPair, PumpsOnSendAllAndOnClose) {
  sim_run([]() -> Task<> {
    auto ends = trio::testing::memory_stream_one_way_pair();
    auto& s = ends.first;
    auto& r = ends.second;
    EXPECT_TRUE(s->send_all_hook);
    EXPECT_FALSE(s->wait_send_all_might_not_block_hook);
    EXPECT_TRUE(s->close_hook);
    EXPECT_FALSE(r->receive_some_hook);
    co_await s->send_all("123");
    EXPECT_EQ(co_await r->receive_some(10), "123");
    co_await trio::open_nursery([&](trio::Nursery& n) -> Task<> {
      n.start_soon(receive_expecting, r.get(), std::string("abc"));
      co_await wait_all_tasks_blocked();
      co_await s->send_all("abc");
    });
    co_await trio::open_nursery([&](trio::Nursery& n) -> Task<> {
      n.start_soon(receive_expecting, r.get(), std::string(""));
      co_await wait_all_tasks_blocked();
      co_await s->aclose();
    });
  });
}

TEST(MemoryStreamOneWayPair, SyncCloseSendsEof) {
  sim_run([]() -> Task<> {
    auto ends = trio::testing::memory_stream_one_way_pair();
    auto& s = ends.first;
    auto& r = ends.second;
    co_await trio::open_nursery([&](trio::Nursery& n) -> Task<> {
      n.start_soon(receive_expecting, r.get(), std::string(""));
      co_await wait_all_tasks_blocked();
      s->close();
    });
  });
}

TEST(MemoryStreamOneWayPair, WithoutTheSendHookDataStaysInTheSender) {
  sim_run([]() -> Task<> {
    auto ends = trio::testing::memory_stream_one_way_pair();
    auto& s = ends.first;
    auto& r = ends.second;
    trio::testing::AsyncHook old = s->send_all_hook;
    s->send_all_hook = nullptr;
    co_await s->send_all("456");
    co_await trio::open_nursery([&](trio::Nursery& n) -> Task<> {
      n.start_soon(cancel_when_idle, &n);
      n.start_soon(receive_expecting_cancelled, r.get());
      co_return;
    });
    s->send_all_hook = old;
    co_await s->send_all("789");
    EXPECT_EQ(co_await r->receive_some(10), "456789");
  });
}

TEST(MemoryStreamPair, CarriesBothWaysAndSendEofGivesEof) {
  sim_run([]() -> Task<> {
    auto ends = trio::testing::memory_stream_pair();
    auto& a = ends.first;
    auto& b = ends.second;
    co_await a->send_all("123");
    co_await b->send_all("abc");
    EXPECT_EQ(co_await b->receive_some(10), "123");
    EXPECT_EQ(co_await a->receive_some(10), "abc");
    co_await a->send_eof();
    EXPECT_EQ(co_await b->receive_some(10), "");
    co_await trio::open_nursery([&](trio::Nursery& n) -> Task<> {
      n.start_soon(receive_expecting, static_cast<trio::ReceiveStream*>(a.get()),
                   std::string("xyz"));
      co_await wait_all_tasks_blocked();
      co_await b->send_all("xyz");
    });
  });
}

TEST(LockstepStream, SendAllBlocksUntilEveryByteIsReceived) {
  sim_run([]() -> Task<> {
    auto ends = trio::testing::lockstep_stream_one_way_pair();
    auto& s = ends.first;
    auto& r = ends.second;
    bool sent = false;
    co_await trio::open_nursery([&](trio::Nursery& n) -> Task<> {
      n.start_soon(trio::TaskName("sender"), send_flagging, s.get(), &sent);
      co_await wait_all_tasks_blocked();
      EXPECT_FALSE(sent);
      EXPECT_EQ(co_await r->receive_some(10), "0123456789");
      co_await wait_all_tasks_blocked();
      EXPECT_FALSE(sent);  // 3 bytes still queued
      EXPECT_EQ(co_await r->receive_some(10), "abc");
    });
    EXPECT_TRUE(sent);
  });
}

TEST(LockstepStream, WaitSendAllMightNotBlockWaitsForAReceiver) {
  sim_run([]() -> Task<> {
    auto ends = trio::testing::lockstep_stream_one_way_pair();
    auto& s = ends.first;
    auto& r = ends.second;
    bool ready = false;
    co_await trio::open_nursery([&](trio::Nursery& n) -> Task<> {
      n.start_soon(wait_flagging, s.get(), &ready);
      co_await wait_all_tasks_blocked();
      EXPECT_FALSE(ready);
      n.start_soon(receive_expecting_cancelled, static_cast<trio::ReceiveStream*>(r.get()));
      co_await wait_all_tasks_blocked();
      EXPECT_TRUE(ready);
      n.cancel_scope().cancel();
    });
  });
}

TEST(LockstepStream, ErrorsComeBeforeAnyCheckpoint) {
  sim_run([]() -> Task<> {
    auto ends = trio::testing::lockstep_stream_one_way_pair();
    auto& s = ends.first;
    auto& r = ends.second;
    r->close();
    const Points before = points();
    EXPECT_THROW(co_await s->send_all("x"), trio::BrokenResourceError);
    EXPECT_EQ(points().schedule, before.schedule);
    s->close();
    EXPECT_THROW(co_await s->send_all("x"), trio::ClosedResourceError);
    EXPECT_THROW(co_await s->wait_send_all_might_not_block(), trio::ClosedResourceError);
    EXPECT_THROW(co_await r->receive_some(1), trio::ClosedResourceError);
    EXPECT_EQ(points().schedule, before.schedule);
  });
}

TEST(LockstepStream, ACancelledSendAllLeavesItsBytesForTheNextReceive) {
  sim_run([]() -> Task<> {
    auto ends = trio::testing::lockstep_stream_one_way_pair();
    auto& s = ends.first;
    auto& r = ends.second;
    const bool moved_on = co_await trio::move_on_after(
        std::chrono::seconds(1), [&]() -> Task<> { co_await s->send_all("queued"); });
    EXPECT_TRUE(moved_on);
    EXPECT_EQ(co_await r->receive_some(100), "queued");
  });
}

TEST(LockstepStream, AnEmptySendToAClosedReceiverIsBroken) {
  sim_run([]() -> Task<> {
    auto ends = trio::testing::lockstep_stream_one_way_pair();
    ends.second->close();
    EXPECT_THROW(co_await ends.first->send_all(""), trio::BrokenResourceError);
    // A memory stream's empty send only checks its own half.
    auto memory = trio::testing::memory_stream_one_way_pair();
    memory.second->close();
    co_await memory.first->send_all("");
  });
}

TEST(LockstepStream, SendAllAfterItsOwnEndClosedIsClosedEvenIfTheReceiverClosedToo) {
  sim_run([]() -> Task<> {
    auto ends = trio::testing::lockstep_stream_one_way_pair();
    ends.second->close();
    ends.first->close();
    EXPECT_THROW(co_await ends.first->send_all("x"), trio::ClosedResourceError);
    // And the receiver reads ClosedResourceError, not EOF.
    EXPECT_THROW(co_await ends.second->receive_some(1), trio::ClosedResourceError);
  });
}

TEST(LockstepStream, ReceiveReturnsEofOnceTheSenderClosed) {
  sim_run([]() -> Task<> {
    auto ends = trio::testing::lockstep_stream_one_way_pair();
    co_await ends.first->aclose();
    EXPECT_EQ(co_await ends.second->receive_some(1), "");
    EXPECT_EQ(co_await ends.second->receive_some(1), "");
  });
}
