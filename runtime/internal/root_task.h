// SPDX-License-Identifier: Apache-2.0 OR MIT
//
// Internal: the root coroutine of a spawned task. Its frame holds the task record, the callable
// and the arguments, so they live exactly as long as the task (spawning allocates one frame for
// all of it, from the recycling allocator).
#ifndef TRIO_RUNTIME_INTERNAL_ROOT_TASK_H_
#define TRIO_RUNTIME_INTERNAL_ROOT_TASK_H_

#include <coroutine>
#include <exception>
#include <functional>
#include <optional>
#include <type_traits>
#include <utility>

#include "runtime/internal/task_record.h"
#include "runtime/task.h"

namespace trio::internal {

// Called from the root's final suspend: the task has finished (runner.cc).
void root_finished(TaskRec* task, std::exception_ptr exception) noexcept;

// The promise of a task's root coroutine *is* its task record (first base), so the record
// needs no allocation of its own and no pointer back to its frame.
struct RootPromise : TaskRec, PromiseCore {
  RootPromise() noexcept { task = this; }
  struct Handle {
    std::coroutine_handle<RootPromise> h;
    TaskRec* rec() const { return &h.promise(); }
  };
  Handle get_return_object() noexcept {
    return {std::coroutine_handle<RootPromise>::from_promise(*this)};
  }
  void return_void() noexcept {}
  struct Final {
    bool await_ready() const noexcept { return false; }
    void await_suspend(std::coroutine_handle<RootPromise> h) noexcept {
      RootPromise& p = h.promise();
      root_finished(&p, std::move(p.exception));
    }
    void await_resume() const noexcept {}
  };
  Final final_suspend() noexcept { return {}; }
};

// The root frame of a task.
inline std::coroutine_handle<RootPromise> root_handle(TaskRec* task) {
  return std::coroutine_handle<RootPromise>::from_promise(static_cast<RootPromise&>(*task));
}

}  // namespace trio::internal

template <class... Args>
struct std::coroutine_traits<trio::internal::RootPromise::Handle, Args...> {
  using promise_type = trio::internal::RootPromise;
};

namespace trio::internal {

template <class F, class... Args>
void check_task_function() {
  static_assert(std::is_invocable_v<F&, Args&&...>,
                "trio: the function cannot be called with these arguments (they are passed as "
                "rvalues: take them by value or const&)");
  if constexpr (std::is_invocable_v<F&, Args&&...>) {
    static_assert(IsTask<std::invoke_result_t<F&, Args&&...>>::value,
                  "trio: a task function must return trio::Task<T>");
  }
}

// The root of an ordinary task: runs fn(args...) and discards its value.
template <class F, class... Args>
RootPromise::Handle root_call(F fn, Args... args) {
  co_await std::invoke(fn, std::move(args)...);
}

// The root of the main task: stores the value in *out.
template <class T, class F, class... Args>
RootPromise::Handle root_call_main(
    std::optional<std::conditional_t<std::is_void_v<T>, bool, T>>* out, F fn, Args... args) {
  if constexpr (std::is_void_v<T>) {
    co_await std::invoke(fn, std::move(args)...);
    out->emplace(true);
  } else {
    out->emplace(co_await std::invoke(fn, std::move(args)...));
  }
}

// The root of a task started with Nursery::start: fn(args..., status).
template <class Status, class F, class... Args>
RootPromise::Handle root_call_with_status(Status status, F fn, Args... args) {
  co_await std::invoke(fn, std::move(args)..., status);
}

}  // namespace trio::internal

#endif  // TRIO_RUNTIME_INTERNAL_ROOT_TASK_H_
