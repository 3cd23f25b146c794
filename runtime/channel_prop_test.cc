// SPDX-License-Identifier: Apache-2.0 OR MIT
// Memory channels against a reference model (spec §1.8, invariants 14–15): rapidcheck draws a
// buffer size, a scheduling policy and seed, and a sequence of commands — send_nowait,
// receive_nowait, blocking send / receive / receive_or_end (each in its own task and cancel
// scope), clones, closes of either side and cancellations of blocked operations — and runs
// them on a channel under virtual time. A plain queue model (a deque, FIFO lists of blocked
// senders and receivers, open-handle flags) predicts every result: each nowait call's value or
// error, each blocked operation's final outcome (value received, sent, ClosedResourceError,
// BrokenResourceError, EndOfChannel, Cancelled), and the statistics after every command. After
// each command the driver lets all tasks settle (wait_all_tasks_blocked) and compares. On a
// failure rapidcheck prints its seed and the shrunk command list.
#include <gtest/gtest.h>
#include <rapidcheck.h>
#include <rapidcheck/gtest.h>

#include <algorithm>
#include <deque>
#include <memory>
#include <optional>
#include <ostream>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "runtime/channel.h"
#include "runtime/trio.h"
#include "simclock/mock_clock.h"

using namespace std::chrono_literals;
using trio::Task;

namespace {

enum class Out { kPending, kSent, kGot, kClosed, kBroken, kEnd, kCancelled, kWouldBlock };
const char* name(Out o) {
  static const char* const kNames[] = {"pending", "sent",         "got",       "Closed",
                                       "Broken",  "EndOfChannel", "Cancelled", "WouldBlock"};
  return kNames[static_cast<int>(o)];
}

enum Kind {
  kSendNowait,
  kReceiveNowait,
  kSend,
  kReceive,
  kReceiveOrEnd,
  kCloneSend,
  kCloneReceive,
  kCloseSend,
  kCloseReceive,
  kCancel,
  kKinds
};
const char* const kKindNames[] = {"send_nowait",    "receive_nowait", "send",          "receive",
                                  "receive_or_end", "clone_send",     "clone_receive", "close_send",
                                  "close_receive",  "cancel"};

struct Cmd {
  Cmd(int k, int p) : kind(k), pick(p) {}
  int kind;
  int pick;  // which handle / operation, modulo what exists
};
std::ostream& operator<<(std::ostream& os, const Cmd& c) {
  return os << kKindNames[c.kind] << "/" << c.pick;
}

// A blocking operation, run in its own task.
struct Op {
  bool sending = false;
  bool or_end = false;
  size_t handle = 0;
  int value = 0;
  trio::CancelScope scope;
  Out actual = Out::kPending;
  int actual_value = -1;
  Out expected = Out::kPending;
  int expected_value = -1;
};

// The reference model: Trio's _channel.py semantics on plain containers.
struct Model {
  explicit Model(int64_t max) : max_buffer(max) {}
  int64_t max_buffer;
  std::deque<int> buffer;
  size_t peak = 0;
  std::vector<bool> send_open{true}, receive_open{true};
  std::deque<Op*> senders, receivers;  // blocked, FIFO

  size_t open(const std::vector<bool>& v) const { return std::count(v.begin(), v.end(), true); }

  Out send_now(size_t h, int v) {
    if (!send_open[h]) return Out::kClosed;
    if (open(receive_open) == 0) return Out::kBroken;
    if (!receivers.empty()) {
      Op* r = receivers.front();
      receivers.pop_front();
      r->expected = Out::kGot;
      r->expected_value = v;
      return Out::kSent;
    }
    if (static_cast<int64_t>(buffer.size()) < max_buffer) {
      buffer.push_back(v);
      peak = std::max(peak, buffer.size());
      return Out::kSent;
    }
    return Out::kWouldBlock;
  }
  Out receive_now(size_t h, int* v) {
    if (!receive_open[h]) return Out::kClosed;
    if (!senders.empty()) {
      Op* s = senders.front();
      senders.pop_front();
      s->expected = Out::kSent;
      buffer.push_back(s->value);
    }
    if (!buffer.empty()) {
      *v = buffer.front();
      buffer.pop_front();
      return Out::kGot;
    }
    return open(send_open) == 0 ? Out::kEnd : Out::kWouldBlock;
  }
  void start(Op* op) {
    int v = -1;
    const Out o = op->sending ? send_now(op->handle, op->value) : receive_now(op->handle, &v);
    if (o == Out::kWouldBlock) {
      (op->sending ? senders : receivers).push_back(op);
    } else {
      op->expected = o;
      op->expected_value = v;
    }
  }
  static void wake_handle(std::deque<Op*>& q, size_t h) {
    for (auto it = q.begin(); it != q.end();) {
      if ((*it)->handle == h) {
        (*it)->expected = Out::kClosed;
        it = q.erase(it);
      } else {
        ++it;
      }
    }
  }
  void close_send(size_t h) {
    if (!send_open[h]) return;
    send_open[h] = false;
    wake_handle(senders, h);
    if (open(send_open) == 0) {
      for (Op* r : receivers) r->expected = Out::kEnd;
      receivers.clear();
    }
  }
  void close_receive(size_t h) {
    if (!receive_open[h]) return;
    receive_open[h] = false;
    wake_handle(receivers, h);
    if (open(receive_open) == 0) {
      for (Op* s : senders) s->expected = Out::kBroken;
      senders.clear();
      buffer.clear();
    }
  }
  void cancel(Op* op) {
    for (auto* q : {&senders, &receivers}) {
      auto it = std::find(q->begin(), q->end(), op);
      if (it != q->end()) {
        q->erase(it);
        op->expected = Out::kCancelled;
      }
    }
  }
};

struct Harness {
  std::vector<std::unique_ptr<trio::MemorySendChannel<int>>> tx;
  std::vector<std::unique_ptr<trio::MemoryReceiveChannel<int>>> rx;
  std::vector<std::unique_ptr<Op>> ops;
  std::string failure;

