// SPDX-License-Identifier: Apache-2.0 OR MIT
//
// Time in a run: `current_time`, `sleep`, `sleep_until`, `sleep_forever`.
//
// All of them read the run's clock (see clock.h), never the OS clock directly, so under a
// MockClock they run in virtual time.
//
//   co_await trio::sleep(100ms);            // a checkpoint even for 0
//   co_await trio::sleep_until(trio::current_time() + 1s);
//   co_await trio::sleep_forever();         // until cancelled
//
// Each is a cancel point and a schedule point. `sleep(d)` with d < 0 or NaN: ValueError
// ("`seconds` must be non-negative"); `sleep(0)` is exactly `checkpoint()`; a deadline in the
// past still checkpoints.
#ifndef TRIO_RUNTIME_SLEEP_H_
#define TRIO_RUNTIME_SLEEP_H_

#include <chrono>
#include <coroutine>

#include "runtime/internal/task_record.h"
#include "runtime/lowlevel.h"
#include "runtime/task.h"
#include "runtime/time.h"

namespace trio {

// The current time on the run's clock. RuntimeError outside a run.
TimePoint current_time();

namespace internal {
// Blocks `task` until `deadline` (runner.cc). relative: deadline = now + delay.
void sleep_suspend(TaskRec* task, std::coroutine_handle<> h, AbortHook* hook, bool relative,
                   Duration delay, TimePoint deadline);
bool sleep_abort(TaskRec* task) noexcept;

struct [[nodiscard]] SleepAwaiter final : AbortHook {
  bool relative;
  Duration delay;
  TimePoint deadline;
  TaskRec* task = nullptr;
  SleepAwaiter(bool r, Duration d, TimePoint t) : relative(r), delay(d), deadline(t) {}
  bool await_ready() const noexcept { return false; }
  template <TrioPromise P>
  void await_suspend(std::coroutine_handle<P> h) {
    task = h.promise().task;
    if (relative && delay == Duration(0))
      checkpoint_suspend(task, h, true);
    else
      sleep_suspend(task, h, this, relative, delay, deadline);
  }
  void await_resume() {
    rethrow_if_outcome(task);
    // Woken by the deadline. Trio's sleep is a scope around sleep_forever(): that scope swallows
    // its own Cancelled only if no outer cancellation is visible when it exits. So if an outer
    // scope was cancelled meanwhile (even at the same instant), the sleep raises Cancelled.
    if (is_effectively_cancelled(task)) std::rethrow_exception(task->runner->make_cancelled(task));
  }
  bool try_abort(TaskRec& t) override { return sleep_abort(&t); }
};

struct [[nodiscard]] SleepForeverAwaiter final : AbortHook {
  TaskRec* task = nullptr;
  bool await_ready() const noexcept { return false; }
  template <TrioPromise P>
  void await_suspend(std::coroutine_handle<P> h) {
    task = h.promise().task;
    block_suspend(task, h, this, "sleep_forever");
  }
  void await_resume();
  bool try_abort(TaskRec&) override { return true; }
};
}  // namespace internal

template <class Rep, class Period>
internal::SleepAwaiter sleep(std::chrono::duration<Rep, Period> duration) {
  return internal::SleepAwaiter(true, internal::to_duration(duration, "`seconds`"), kInf);
}

// Sleeps until `deadline` on the run's clock (kInf = forever).
inline internal::SleepAwaiter sleep_until(TimePoint deadline) {
  return internal::SleepAwaiter(false, Duration(0), deadline);
}

// Blocks until cancelled. Rescheduling it by hand: RuntimeError("Should never have been
// rescheduled!").
inline internal::SleepForeverAwaiter sleep_forever() { return {}; }

}  // namespace trio

#endif  // TRIO_RUNTIME_SLEEP_H_
