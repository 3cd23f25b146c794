// SPDX-License-Identifier: Apache-2.0 OR MIT
//
// `trio::Task<T>`: the coroutine type of every async function in trio-cpp.
//
// A `Task<T>` is lazy: calling an async function creates its frame but runs nothing. Awaiting
// the task runs it *in the awaiting trio task* (no new concurrency — that is what nurseries are
// for) and yields its value or rethrows its exception. A task is move-only and `[[nodiscard]]`,
// so forgetting `co_await` is a compile error under `-Werror` (Trio's "coroutine was never
// awaited" warning, made fatal):
//
//   trio::Task<int> async_double(int x) { co_return 2 * x; }
//   trio::Task<> main_task() {
//     int y = co_await async_double(3);   // 6
//     async_double(3);                     // error: ignoring return value ... [[nodiscard]]
//   }
//
// Tasks can only be awaited from other trio coroutines (`Task<U>`), inside `trio::run`.
//
// Checkpoints: awaiting a `Task` is not in itself a checkpoint; what the task does inside is.
//
// Implementation notes (why it looks the way it does):
//  * Frames come from a recycling allocator (`internal/frame_allocator.h`): g++ never elides
//    frame allocations. `trio::lowlevel::live_frames()` reads the live-frame counter.
//  * Awaiting a task does not resume it directly (symmetric transfer is not a guaranteed tail
//    call on g++ 12 at -O0 or under sanitizers, so deep chains of tasks that complete at once
//    would overflow the stack). Instead each trio task has a trampoline: `await_suspend` stores
//    the next coroutine to run in the task record and returns to the trampoline loop, which
//    resumes it. Stack depth is constant, and no schedule point is added — traces are the same
//    in every build configuration.
#ifndef TRIO_RUNTIME_TASK_H_
#define TRIO_RUNTIME_TASK_H_

#include <coroutine>
#include <exception>
#include <new>
#include <optional>
#include <type_traits>
#include <utility>

#include "runtime/internal/frame_allocator.h"
#include "runtime/internal/task_record.h"

namespace trio {

template <class T = void>
class Task;

namespace internal {

// What every trio coroutine promise has (the root of a task has only this).
struct PromiseCore {
  // The trio task this coroutine currently runs in. Set when the coroutine is first awaited
  // (or when it becomes the root of a spawned task).
  TaskRec* task = nullptr;
  std::exception_ptr exception;

  static void* operator new(size_t bytes) { return allocate_frame(bytes); }
  static void operator delete(void* p, size_t bytes) noexcept { free_frame(p, bytes); }

  std::suspend_always initial_suspend() noexcept { return {}; }
  void unhandled_exception() noexcept { exception = std::current_exception(); }
};

// The promise of an awaited coroutine (a Task): it knows whom to resume when it finishes.
struct PromiseBase : PromiseCore {
  std::coroutine_handle<> continuation;

  struct FinalAwaiter {
    bool await_ready() const noexcept { return false; }
    template <class P>
    void await_suspend(std::coroutine_handle<P> self) noexcept {
      // Hand control back to the awaiting coroutine through the task's trampoline.
      PromiseBase& p = self.promise();
      p.task->next_resume = p.continuation;
    }
    void await_resume() const noexcept {}
  };
  FinalAwaiter final_suspend() noexcept { return {}; }
};

template <class P>
concept TrioPromise = std::is_base_of_v<PromiseCore, P>;

template <class T>
struct TaskPromise : PromiseBase {
  std::optional<T> value;
  Task<T> get_return_object() noexcept;
  template <class U>
  void return_value(U&& v) {
    value.emplace(std::forward<U>(v));
  }
  T take() {
    if (exception) std::rethrow_exception(std::move(exception));
    return std::move(*value);
  }
};

template <>
struct TaskPromise<void> : PromiseBase {
  Task<void> get_return_object() noexcept;
  void return_void() noexcept {}
  void take() {
    if (exception) std::rethrow_exception(std::move(exception));
  }
};

}  // namespace internal

template <class T>
class [[nodiscard]] Task {
 public:
  using promise_type = internal::TaskPromise<T>;
  using value_type = T;

  Task() noexcept = default;
  Task(Task&& other) noexcept : h_(std::exchange(other.h_, {})) {}
  Task& operator=(Task&& other) noexcept {
    if (this != &other) {
      reset();
      h_ = std::exchange(other.h_, {});
    }
    return *this;
  }
  Task(const Task&) = delete;
  Task& operator=(const Task&) = delete;
  ~Task() { reset(); }

  // True if this object holds a coroutine that has not been awaited yet.
  bool valid() const noexcept { return static_cast<bool>(h_); }

  struct Awaiter {
    std::coroutine_handle<promise_type> h;
    bool await_ready() const noexcept { return false; }
    template <internal::TrioPromise P>
    void await_suspend(std::coroutine_handle<P> caller) noexcept {
      promise_type& p = h.promise();
      p.task = caller.promise().task;
      p.continuation = caller;
      p.task->next_resume = h;  // the trampoline resumes the child next
    }
    T await_resume() { return h.promise().take(); }
  };

  // Runs the task in the awaiting trio task. Awaiting consumes the task (use std::move on an
  // lvalue); the frame is freed when the Task object is destroyed.
  Awaiter operator co_await() && noexcept { return Awaiter{h_}; }

  // Internal: releases the coroutine handle (used by spawn and run).
  std::coroutine_handle<promise_type> release() noexcept { return std::exchange(h_, {}); }

 private:
  friend promise_type;
  explicit Task(std::coroutine_handle<promise_type> h) noexcept : h_(h) {}
  void reset() noexcept {
    if (h_) std::exchange(h_, {}).destroy();
  }
  std::coroutine_handle<promise_type> h_;
};

namespace internal {
template <class T>
Task<T> TaskPromise<T>::get_return_object() noexcept {
  return Task<T>(std::coroutine_handle<TaskPromise<T>>::from_promise(*this));
}
inline Task<void> TaskPromise<void>::get_return_object() noexcept {
  return Task<void>(std::coroutine_handle<TaskPromise<void>>::from_promise(*this));
}

template <class X>
struct IsTask : std::false_type {};
template <class T>
struct IsTask<Task<T>> : std::true_type {};

// The value type of the Task returned by F(Args...).
template <class F, class... Args>
using TaskResultOf = typename std::invoke_result_t<F, Args...>::value_type;
}  // namespace internal

}  // namespace trio

#endif  // TRIO_RUNTIME_TASK_H_
