// SPDX-License-Identifier: Apache-2.0 OR MIT
//
// Checkpoint testing (Trio's trio.testing): assert that a block of async code does, or does not,
// yield — `assert_checkpoints` / `assert_no_checkpoints` — and wait until every other task is
// blocked — `wait_all_tasks_blocked`.
//
//   co_await trio::testing::assert_checkpoints([&]() -> trio::Task<> {
//     co_await trio::sleep(0s);             // a cancel point and a schedule point: passes
//   });
//   co_await trio::testing::assert_no_checkpoints([&]() -> trio::Task<> {
//     nursery.start_soon(child);            // synchronous: passes
//     co_return;
//   });
//
// Semantics (Trio's): the current task's counters of cancel points and schedule points
// (`lowlevel::current_task().cancel_points / schedule_points`) are read before and after the
// body. `assert_checkpoints` requires BOTH to have moved — `checkpoint_if_cancelled()` alone (a
// cancel point but no schedule point) or `cancel_shielded_checkpoint()` alone (a schedule point
// but no cancel point) fails — and checks only when the body returns normally: a body that
// raises (e.g. Cancelled, which implies it checkpointed) is not checked. `assert_no_checkpoints`
// requires neither to have moved, and checks also when the body raises. Only the current task
// counts: checkpoints of tasks the body spawns do not.
//
// A failed check is a gtest non-fatal failure (as EXPECT_*) at the line of the call, with
// Trio's message ("assert_checkpoints block did not yield!" / "assert_no_checkpoints block
// yielded!"); the body's value or exception is passed on unchanged either way. (Trio raises
// AssertionError; a gtest failure reports the caller's line and lets the test go on.)
//
// Bodies return Task<T> and must be trivially destructible (capture by reference, `[&]`). The
// helpers add no checkpoint of their own.
#ifndef TRIO_TESTING_CHECKPOINTS_H_
#define TRIO_TESTING_CHECKPOINTS_H_

#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <exception>
#include <optional>
#include <type_traits>
#include <utility>

#include "runtime/lowlevel.h"
#include "runtime/task.h"
#include "runtime/time.h"

namespace trio::testing {

// Blocks until every other task of the run has been blocked for `cushion` of real time with
// nothing runnable (with cushion 0, the default: as soon as nothing else can run). When several
// tasks wait, those with the smallest cushion wake, all together. It takes priority over
// MockClock's autojump, so a test can let every task settle before time moves. Cancellable.
// A cancel point and a schedule point. ValueError for a negative or NaN cushion.
inline Task<> wait_all_tasks_blocked() { return lowlevel::wait_all_tasks_blocked(Duration(0)); }
template <class Rep, class Period>
Task<> wait_all_tasks_blocked(std::chrono::duration<Rep, Period> cushion) {
  // A coroutine, so that a bad cushion raises when awaited, as every error of an async call.
  co_await lowlevel::wait_all_tasks_blocked(trio::internal::to_duration(cushion, "cushion"));
}

namespace internal {

struct CheckpointCounts {
  uint32_t cancel_points;
  uint32_t schedule_points;
};
inline CheckpointCounts current_counts() {
  const lowlevel::TaskRecord& task = lowlevel::current_task();
  return {task.cancel_points, task.schedule_points};
}

template <class Body>
using BodyValue = typename std::invoke_result_t<Body&>::value_type;

template <class Body>
constexpr void check_body() {
  static_assert(std::is_invocable_v<Body&>, "trio: the body must be callable with no arguments");
  static_assert(std::is_trivially_destructible_v<Body>,
                "trio: a body must be trivially destructible: capture by reference ([&]) "
                "(g++ 12 destroys the captures of a closure temporary in co_await twice)");
}

// Reports a failed check at the caller's line, with the counters' movement.
void report_checkpoint_failure(const char* file, int line, const char* message,
                               CheckpointCounts before, CheckpointCounts after);

}  // namespace internal

// Runs `body()`; a non-fatal failure "assert_checkpoints block did not yield!" if it returned
// normally without both a cancel point and a schedule point in the current task.
template <class Body>
Task<internal::BodyValue<Body>> assert_checkpoints(Body body, const char* file = __builtin_FILE(),
                                                   int line = __builtin_LINE()) {
  internal::check_body<Body>();
  const internal::CheckpointCounts before = internal::current_counts();
  auto check = [&] {
    const internal::CheckpointCounts after = internal::current_counts();
    if (after.cancel_points == before.cancel_points ||
        after.schedule_points == before.schedule_points) {
      internal::report_checkpoint_failure(file, line, "assert_checkpoints block did not yield!",
                                          before, after);
    }
  };
  if constexpr (std::is_void_v<internal::BodyValue<Body>>) {
    co_await body();
    check();
  } else {
    auto value = co_await body();
    check();
    co_return value;
  }
}

// Runs `body()`; a non-fatal failure "assert_no_checkpoints block yielded!" if the current task
// passed a cancel point or a schedule point in it — checked even when the body raises.
template <class Body>
Task<internal::BodyValue<Body>> assert_no_checkpoints(Body body,
                                                      const char* file = __builtin_FILE(),
                                                      int line = __builtin_LINE()) {
  internal::check_body<Body>();
  using T = internal::BodyValue<Body>;
  const internal::CheckpointCounts before = internal::current_counts();
  std::exception_ptr error;
  std::optional<std::conditional_t<std::is_void_v<T>, bool, T>> value;
  try {
    if constexpr (std::is_void_v<T>) {
      co_await body();
    } else {
      value.emplace(co_await body());
    }
  } catch (...) {
    error = std::current_exception();
  }
  const internal::CheckpointCounts after = internal::current_counts();
  if (after.cancel_points != before.cancel_points ||
      after.schedule_points != before.schedule_points) {
    internal::report_checkpoint_failure(file, line, "assert_no_checkpoints block yielded!", before,
                                        after);
  }
  if (error) std::rethrow_exception(error);
  if constexpr (!std::is_void_v<T>) co_return std::move(*value);
}

}  // namespace trio::testing

#endif  // TRIO_TESTING_CHECKPOINTS_H_
