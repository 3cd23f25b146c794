// SPDX-License-Identifier: Apache-2.0 OR MIT
// Memory channels, part 2 (spec §1.8, invariant 15; Trio's test_channel.py close tests):
// closing a handle wakes only the tasks blocked on that handle (ClosedResourceError), closing
// the last send handle ends the stream (EndOfChannel) and closing the last receive handle breaks
// it (BrokenResourceError, buffer discarded) — with close() and aclose(), persistently; clones;
// handles that close themselves when destroyed or moved over; atomic cancellation (a cancelled
// send delivered nothing, a cancelled receive took nothing); an abandoned (deadlocked) run
// tearing down blocked channel users cleanly; and the "cancellation vanished at
// checkpoint_if_cancelled" edge, where Trio asserts. Virtual time (MockClock, autojump 0).
#include <gtest/gtest.h>

#include <memory>
#include <optional>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "runtime/channel.h"
#include "runtime/testing/sim_test_support.h"
#include "runtime/trio.h"
#include "simclock/mock_clock.h"

using namespace std::chrono_literals;
using trio::Task;
using trio::lowlevel::wait_all_tasks_blocked;

using namespace sim_test;

namespace {

// Blocks in send(0) and expects it to raise E.
template <class E>
Task<> send_expecting(trio::MemorySendChannel<int>* s) {
  EXPECT_THROW(co_await s->send(0), E);
}
template <class E>
Task<> receive_expecting(trio::MemoryReceiveChannel<int>* r) {
  EXPECT_THROW(co_await r->receive(), E);
}

// Counts live instances, to see buffered values destroyed.
struct Counted {
  explicit Counted(int* live) : live(live) { ++*live; }
  Counted(Counted&& o) noexcept : live(o.live) { ++*live; }
  ~Counted() { --*live; }
  int* live;
};

}  // namespace

class CloseKind : public ::testing::TestWithParam<bool> {
 protected:
  // Closes with aclose() (a checkpoint) or close() (sync), per the parameter.
  template <class H>
  static Task<> close_handle(H& h, bool async) {
    if (async)
      co_await h.aclose();
    else
      h.close();
  }
};

TEST_P(CloseKind, ClosingTheSendHandleWakesItsSendersAndEndsTheStream) {
  const bool async = GetParam();
  sim_run([async]() -> Task<> {
    trio::MemorySendChannel<int> s;
    trio::MemoryReceiveChannel<int> r;
    std::tie(s, r) = trio::open_memory_channel<int>(0);
    co_await trio::open_nursery([&](trio::Nursery& n) -> Task<> {
      n.start_soon(send_expecting<trio::ClosedResourceError>, &s);
      co_await wait_all_tasks_blocked();
      co_await close_handle(s, async);
    });
    // Persistently closed...
    EXPECT_THROW(s.send_nowait(0), trio::ClosedResourceError);
    EXPECT_THROW(co_await s.send(0), trio::ClosedResourceError);
    // ...and receivers see the end.
    EXPECT_THROW(r.receive_nowait(), trio::EndOfChannel);
    EXPECT_THROW(co_await r.receive(), trio::EndOfChannel);
  });
}

TEST_P(CloseKind, ClosingTheReceiveHandleBreaksBlockedAndLaterSenders) {
  const bool async = GetParam();
  sim_run([async]() -> Task<> {
    trio::MemorySendChannel<int> s;
    trio::MemoryReceiveChannel<int> r;
    std::tie(s, r) = trio::open_memory_channel<int>(0);
    co_await trio::open_nursery([&](trio::Nursery& n) -> Task<> {
      n.start_soon(send_expecting<trio::BrokenResourceError>, &s);
      co_await wait_all_tasks_blocked();
      co_await close_handle(r, async);
    });
    EXPECT_THROW(s.send_nowait(0), trio::BrokenResourceError);
    EXPECT_THROW(co_await s.send(0), trio::BrokenResourceError);
  });
}

