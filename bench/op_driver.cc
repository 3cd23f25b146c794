// SPDX-License-Identifier: Apache-2.0 OR MIT
//
// Runs one scenario a fixed number of times, for counting instructions per operation with
// callgrind (bench/instructions.sh): the difference between two iteration counts cancels the
// fixed costs. Instruction counts do not vary from run to run as timings do on a shared VM, so
// they are how small changes to a hot path are compared.
//
//   op_driver <scenario> <iterations>
//   scenarios: cp (checkpoint), cp2 (two tasks checkpointing, per pair), buf (buffered send +
//   receive), lock (acquire + release),
//              rdv (rendezvous round trip), spawn (spawn + join, per child, batches of 100),
//              event (Event.set, per woken waiter, 100 waiters)
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <tuple>

#include "runtime/channel.h"
#include "runtime/sync.h"
#include "runtime/trio.h"
#include "simclock/mock_clock.h"

using namespace std::chrono_literals;
volatile int sink;

trio::Task<> cp(long n) {
  for (long i = 0; i < n; ++i) co_await trio::checkpoint();
}
// Two tasks checkpointing side by side (every batch holds both); n = checkpoints of each.
trio::Task<> cp2(long n) {
  co_await trio::open_nursery([&](trio::Nursery& nur) -> trio::Task<> {
    nur.start_soon([n]() -> trio::Task<> {
      for (long i = 0; i < n; ++i) co_await trio::checkpoint();
    });
    for (long i = 0; i < n; ++i) co_await trio::checkpoint();
  });
}
trio::Task<> buf(long n) {
  trio::MemorySendChannel<int> tx;
  trio::MemoryReceiveChannel<int> rx;
  std::tie(tx, rx) = trio::open_memory_channel<int>(16);
  for (long i = 0; i < n; ++i) {
    co_await tx.send(1);
    sink = co_await rx.receive();
  }
}
trio::Task<> lock(long n) {
  trio::Lock lock;
  for (long i = 0; i < n; ++i) {
    co_await lock.acquire();
    lock.release();
  }
}
trio::Task<> rdv(long n) {
  trio::MemorySendChannel<int> ping_tx;
  trio::MemoryReceiveChannel<int> ping_rx;
  std::tie(ping_tx, ping_rx) = trio::open_memory_channel<int>(0);
  trio::MemorySendChannel<int> pong_tx;
  trio::MemoryReceiveChannel<int> pong_rx;
  std::tie(pong_tx, pong_rx) = trio::open_memory_channel<int>(0);
  co_await trio::open_nursery([&](trio::Nursery& nur) -> trio::Task<> {
    nur.start_soon([&]() -> trio::Task<> {
      while (std::optional<int> v = co_await ping_rx.receive_or_end()) co_await pong_tx.send(*v);
    });
    for (long i = 0; i < n; ++i) {
      co_await ping_tx.send(1);
      sink = co_await pong_rx.receive();
    }
    ping_tx.close();
  });
}
trio::Task<> spawn(long n) {
  for (long i = 0; i < n / 100; ++i) {
    co_await trio::open_nursery([&](trio::Nursery& nur) -> trio::Task<> {
      for (int j = 0; j < 100; ++j) nur.start_soon([]() -> trio::Task<> { co_return; });
      co_return;
    });
  }
}
// Event.set waking 100 waiters per round (n = waiter wake-ups).
trio::Task<> event(long n) {
  const long waiters = 100;
  std::deque<trio::Event> events(1), done(1);
  long arrived = 0;
  co_await trio::open_nursery([&](trio::Nursery& nur) -> trio::Task<> {
    for (long i = 0; i < waiters; ++i) {
      nur.start_soon([&]() -> trio::Task<> {
        for (size_t g = 0;; ++g) {
          co_await events[g].wait();
          if (++arrived == waiters) {
            arrived = 0;
            done[g].set();
          }
        }
      });
    }
    co_await trio::lowlevel::wait_all_tasks_blocked();
    for (long g = 0; g < n / waiters; ++g) {
      events.emplace_back();
      done.emplace_back();
      events[g].set();
      co_await done[g].wait();
    }
    nur.cancel_scope().cancel();
  });
}

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: op_driver cp|cp2|buf|lock|rdv|spawn|event <iterations>\n");
    return 2;
  }
  const char* what = argv[1];
  const long n = std::atol(argv[2]);
  trio::MockClock clock;
  clock.set_autojump_threshold(0s);
  trio::RunOptions opts{.clock = &clock, .seed = 1};
  trio::run(opts, [&]() -> trio::Task<> {
    if (!std::strcmp(what, "cp")) co_await cp(n);
    if (!std::strcmp(what, "cp2")) co_await cp2(n);
    if (!std::strcmp(what, "buf")) co_await buf(n);
    if (!std::strcmp(what, "lock")) co_await lock(n);
    if (!std::strcmp(what, "rdv")) co_await rdv(n);
    if (!std::strcmp(what, "spawn")) co_await spawn(n);
    if (!std::strcmp(what, "event")) co_await event(n);
  });
  return 0;
}
