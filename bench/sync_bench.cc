// SPDX-License-Identifier: Apache-2.0 OR MIT
//
// Benchmarks of the synchronization primitives and memory channels, side by side with Asio's
// channel (asio::experimental::channel, Asio 1.22) in the same binary.
//
//   ./bazelw run --config=opt //bench:sync_bench
//
// Every blocking trio call is a checkpoint, so each trio benchmark also measures, in the same
// run, the cost of `co_await trio::checkpoint()` (one task looping) and reports:
//   op_ns          time per operation (the benchmark's own clock, real time)
//   checkpoint_ns  time per checkpoint in the same run
//   checkpoints    the operation's checkpoints (what Trio's semantics require it to contain)
//   excess_ns      op_ns - checkpoints * checkpoint_ns: the cost beyond its checkpoints
//
// Scenarios:
//   RendezvousPingPong   two tasks, two rendezvous channels; one round trip = 2 sends and
//                        2 receives (4 checkpoints)
//   BufferedSendReceive  one task: send then receive on a buffered channel (2 checkpoints)
//   LockAcquireRelease   uncontended Lock acquire + release (1 checkpoint)
//   EventSetWakes        Event.set waking N waiters, each of which then waits again (per waiter:
//                        1 checkpoint, its wait)
//   AsioChannelPingPong  asio: the same ping-pong over two unbuffered channels
//   AsioChannelBuffered  asio: send then receive on a buffered channel
#include <benchmark/benchmark.h>

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/experimental/channel.hpp>
#include <asio/io_context.hpp>
#include <asio/use_awaitable.hpp>
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <tuple>
#include <utility>

#include "runtime/channel.h"
#include "runtime/sync.h"
#include "runtime/trio.h"
#include "simclock/mock_clock.h"

using namespace std::chrono_literals;