  void expect(bool ok, const std::string& what) {
    if (!ok && failure.empty()) failure = what;
  }
};

template <class F>
Out outcome_of(F fn) {
  try {
    fn();
    return Out::kSent;
  } catch (const trio::WouldBlock&) {
    return Out::kWouldBlock;
  } catch (const trio::ClosedResourceError&) {
    return Out::kClosed;
  } catch (const trio::BrokenResourceError&) {
    return Out::kBroken;
  } catch (const trio::EndOfChannel&) {
    return Out::kEnd;
  }
}

Task<> run_op(Op* op, Harness* hx) {
  co_await op->scope.enter([&]() -> Task<> {
    try {
      if (op->sending) {
        co_await hx->tx[op->handle]->send(op->value);
        op->actual = Out::kSent;
      } else if (op->or_end) {
        std::optional<int> v = co_await hx->rx[op->handle]->receive_or_end();
        op->actual = v ? Out::kGot : Out::kEnd;
        op->actual_value = v.value_or(-1);
      } else {
        op->actual_value = co_await hx->rx[op->handle]->receive();
        op->actual = Out::kGot;
      }
    } catch (const trio::ClosedResourceError&) {
      op->actual = Out::kClosed;
    } catch (const trio::BrokenResourceError&) {
      op->actual = Out::kBroken;
    } catch (const trio::EndOfChannel&) {
      op->actual = Out::kEnd;
    }
  });
  if (op->scope.cancelled_caught()) op->actual = Out::kCancelled;
}

void compare(Harness& hx, const Model& m, const std::string& step) {
  const trio::MemoryChannelStatistics s = hx.tx[0]->statistics();
  hx.expect(s.current_buffer_used == m.buffer.size(),
            step + ": current_buffer_used " + std::to_string(s.current_buffer_used) + " != model " +
                std::to_string(m.buffer.size()));
  hx.expect(s.peak_buffer_used == m.peak, step + ": peak_buffer_used differs");
  hx.expect(s.open_send_channels == m.open(m.send_open), step + ": open_send_channels differs");
  hx.expect(s.open_receive_channels == m.open(m.receive_open),
            step + ": open_receive_channels differs");
  hx.expect(s.tasks_waiting_send == m.senders.size(), step + ": tasks_waiting_send differs");
  hx.expect(s.tasks_waiting_receive == m.receivers.size(),
            step + ": tasks_waiting_receive differs");
  for (size_t i = 0; i < hx.ops.size(); ++i) {
    const Op& op = *hx.ops[i];
    hx.expect(op.actual == op.expected && op.actual_value == op.expected_value,
              step + ": op " + std::to_string(i) + " is " + name(op.actual) + "(" +
                  std::to_string(op.actual_value) + "), model says " + name(op.expected) + "(" +
                  std::to_string(op.expected_value) + ")");
  }
}

Task<> drive(const std::vector<Cmd>* cmds, int64_t max_buffer, Harness* hx) {
  Model m(max_buffer);
  {
    trio::MemorySendChannel<int> s;
    trio::MemoryReceiveChannel<int> r;
    std::tie(s, r) = trio::open_memory_channel<int>(max_buffer);
    hx->tx.push_back(std::make_unique<trio::MemorySendChannel<int>>(std::move(s)));
    hx->rx.push_back(std::make_unique<trio::MemoryReceiveChannel<int>>(std::move(r)));
  }
  int next_value = 0;
  co_await trio::open_nursery([&](trio::Nursery& n) -> Task<> {
    for (size_t i = 0; i < cmds->size() && hx->failure.empty(); ++i) {
      const Cmd& c = (*cmds)[i];
      const size_t hs = c.pick % hx->tx.size(), hr = c.pick % hx->rx.size();
      const std::string step = "step " + std::to_string(i) + " (" + kKindNames[c.kind] + ")";
      switch (c.kind) {
        case kSendNowait: {
          const int v = next_value++;
          const Out got = outcome_of([&] { hx->tx[hs]->send_nowait(v); });
          const Out want = m.send_now(hs, v);
          hx->expect(got == want, step + ": " + name(got) + ", model says " + name(want));
          break;
        }
        case kReceiveNowait: {
          int v = -1, want_v = -1;
          const Out got = outcome_of([&] { v = hx->rx[hr]->receive_nowait(); });
          const Out want = m.receive_now(hr, &want_v);
          hx->expect((got == Out::kSent ? Out::kGot : got) == want && v == want_v,
                     step + ": " + name(got) + "(" + std::to_string(v) + "), model says " +
                         name(want) + "(" + std::to_string(want_v) + ")");
          break;
        }
        case kSend:
        case kReceive:
        case kReceiveOrEnd: {
          auto op = std::make_unique<Op>();
          op->sending = c.kind == kSend;
          op->or_end = c.kind == kReceiveOrEnd;
          op->handle = op->sending ? hs : hr;
          if (op->sending) op->value = next_value++;
          m.start(op.get());
          n.start_soon(run_op, op.get(), hx);
          hx->ops.push_back(std::move(op));
          break;
        }
        case kCloneSend:
        case kCloneReceive: {
          const bool sending = c.kind == kCloneSend;
          if ((sending ? hx->tx.size() : hx->rx.size()) >= 5) break;
          const bool open = sending ? m.send_open[hs] : m.receive_open[hr];
          Out got = outcome_of([&] {
            if (sending)
              hx->tx.push_back(std::make_unique<trio::MemorySendChannel<int>>(hx->tx[hs]->clone()));
            else
              hx->rx.push_back(
                  std::make_unique<trio::MemoryReceiveChannel<int>>(hx->rx[hr]->clone()));
          });
          hx->expect(got == (open ? Out::kSent : Out::kClosed), step + ": " + name(got));
          if (open) (sending ? m.send_open : m.receive_open).push_back(true);
          break;
        }
        case kCloseSend:
          hx->tx[hs]->close();
          m.close_send(hs);
          break;
        case kCloseReceive:
          hx->rx[hr]->close();
          m.close_receive(hr);
          break;
        case kCancel:
          if (!hx->ops.empty()) {
            Op* op = hx->ops[c.pick % hx->ops.size()].get();
            if (op->expected == Out::kPending) op->scope.cancel();
            m.cancel(op);
          }
          break;
      }
      co_await trio::lowlevel::wait_all_tasks_blocked();
      compare(*hx, m, step);
    }
    // Closing every handle ends every blocked operation.
    for (size_t h = 0; h < hx->tx.size(); ++h) {
      hx->tx[h]->close();
      m.close_send(h);
    }
    for (size_t h = 0; h < hx->rx.size(); ++h) {
      hx->rx[h]->close();
      m.close_receive(h);
    }
    co_await trio::lowlevel::wait_all_tasks_blocked();
    compare(*hx, m, "after closing everything");
  });
}

}  // namespace