TEST_P(CloseKind, ClosingTheReceiveHandleWakesItsReceiversWithClosedResourceError) {
  const bool async = GetParam();
  sim_run([async]() -> Task<> {
    trio::MemorySendChannel<int> s;
    trio::MemoryReceiveChannel<int> r;
    std::tie(s, r) = trio::open_memory_channel<int>(0);
    co_await trio::open_nursery([&](trio::Nursery& n) -> Task<> {
      n.start_soon(receive_expecting<trio::ClosedResourceError>, &r);
      co_await wait_all_tasks_blocked();
      co_await close_handle(r, async);
    });
    EXPECT_THROW(r.receive_nowait(), trio::ClosedResourceError);
    EXPECT_THROW(co_await r.receive(), trio::ClosedResourceError);
  });
}

INSTANTIATE_TEST_SUITE_P(SyncAndAsync, CloseKind, ::testing::Bool(),
                         [](const ::testing::TestParamInfo<bool>& info) {
                           return info.param ? "aclose" : "close";
                         });

TEST(MemoryChannelClose, TheLastSendHandleClosingGivesBlockedReceiversEndOfChannel) {
  sim_run([]() -> Task<> {
    trio::MemorySendChannel<int> s;
    trio::MemoryReceiveChannel<int> r;
    std::tie(s, r) = trio::open_memory_channel<int>(3);
    trio::MemoryReceiveChannel<int> r2 = r.clone();
    trio::MemorySendChannel<int> s2 = s.clone();
    co_await trio::open_nursery([&](trio::Nursery& n) -> Task<> {
      n.start_soon(receive_expecting<trio::EndOfChannel>, &r);
      n.start_soon(receive_expecting<trio::EndOfChannel>, &r2);
      co_await wait_all_tasks_blocked();
      s.close();
      co_await wait_all_tasks_blocked();
      EXPECT_EQ(s.statistics().tasks_waiting_receive, 2u);  // s2 is still open
      s2.close();
    });
  });
}

TEST(MemoryChannelClose, ReceiveClonesKeepTheChannelOpenUntilTheLastCloses) {
  sim_run([]() -> Task<> {
    trio::MemorySendChannel<int> s;
    trio::MemoryReceiveChannel<int> r;
    std::tie(s, r) = trio::open_memory_channel<int>(10);
    trio::MemoryReceiveChannel<int> r2 = r.clone();
    trio::MemoryReceiveChannel<int> r3 = r.clone();
    s.send_nowait(0);
    co_await r.aclose();
    r2.close();
    EXPECT_THROW((void)r.clone(), trio::ClosedResourceError);
    EXPECT_THROW((void)r2.clone(), trio::ClosedResourceError);
    s.send_nowait(0);  // r3 is still open
    co_await r3.aclose();
    EXPECT_THROW(s.send_nowait(0), trio::BrokenResourceError);
    EXPECT_EQ(s.statistics().current_buffer_used, 0u);  // discarded
  });
}

TEST(MemoryChannelClose, ClosingOneSendHandleOnlyWakesItsOwnSenders) {
  sim_run([]() -> Task<> {
    trio::MemorySendChannel<std::string> s1;
    trio::MemoryReceiveChannel<std::string> r;
    std::tie(s1, r) = trio::open_memory_channel<std::string>(0);
    trio::MemorySendChannel<std::string> s2 = s1.clone();
    co_await trio::open_nursery([&](trio::Nursery& n) -> Task<> {
      n.start_soon(
          [&]() -> Task<> { EXPECT_THROW(co_await s1.send("nope"), trio::ClosedResourceError); });
      n.start_soon([&]() -> Task<> { co_await s2.send("ok"); });
      co_await wait_all_tasks_blocked();
      co_await s1.aclose();
      EXPECT_EQ(co_await r.receive(), "ok");
    });
  });
}

TEST(MemoryChannelClose, ClosingOneReceiveHandleOnlyWakesItsOwnReceivers) {
  sim_run([]() -> Task<> {
    trio::MemorySendChannel<std::string> s;
    trio::MemoryReceiveChannel<std::string> r1;
    std::tie(s, r1) = trio::open_memory_channel<std::string>(0);
    trio::MemoryReceiveChannel<std::string> r2 = r1.clone();
    co_await trio::open_nursery([&](trio::Nursery& n) -> Task<> {
      n.start_soon(
          [&]() -> Task<> { EXPECT_THROW(co_await r1.receive(), trio::ClosedResourceError); });
      n.start_soon([&]() -> Task<> { EXPECT_EQ(co_await r2.receive(), "ok"); });
      co_await wait_all_tasks_blocked();
      co_await r1.aclose();
      co_await s.send("ok");
    });
  });
}

