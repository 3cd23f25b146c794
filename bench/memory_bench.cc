// SPDX-License-Identifier: Apache-2.0 OR MIT
//
// Memory per blocked task: spawns N tasks that block in sleep_forever(), counts the bytes the
// process allocated while they were being spawned and blocked, and subtracts the task
// function's own coroutine frame. What remains is the runtime's state per blocked task (the
// task record, the root frame holding the callable and its arguments, run-queue and
// cancel-tree links — everything trio-cpp adds).
//
//   ./bazelw run --config=opt //bench:memory_bench
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <new>

#include "runtime/trio.h"
#include "simclock/mock_clock.h"

namespace {
std::atomic<size_t> g_bytes{0};
std::atomic<size_t> g_allocs{0};
}  // namespace

void* operator new(size_t n) {
  g_bytes += n;
  ++g_allocs;
  if (void* p = std::malloc(n)) return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, size_t) noexcept { std::free(p); }

namespace {

trio::Task<> blocked() { co_await trio::sleep_forever(); }

constexpr int kTasks = 10000;

}  // namespace

int main() {
  using namespace std::chrono_literals;
  // The user's frame alone: create (and destroy) one unstarted `blocked()` coroutine.
  size_t before = g_bytes;
  { auto t = blocked(); }
  const size_t user_frame = g_bytes - before;

  trio::MockClock clock;
  clock.set_autojump_threshold(0s);
  size_t per_task = 0, allocs_per_task = 0;
  trio::run(trio::RunOptions{.clock = &clock, .seed = 1}, [&]() -> trio::Task<> {
    co_await trio::open_nursery([&](trio::Nursery& n) -> trio::Task<> {
      const size_t b0 = g_bytes, a0 = g_allocs;
      for (int i = 0; i < kTasks; ++i) n.start_soon(blocked);
      co_await trio::lowlevel::wait_all_tasks_blocked();
      per_task = (g_bytes - b0) / kTasks;
      allocs_per_task = (g_allocs - a0) / kTasks;
      n.cancel_scope().cancel();
    });
  });
  std::printf("bytes allocated per blocked task:   %zu (%zu allocations)\n", per_task,
              allocs_per_task);
  std::printf("  of which the task's own frame:    %zu\n", user_frame);
  std::printf("  runtime state beyond its frame:   %zu (target <= 256)\n", per_task - user_frame);
  std::printf("sizeof(TaskRecord):                 %zu\n", sizeof(trio::lowlevel::TaskRecord));
  return 0;
}