namespace {

using SteadyClock = std::chrono::steady_clock;

trio::RunOptions sim_options(trio::MockClock& clock) {
  clock.set_autojump_threshold(0s);
  return trio::RunOptions{.clock = &clock, .seed = 1};
}

double ns_since(SteadyClock::time_point t0) {
  return std::chrono::duration<double, std::nano>(SteadyClock::now() - t0).count();
}

// ns per `co_await trio::checkpoint()` in the calling task.
trio::Task<double> checkpoint_ns(int64_t n) {
  const auto t0 = SteadyClock::now();
  for (int64_t i = 0; i < n; ++i) co_await trio::checkpoint();
  co_return ns_since(t0) / static_cast<double>(n);
}

void report(benchmark::State& state, double loop_ns, int64_t ops, double checkpoint, double k) {
  const double op = loop_ns / static_cast<double>(ops);
  state.counters["op_ns"] = op;
  state.counters["checkpoint_ns"] = checkpoint;
  state.counters["checkpoints"] = k;
  state.counters["excess_ns"] = op - k * checkpoint;
  state.SetItemsProcessed(ops);
}

constexpr int64_t kCheckpointSamples = 1 << 20;

// The timed loops. Each runs in a small coroutine of its own, as checkpoint_ns() does, so that
// op_ns and checkpoint_ns are measured the same way and excess_ns is the operations' own cost
// (not the code generated for a large benchmark lambda around them). The values received are
// summed and the sum kept, instead of DoNotOptimize on each (its memory clobber would make the
// compiler reload everything on every iteration).

// ns per iteration of: send a value on `tx`, then receive one from `rx`.
trio::Task<double> send_receive_loop(benchmark::State& state, trio::MemorySendChannel<int>& tx,
                                     trio::MemoryReceiveChannel<int>& rx) {
  int64_t sum = 0;
  const auto t0 = SteadyClock::now();
  for (auto _ : state) {
    co_await tx.send(1);
    sum += co_await rx.receive();
  }
  const double loop_ns = ns_since(t0);
  benchmark::DoNotOptimize(std::as_const(sum));
  co_return loop_ns;
}

trio::Task<double> lock_loop(benchmark::State& state, trio::Lock& lock) {
  const auto t0 = SteadyClock::now();
  for (auto _ : state) {
    co_await lock.acquire();
    lock.release();
  }
  co_return ns_since(t0);
}

void BM_RendezvousPingPong(benchmark::State& state) {
  trio::MockClock clock;
  trio::run(sim_options(clock), [&]() -> trio::Task<> {
    trio::MemorySendChannel<int> ping_tx;
    trio::MemoryReceiveChannel<int> ping_rx;
    std::tie(ping_tx, ping_rx) = trio::open_memory_channel<int>(0);
    trio::MemorySendChannel<int> pong_tx;
    trio::MemoryReceiveChannel<int> pong_rx;
    std::tie(pong_tx, pong_rx) = trio::open_memory_channel<int>(0);
    double loop_ns = 0;
    co_await trio::open_nursery([&](trio::Nursery& n) -> trio::Task<> {
      n.start_soon([&]() -> trio::Task<> {  // the echo task
        while (std::optional<int> v = co_await ping_rx.receive_or_end()) co_await pong_tx.send(*v);
      });
      loop_ns = co_await send_receive_loop(state, ping_tx, pong_rx);
      ping_tx.close();
    });
    report(state, loop_ns, state.iterations(), co_await checkpoint_ns(kCheckpointSamples), 4);
  });
}
BENCHMARK(BM_RendezvousPingPong)->UseRealTime();

void BM_BufferedSendReceive(benchmark::State& state) {
  trio::MockClock clock;
  trio::run(sim_options(clock), [&]() -> trio::Task<> {
    trio::MemorySendChannel<int> tx;
    trio::MemoryReceiveChannel<int> rx;
    std::tie(tx, rx) = trio::open_memory_channel<int>(16);
    const double loop_ns = co_await send_receive_loop(state, tx, rx);
    report(state, loop_ns, state.iterations(), co_await checkpoint_ns(kCheckpointSamples), 2);
  });
}
BENCHMARK(BM_BufferedSendReceive)->UseRealTime();

void BM_LockAcquireRelease(benchmark::State& state) {
  trio::MockClock clock;
  trio::run(sim_options(clock), [&]() -> trio::Task<> {
    trio::Lock lock;
    const double loop_ns = co_await lock_loop(state, lock);
    report(state, loop_ns, state.iterations(), co_await checkpoint_ns(kCheckpointSamples), 1);
  });
}
BENCHMARK(BM_LockAcquireRelease)->UseRealTime();

// One round of BM_EventSetWakes: the waiters wait on `go`; the last to wake sets `done` and
// every waiter moves on to `next` (linked before `go` is set).
struct EventRound {
  trio::Event go;
  trio::Event done;
  EventRound* next = nullptr;
};

trio::Task<> event_waiter(EventRound* round, int64_t waiters, int64_t& arrived) {
  for (;;) {
    co_await round->go.wait();
    if (++arrived == waiters) {
      arrived = 0;
      round->done.set();
    }
    round = round->next;
  }
}

void BM_EventSetWakes(benchmark::State& state) {
  const int64_t waiters = state.range(0);
  trio::MockClock clock;
  trio::run(sim_options(clock), [&]() -> trio::Task<> {
    std::deque<EventRound> rounds(1);  // a deque keeps every round in place as rounds are added
    int64_t arrived = 0;
    double loop_ns = 0;
    co_await trio::open_nursery([&](trio::Nursery& n) -> trio::Task<> {
      for (int64_t i = 0; i < waiters; ++i)
        n.start_soon(event_waiter, &rounds[0], waiters, std::ref(arrived));
      co_await trio::lowlevel::wait_all_tasks_blocked();
      EventRound* round = &rounds[0];
      const auto t0 = SteadyClock::now();
      for (auto _ : state) {
        round->next = &rounds.emplace_back();
        round->go.set();
        co_await round->done.wait();
        round = round->next;
      }
      loop_ns = ns_since(t0);
      n.cancel_scope().cancel();
    });
    report(state, loop_ns, state.iterations() * waiters, co_await checkpoint_ns(kCheckpointSamples),
           1);
  });
}
BENCHMARK(BM_EventSetWakes)->Arg(100)->Arg(1000)->Arg(10000)->UseRealTime();

// ---- Asio peer ---------------------------------------------------------------------------------

using AsioChannel = asio::experimental::channel<void(asio::error_code, int)>;

void BM_AsioChannelPingPong(benchmark::State& state) {
  asio::io_context ctx(1);
  AsioChannel ping(ctx, 0), pong(ctx, 0);
  asio::co_spawn(
      ctx,
      [&]() -> asio::awaitable<void> {
        try {
          for (;;) {
            const int v = co_await ping.async_receive(asio::use_awaitable);
            co_await pong.async_send(asio::error_code{}, v, asio::use_awaitable);
          }
        } catch (const std::exception&) {  // the channel was closed
        }
      },
      asio::detached);
  asio::co_spawn(
      ctx,
      [&]() -> asio::awaitable<void> {
        for (auto _ : state) {
          co_await ping.async_send(asio::error_code{}, 1, asio::use_awaitable);
          benchmark::DoNotOptimize(co_await pong.async_receive(asio::use_awaitable));
        }
        ping.close();
      },
      asio::detached);
  ctx.run();
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_AsioChannelPingPong)->UseRealTime();

void BM_AsioChannelBuffered(benchmark::State& state) {
  asio::io_context ctx(1);
  AsioChannel ch(ctx, 16);
  asio::co_spawn(
      ctx,
      [&]() -> asio::awaitable<void> {
        for (auto _ : state) {
          co_await ch.async_send(asio::error_code{}, 1, asio::use_awaitable);
          benchmark::DoNotOptimize(co_await ch.async_receive(asio::use_awaitable));
        }
      },
      asio::detached);
  ctx.run();
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_AsioChannelBuffered)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