TEST(MemoryChannelClose, ClosingTheLastReceiverDestroysTheBufferedValues) {
  sim_run([]() -> Task<> {
    int live = 0;
    trio::MemorySendChannel<Counted> s;
    trio::MemoryReceiveChannel<Counted> r;
    std::tie(s, r) = trio::open_memory_channel<Counted>(4);
    s.send_nowait(Counted(&live));
    s.send_nowait(Counted(&live));
    EXPECT_EQ(live, 2);
    r.close();
    EXPECT_EQ(live, 0);
    co_return;
  });
}

TEST(MemoryChannelClose, ADestroyedHandleClosesItselfEvenWhenItsTaskFails) {
  sim_run([]() -> Task<> {
    trio::MemorySendChannel<int> s;
    trio::MemoryReceiveChannel<int> r;
    std::tie(s, r) = trio::open_memory_channel<int>(0);
    std::vector<int> got;
    bool failed = false;
    try {
      co_await trio::open_nursery([&](trio::Nursery& n) -> Task<> {
        n.start_soon(
            [](trio::MemorySendChannel<int> tx) -> Task<> {
              co_await tx.send(1);
              throw std::runtime_error("producer failed");
            },
            std::move(s));
        while (std::optional<int> v = co_await r.receive_or_end()) got.push_back(*v);
      });
    } catch (const trio::ExceptionGroup&) {
      failed = true;
    }
    EXPECT_TRUE(failed);
    EXPECT_EQ(got, std::vector<int>{1});
    EXPECT_EQ(r.statistics().open_send_channels, 0u);
  });
}

TEST(MemoryChannelClose, MovingAHandleMovesItsIdentityAndMovingOverOneClosesIt) {
  sim_run([]() -> Task<> {
    trio::MemorySendChannel<int> s;
    trio::MemoryReceiveChannel<int> r;
    std::tie(s, r) = trio::open_memory_channel<int>(0);
    trio::MemorySendChannel<int> other = s.clone();
    EXPECT_EQ(r.statistics().open_send_channels, 2u);
    co_await trio::open_nursery([&](trio::Nursery& n) -> Task<> {
      // A task blocked on `s`...
      n.start_soon(send_expecting<trio::ClosedResourceError>, &s);
      co_await wait_all_tasks_blocked();
      // ...is still blocked on the same handle after it moves,
      trio::MemorySendChannel<int> moved = std::move(s);
      EXPECT_TRUE(s.is_closed());
      EXPECT_THROW(s.send_nowait(0), trio::ClosedResourceError);
      EXPECT_EQ(r.statistics().open_send_channels, 2u);
      // and is woken when that handle closes (here: by being moved over).
      moved = std::move(other);
      EXPECT_EQ(r.statistics().open_send_channels, 1u);
    });
    EXPECT_EQ(r.statistics().tasks_waiting_send, 0u);
  });
}

TEST(MemoryChannelClose, ACancelledSendDeliversNothingAndACancelledReceiveTakesNothing) {
  sim_run([]() -> Task<> {
    trio::MemorySendChannel<int> s;
    trio::MemoryReceiveChannel<int> r;
    std::tie(s, r) = trio::open_memory_channel<int>(0);
    trio::CancelScope send_scope, receive_scope;
    co_await trio::open_nursery([&](trio::Nursery& n) -> Task<> {
      n.start_soon(
          [&]() -> Task<> { co_await send_scope.enter([&]() -> Task<> { co_await s.send(1); }); });
      co_await wait_all_tasks_blocked();
      send_scope.cancel();
      co_await wait_all_tasks_blocked();
      EXPECT_THROW(r.receive_nowait(), trio::WouldBlock);  // nothing was delivered

      n.start_soon([&]() -> Task<> {
        co_await receive_scope.enter([&]() -> Task<> { co_await r.receive(); });
      });
      n.start_soon([&]() -> Task<> { EXPECT_EQ(co_await r.receive(), 2); });
      co_await wait_all_tasks_blocked();
      receive_scope.cancel();
      co_await wait_all_tasks_blocked();
      s.send_nowait(2);  // goes to the receiver that was not cancelled
    });
    EXPECT_TRUE(send_scope.cancelled_caught());
    EXPECT_TRUE(receive_scope.cancelled_caught());
  });
}