RC_GTEST_PROP(MemoryChannelModel, EveryCommandSequenceAgreesWithTheQueueModel, ()) {
  const int64_t max_buffer = *rc::gen::element<int64_t>(0, 1, 3, trio::kUnbounded);
  const auto policy =
      *rc::gen::element(trio::SchedulingPolicy::kCoinFlip, trio::SchedulingPolicy::kShuffle,
                        trio::SchedulingPolicy::kFifo, trio::SchedulingPolicy::kLifo);
  const uint64_t seed = *rc::gen::arbitrary<uint64_t>();
  const auto cmds =
      *rc::gen::resize(60, rc::gen::container<std::vector<Cmd>>(rc::gen::construct<Cmd>(
                               rc::gen::weightedElement<int>({{4, kSendNowait},
                                                              {4, kReceiveNowait},
                                                              {6, kSend},
                                                              {5, kReceive},
                                                              {3, kReceiveOrEnd},
                                                              {1, kCloneSend},
                                                              {1, kCloneReceive},
                                                              {1, kCloseSend},
                                                              {1, kCloseReceive},
                                                              {3, kCancel}}),
                               rc::gen::inRange(0, 64))));
  std::string listing = "buffer " + std::to_string(max_buffer) + ":";
  for (const Cmd& c : cmds)
    listing += std::string(" ") + kKindNames[c.kind] + "/" + std::to_string(c.pick);
  RC_LOG() << listing << "\n";

  Harness hx;
  trio::MockClock clock;
  clock.set_autojump_threshold(0s);
  trio::run(trio::RunOptions{.clock = &clock, .seed = seed, .scheduling = policy}, drive, &cmds,
            max_buffer, &hx);
  hx.tx.clear();
  hx.rx.clear();
  RC_ASSERT(trio::lowlevel::live_frames() == 0);
  if (!hx.failure.empty()) RC_FAIL(hx.failure);
}
