// SPDX-License-Identifier: Apache-2.0 OR MIT
//
// Simulation throughput: how fast the deterministic harness runs scenarios on virtual time.
//
//   ./bazelw run --config=opt //bench:harness_bench
//
// Scenarios:
//   SimEvents/counting    a mixed simulation (see mixed_scenario) with an instrument that only
//                         counts events: simulated events per second
//   SimEvents/trace_hash  the same with a TraceRecorder that hashes every event and stores none
//                         (what a determinism check pays)
//   SimEvents/trace_full  the same, storing the whole trace (what a failing seed's report pays)
//   DemoSeeds             the main demo's fixed job pool (examples/demo_job_pool.h), one fresh
//                         run per seed: seeds per second
//
// An event is one instrument callback: a task spawned, scheduled, stepped, exited, or the run
// going idle (the same events a TraceRecorder records, one trace line each).
#include <benchmark/benchmark.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <tuple>
#include <utility>

#include "examples/demo_job_pool.h"
#include "runtime/channel.h"
#include "runtime/sync.h"
#include "runtime/trio.h"
#include "simclock/mock_clock.h"
#include "testing/trace.h"

using namespace std::chrono_literals;

namespace {

class CountingInstrument : public trio::Instrument {
 public:
  uint64_t events = 0;
  void task_spawned(trio::lowlevel::TaskRecord&) override { ++events; }
  void task_scheduled(trio::lowlevel::TaskRecord&) override { ++events; }
  void before_task_step(trio::lowlevel::TaskRecord&) override { ++events; }
  void after_task_step(trio::lowlevel::TaskRecord&) override { ++events; }
  void task_exited(trio::lowlevel::TaskRecord&) override { ++events; }
  void before_io_wait(trio::Duration) override { ++events; }
};

// 64 producers each send 32 items through a lock-protected counter and a buffered channel,
// sleeping a pseudo-random 0..7 ms between items; 4 consumers drain the channel. Timers, wake-ups,
// a contended lock and channel hand-offs: the mix a simulated service produces.
trio::Task<> mixed_scenario() {
  trio::Lock lock;
  int64_t sent = 0;
  trio::MemorySendChannel<int> tx;
  trio::MemoryReceiveChannel<int> rx;
  std::tie(tx, rx) = trio::open_memory_channel<int>(8);
  co_await trio::open_nursery([&](trio::Nursery& n) -> trio::Task<> {
    for (int c = 0; c < 4; ++c) {
      n.start_soon([&, receiver = rx.clone()]() mutable -> trio::Task<> {
        while (std::optional<int> v = co_await receiver.receive_or_end())
          benchmark::DoNotOptimize(std::as_const(*v));
      });
    }
    rx.close();
    co_await trio::open_nursery([&](trio::Nursery& producers) -> trio::Task<> {
      for (int p = 0; p < 64; ++p) {
        producers.start_soon([&, p, sender = tx.clone()]() mutable -> trio::Task<> {
          uint32_t state = static_cast<uint32_t>(p) * 2654435761u + 1;
          for (int i = 0; i < 32; ++i) {
            state = state * 1664525u + 1013904223u;
            co_await trio::sleep(std::chrono::milliseconds(state >> 29));
            {
              auto guard = co_await lock.acquire_guard();
              ++sent;
            }
            co_await sender.send(i);
          }
        });
      }
      co_return;
    });
    tx.close();
  });
  if (sent != 64 * 32) throw std::logic_error("mixed_scenario lost items");
}

uint64_t run_mixed(uint64_t seed, trio::Instrument* instrument) {
  trio::MockClock clock;
  clock.set_autojump_threshold(0s);
  trio::RunOptions options{.clock = &clock, .seed = seed};
  if (instrument) options.instruments.push_back(instrument);
  trio::run(options, mixed_scenario);
  return 0;
}

void BM_SimEventsCounting(benchmark::State& state) {
  CountingInstrument counter;
  uint64_t seed = 0;
  for (auto _ : state) run_mixed(seed++, &counter);
  state.counters["events_per_run"] =
      static_cast<double>(counter.events) / static_cast<double>(state.iterations());
  state.counters["events_per_s"] =
      benchmark::Counter(static_cast<double>(counter.events), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_SimEventsCounting)
    ->Name("SimEvents/counting")
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);

void BM_SimEventsTrace(benchmark::State& state) {
  trio::testing::TraceRecorder recorder(static_cast<size_t>(state.range(0)));
  uint64_t seed = 0;
  uint64_t events = 0;
  for (auto _ : state) {
    run_mixed(seed++, &recorder);
    events += recorder.event_count();
    benchmark::DoNotOptimize(recorder.hash());
  }
  state.counters["events_per_s"] =
      benchmark::Counter(static_cast<double>(events), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_SimEventsTrace)
    ->Name("SimEvents/trace_hash")
    ->Arg(0)
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);
BENCHMARK(BM_SimEventsTrace)
    ->Name("SimEvents/trace_full")
    ->Arg(int64_t{1} << 20)
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);

void BM_DemoSeeds(benchmark::State& state) {
  uint64_t seed = 0;
  for (auto _ : state) {
    trio::MockClock clock;
    clock.set_autojump_threshold(0s);
    trio::run(trio::RunOptions{.clock = &clock, .seed = seed++}, examples::job_pool_scenario,
              examples::ScenarioConfig{.fixed = true});
  }
  state.counters["seeds_per_s"] =
      benchmark::Counter(static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_DemoSeeds)->UseRealTime()->Unit(benchmark::kMicrosecond);

}  // namespace

BENCHMARK_MAIN();