TEST(MemoryChannelClose, AnAbandonedRunTearsDownBlockedChannelUsers) {
  // Every task blocks on a channel nobody will ever use again: the run reports a deadlock and
  // destroys the frames (children first); handles and waiters must come apart cleanly.
  trio::MockClock clock;
  clock.set_autojump_threshold(0s);
  EXPECT_THROW(trio::run(trio::RunOptions{.clock = &clock, .seed = 3},
                         []() -> Task<> {
                           trio::MemorySendChannel<std::string> s;
                           trio::MemoryReceiveChannel<std::string> r;
                           std::tie(s, r) = trio::open_memory_channel<std::string>(0);
                           co_await trio::open_nursery([&](trio::Nursery& n) -> Task<> {
                             n.start_soon([&]() -> Task<> { co_await s.send("a"); });
                             n.start_soon([&]() -> Task<> { co_await s.send("b"); });
                             co_await wait_all_tasks_blocked();
                             r.receive_nowait();  // one sender leaves; the other stays blocked
                             EXPECT_EQ(r.statistics().tasks_waiting_send, 1u);
                             trio::Event never;
                             co_await never.wait();
                           });
                         }),
               trio::DeadlockError);
  EXPECT_EQ(trio::lowlevel::live_frames(), 0);
  // The reverse: a child owns the last send handle and the parent waits to receive. The child's
  // frame goes first, and its handle, closing, reschedules the parent mid-teardown.
  EXPECT_THROW(
      trio::run(trio::RunOptions{.clock = &clock, .seed = 3},
                []() -> Task<> {
                  trio::MemorySendChannel<int> s;
                  trio::MemoryReceiveChannel<int> r;
                  std::tie(s, r) = trio::open_memory_channel<int>(0);
                  trio::Event never;
                  co_await trio::open_nursery([&](trio::Nursery& n) -> Task<> {
                    n.start_soon(
                        [&never](trio::MemorySendChannel<int>) -> Task<> { co_await never.wait(); },
                        std::move(s));
                    co_await r.receive();
                  });
                }),
      trio::DeadlockError);
  EXPECT_EQ(trio::lowlevel::live_frames(), 0);
}

// A task cancelled at send()'s checkpoint_if_cancelled() yields; if another task raises a
// shield around it before it resumes, the cancellation is gone. The send then completes if it
// can; if it would have to block it raises TrioInternalError (Trio asserts in this case).
TEST(MemoryChannelClose, ACancellationThatVanishesAtTheFirstCheckpointStillCompletesTheSend) {
  for (const bool room : {true, false}) {
    sim_run(
        [room]() -> Task<> {
          trio::MemorySendChannel<int> s;
          trio::MemoryReceiveChannel<int> r;
          std::tie(s, r) = trio::open_memory_channel<int>(room ? 1 : 0);
          trio::CancelScope outer, inner;
          std::exception_ptr error;
          try {
            co_await trio::open_nursery([&](trio::Nursery& n) -> Task<> {
              n.start_soon([&]() -> Task<> {
                co_await outer.enter([&]() -> Task<> {
                  co_await inner.enter([&]() -> Task<> {
                    outer.cancel();
                    co_await s.send(5);  // suspends in checkpoint_if_cancelled
                  });
                });
              });
              n.start_soon([&]() -> Task<> {
                inner.set_shield(true);  // runs in the same batch, before the sender resumes
                co_return;
              });
              co_return;
            });
          } catch (const trio::BaseExceptionGroup& g) {
            error = g.leaves().at(0);
          }
          if (room) {
            EXPECT_FALSE(error);
            EXPECT_EQ(r.receive_nowait(), 5);
          } else {
            EXPECT_TRUE(trio::holds<trio::TrioInternalError>(error));
            EXPECT_EQ(r.statistics().tasks_waiting_send, 0u);
          }
        },
        trio::SchedulingPolicy::kFifo);
  }
}
