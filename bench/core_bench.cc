// SPDX-License-Identifier: Apache-2.0 OR MIT
//
// Core runtime benchmarks, side by side with standalone Asio 1.22 in the same binary.
// Python Trio figures come from bench/trio_peer.py, run by bench/run_all.sh.
//
//   ./bazelw run --config=opt //bench:core_bench
//
// Scenarios (per operation):
//   Spawn/Join     spawn a trivial child into one nursery, N at a time, then join them all
//   SpawnJoinOne   open a nursery, spawn one trivial child, join it
//   Checkpoint     co_await trio::checkpoint() in a loop (one task)
//   ScopeEnterExit enter + exit a CancelScope around a body that does not block
//   MoveOnAfter    move_on_after(1h) around a body that does not block
//   Sleepers       100k tasks each sleeping a distinct time on an autojump MockClock
//   AsioPost       asio: co_await post(executor) (Asio's yield)
//   AsioSpawnJoin  asio: co_await co_spawn(trivial child, use_awaitable)
#include <benchmark/benchmark.h>

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/io_context.hpp>
#include <asio/post.hpp>
#include <asio/use_awaitable.hpp>
#include <chrono>
#include <cstdint>
#include <utility>

#include "runtime/trio.h"
#include "simclock/mock_clock.h"

using namespace std::chrono_literals;

namespace {

trio::RunOptions sim_options(trio::MockClock& clock) {
  clock.set_autojump_threshold(0s);
  return trio::RunOptions{.clock = &clock, .seed = 1};
}

trio::Task<> trivial() { co_return; }

void BM_SpawnJoin(benchmark::State& state) {
  const int64_t batch = state.range(0);
  trio::MockClock clock;
  trio::run(sim_options(clock), [&]() -> trio::Task<> {
    for (auto _ : state) {
      co_await trio::open_nursery([&](trio::Nursery& n) -> trio::Task<> {
        for (int64_t i = 0; i < batch; ++i) n.start_soon(trivial);
        co_return;
      });
    }
  });
  state.SetItemsProcessed(state.iterations() * batch);
}
BENCHMARK(BM_SpawnJoin)->Arg(1)->Arg(100)->Arg(10000);

void BM_Checkpoint(benchmark::State& state) {
  trio::MockClock clock;
  trio::run(sim_options(clock), [&]() -> trio::Task<> {
    for (auto _ : state) co_await trio::checkpoint();
  });
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Checkpoint);

void BM_CheckpointTwoTasks(benchmark::State& state) {
  // Two tasks alternating: each batch holds two steps.
  trio::MockClock clock;
  trio::run(sim_options(clock), [&]() -> trio::Task<> {
    bool done = false;
    co_await trio::open_nursery([&](trio::Nursery& n) -> trio::Task<> {
      n.start_soon([&]() -> trio::Task<> {
        while (!done) co_await trio::checkpoint();
      });
      for (auto _ : state) co_await trio::checkpoint();
      done = true;
    });
  });
  state.SetItemsProcessed(state.iterations() * 2);
}
BENCHMARK(BM_CheckpointTwoTasks);

void BM_ScopeEnterExit(benchmark::State& state) {
  trio::MockClock clock;
  trio::run(sim_options(clock), [&]() -> trio::Task<> {
    for (auto _ : state) {
      trio::CancelScope scope;
      co_await scope.enter([&]() -> trio::Task<> { co_return; });
    }
  });
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_ScopeEnterExit);

void BM_MoveOnAfter(benchmark::State& state) {
  trio::MockClock clock;
  trio::run(sim_options(clock), [&]() -> trio::Task<> {
    for (auto _ : state) {
      bool moved = co_await trio::move_on_after(1h, [&]() -> trio::Task<> { co_return; });
      benchmark::DoNotOptimize(std::as_const(moved));
    }
  });
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_MoveOnAfter);

trio::Task<> sleeper(int64_t i) { co_await trio::sleep(std::chrono::microseconds(i + 1)); }

void BM_AutojumpSleepers(benchmark::State& state) {
  const int64_t n = state.range(0);
  for (auto _ : state) {
    trio::MockClock clock;
    trio::run(sim_options(clock), [&]() -> trio::Task<> {
      co_await trio::open_nursery([&](trio::Nursery& nursery) -> trio::Task<> {
        for (int64_t i = 0; i < n; ++i) nursery.start_soon(sleeper, i);
        co_return;
      });
    });
  }
  state.SetItemsProcessed(state.iterations() * n);
}
BENCHMARK(BM_AutojumpSleepers)->Arg(100000)->Unit(benchmark::kMillisecond);

// Memory: bytes of runtime state per blocked task, beyond its coroutine frames. Reported as
// counters (the time is irrelevant).
void BM_MemoryPerBlockedTask(benchmark::State& state) {
  for (auto _ : state) {
  }
  state.counters["task_record_bytes"] = sizeof(trio::lowlevel::TaskRecord);
  state.counters["root_frame_overhead_bytes"] =
      sizeof(trio::lowlevel::TaskRecord) + sizeof(trio::internal::PromiseCore);
}
BENCHMARK(BM_MemoryPerBlockedTask)->Iterations(1);

// ---- Asio peer -----------------------------------------------------------------------------

asio::awaitable<void> asio_trivial() { co_return; }

void BM_AsioPost(benchmark::State& state) {
  asio::io_context ctx(1);
  asio::co_spawn(
      ctx,
      [&]() -> asio::awaitable<void> {
        auto ex = co_await asio::this_coro::executor;
        for (auto _ : state) co_await asio::post(ex, asio::use_awaitable);
      },
      asio::detached);
  ctx.run();
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_AsioPost);

void BM_AsioSpawnJoin(benchmark::State& state) {
  asio::io_context ctx(1);
  asio::co_spawn(
      ctx,
      [&]() -> asio::awaitable<void> {
        auto ex = co_await asio::this_coro::executor;
        for (auto _ : state) co_await asio::co_spawn(ex, asio_trivial(), asio::use_awaitable);
      },
      asio::detached);
  ctx.run();
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_AsioSpawnJoin);

}  // namespace

BENCHMARK_MAIN();
