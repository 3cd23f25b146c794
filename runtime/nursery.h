// SPDX-License-Identifier: Apache-2.0 OR MIT
//
// Nurseries: structured concurrency (spec §1.5, §2.6–2.8).
//
// A nursery is the only way to run tasks concurrently. `open_nursery(body)` runs `body(nursery)`
// and then waits until every child started in the nursery has exited; no task outlives its
// nursery. If a child (or the body) raises, the nursery's cancel scope is cancelled, the other
// children get `Cancelled` at their next cancel point, and when everything has exited the
// nursery raises an exception group ("Exceptions from Trio nursery") holding the errors in order
// of arrival, with the nursery's own `Cancelled`s stripped:
//
//   co_await trio::open_nursery([&](trio::Nursery& n) -> trio::Task<> {
//     n.start_soon(child1);
//     n.start_soon(child2, 42, std::string("arg"));      // arguments are stored with the task
//     n.start_soon(trio::TaskName("worker"), worker);     // an explicit task name
//     int port = co_await n.start<int>(serve);            // serve(TaskStatus<int>& status)
//     co_return;
//   });
//
// Lifetimes: `start_soon(fn, args...)` copies (or moves) `fn` and every argument into the new
// task's frame, where they live until the task exits — a lambda's by-value captures and the
// arguments cannot dangle. Arguments reach `fn` as rvalues, so `fn` takes them by value or
// const&. To share an object, pass a pointer or std::ref and make sure it outlives the nursery.
//
// The body of open_nursery must be trivially destructible (capture by reference: `[&]`); see
// cancel_scope.h for why.
//
// Checkpoints: opening a nursery is not a checkpoint; exiting is a schedule point but never a
// cancel point — a nursery never raises a Cancelled of its own making. start_soon is sync.
// `start` is a checkpoint.
#ifndef TRIO_RUNTIME_NURSERY_H_
#define TRIO_RUNTIME_NURSERY_H_

#include <cstddef>
#include <exception>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "runtime/cancel_scope.h"
#include "runtime/errors.h"
#include "runtime/internal/root_task.h"
#include "runtime/internal/task_record.h"
#include "runtime/lowlevel.h"
#include "runtime/task.h"

namespace trio {

namespace internal {
class Runner;
}

// Names a spawned task: `nursery.start_soon(trio::TaskName("worker"), fn, args...)`.
struct TaskName {
  explicit TaskName(std::string n) : name(std::move(n)) {}
  std::string name;
};

template <class T = void>
class TaskStatus;

namespace internal {
struct StartStateBase {
  Nursery* old_nursery = nullptr;
  Nursery* target = nullptr;
  bool started = false;
};
template <class T>
struct StartState : StartStateBase {
  std::optional<std::conditional_t<std::is_void_v<T>, bool, T>> value;
};
// Moves the task from the private start() nursery to the target (the handshake of §2.7.4).
void complete_start(StartStateBase* state);
}  // namespace internal

// The handshake object passed (as the last argument, by reference) to a function run with
// `Nursery::start`. Calling `started(value)` makes `start` return `value`; the task moves into
// the target nursery. Calling it twice: RuntimeError("called 'started' twice on the same task
// status"). `TaskStatus<T>::ignored()` gives a status whose started() does nothing, so the
// function can also be awaited directly.
template <class T>
class TaskStatus {
 public:
  void started(T value) requires(!std::is_void_v<T>) {
    check_twice();
    if (!state_) return;
    state_->value.emplace(std::move(value));
    internal::complete_start(state_);
  }
  static TaskStatus& ignored() {
    thread_local TaskStatus status(nullptr);
    status.called_ = false;
    return status;
  }
  explicit TaskStatus(internal::StartState<T>* state) : state_(state) {}

 private:
  void check_twice() {
    if (called_) throw RuntimeError("called 'started' twice on the same task status");
    called_ = true;
  }
  internal::StartState<T>* state_;
  bool called_ = false;
};

template <>
class TaskStatus<void> {
 public:
  void started() {
    if (called_) throw RuntimeError("called 'started' twice on the same task status");
    called_ = true;
    if (!state_) return;
    state_->value.emplace(true);
    internal::complete_start(state_);
  }
  static TaskStatus& ignored() {
    thread_local TaskStatus status(nullptr);
    status.called_ = false;
    return status;
  }
  explicit TaskStatus(internal::StartState<void>* state) : state_(state) {}

 private:
  internal::StartState<void>* state_;
  bool called_ = false;
};

class Nursery {
 public:
  Nursery(const Nursery&) = delete;
  Nursery& operator=(const Nursery&) = delete;
  ~Nursery();

  // Spawns `fn(args...)` as a child task; it becomes runnable at once. Not a checkpoint.
  // RuntimeError("Nursery is closed to new arrivals") once the nursery has closed.
  template <class F, class... Args>
  void start_soon(F&& fn, Args&&... args) {
    check_open();
    using Fn = std::decay_t<F>;
    internal::check_task_function<Fn, std::decay_t<Args>...>();
    auto root = internal::root_call(Fn(std::forward<F>(fn)),
                                    std::decay_t<Args>(std::forward<Args>(args))...);
    spawn_child(root.rec(), nullptr);
  }
  template <class F, class... Args>
  void start_soon(TaskName name, F&& fn, Args&&... args) {
    check_open();
    using Fn = std::decay_t<F>;
    internal::check_task_function<Fn, std::decay_t<Args>...>();
    auto root = internal::root_call(Fn(std::forward<F>(fn)),
                                    std::decay_t<Args>(std::forward<Args>(args))...);
    spawn_child(root.rec(), &name.name);
  }

  // Starts `fn(args..., task_status)` and waits until it calls `task_status.started(value)`;
  // returns `value`. Until then the child runs under the caller's cancel scopes and its errors
  // come out of `start` (unwrapped); afterwards it belongs to this nursery. A child that exits
  // without calling started(): RuntimeError("child exited without calling
  // task_status.started()"). A checkpoint.
  //
  // g++ 12 (GCC PR 100611): a lambda written inline inside `co_await nursery.start(...)` is
  // destroyed twice if its captures have destructors (a unique_ptr, a string by value). Capture
  // by reference, or name the lambda and pass it with std::move (runtime/start_capture_test.cc).
  template <class T = void, class F, class... Args>
  Task<T> start(F fn, Args... args);
  template <class T = void, class F, class... Args>
  Task<T> start(TaskName name, F fn, Args... args);

  // The nursery's cancel scope: cancel it to cancel every child and the body.
  CancelScope& cancel_scope() { return scope_; }
  // The task that opened the nursery.
  lowlevel::TaskRecord* parent_task() const { return parent_; }
  // Children currently running (in spawn order). Tasks inside start() appear after started().
  std::vector<lowlevel::TaskRecord*> child_tasks() const;
  size_t child_count() const { return child_count_; }
  bool closed() const { return closed_; }

  // ---- internal ----
  explicit Nursery(internal::TaskRec* parent);
  void child_finished_(internal::TaskRec* child, std::exception_ptr exception);
  void add_exception_(std::exception_ptr exception, std::string source, bool from_body);
  void add_child_exception_(internal::TaskRec* child, std::exception_ptr exception);
  void add_keyboard_interrupt_(internal::TaskRec& parent);
  // Records an error (raised by task `source`) and cancels the nursery with `reason`.
  void add_pending_(std::exception_ptr exception, std::string source,
                    internal::CancelReason reason);
  void check_closed_();
  std::exception_ptr finish_();
  void adopt_children_of_(Nursery& old);
  void link_child_(internal::TaskRec* child);
  void unlink_child_(internal::TaskRec* child);
  // Spawns the task whose root frame holds `rec` into this nursery (name may be null).
  void spawn_child(internal::TaskRec* rec, const std::string* name, bool system = false);
  Nursery* outer_ = nullptr;  // the next nursery out in the parent task's stack
  int pending_starts_ = 0;
  internal::Runner* runner_;

  struct ExitAwaiter final : internal::AbortHook {
    Nursery* nursery;
    std::exception_ptr body_exception;
    internal::TaskRec* task = nullptr;
    ExitAwaiter(Nursery* n, std::exception_ptr e) : nursery(n), body_exception(std::move(e)) {}
    bool await_ready() const noexcept { return false; }
    template <internal::TrioPromise P>
    void await_suspend(std::coroutine_handle<P> h) {
      task = h.promise().task;
      nursery->exit_suspend(task, h, this, std::move(body_exception));
    }
    void await_resume() { task->next_exception = nullptr; }
    bool try_abort(internal::TaskRec&) override { return false; }  // ignore Cancelled
    // Trio: a KeyboardInterrupt joins the nursery's errors and cancels it (source
    // "KeyboardInterrupt"); the parent goes on waiting for its children.
    bool try_abort_keyboard_interrupt(internal::TaskRec& t) override {
      nursery->add_keyboard_interrupt_(t);
      return false;
    }
  };
  ExitAwaiter exit_(std::exception_ptr body_exception) {
    return ExitAwaiter(this, std::move(body_exception));
  }

 private:
  void check_open() const {
    if (closed_) [[unlikely]]
      raise_closed_();
  }
  [[noreturn]] static void raise_closed_();
  void exit_suspend(internal::TaskRec* task, std::coroutine_handle<> h, internal::AbortHook* hook,
                    std::exception_ptr body_exception);
  template <class T, class F, class... Args>
  Task<T> start_impl(std::optional<std::string> name, F fn, Args... args);

  internal::TaskRec* parent_;
  CancelScope scope_;
  internal::TaskRec* first_child_ = nullptr;
  internal::TaskRec* last_child_ = nullptr;
  size_t child_count_ = 0;
  bool body_running_ = true;
  bool closed_ = false;
  internal::TaskRec* parent_waiting_ = nullptr;
  std::vector<std::exception_ptr> pending_;
  std::vector<std::string> pending_sources_;
};

namespace internal {

template <class Body>
using NurseryBodyResult = typename std::invoke_result_t<Body&, Nursery&>::value_type;

template <class T, class Body>
Task<T> open_nursery_impl(Body body, SourceSite site) {
  Nursery nursery(current_task_for_scope());
  nursery.cancel_scope().set_origin_lvalue_(ScopeKind::kNursery, site);
  std::exception_ptr exc;
  std::optional<std::conditional_t<std::is_void_v<T>, bool, T>> value;
  try {
    if constexpr (std::is_void_v<T>) {
      co_await body(nursery);
      value.emplace(true);
    } else {
      value.emplace(co_await body(nursery));
    }
  } catch (...) {
    exc = std::current_exception();
  }
  co_await nursery.exit_(std::move(exc));
  exc = nursery.finish_();
  if (exc) std::rethrow_exception(exc);
  if constexpr (!std::is_void_v<T>) co_return std::move(*value);
}

// Unwraps the group raised by start()'s private nursery (spec §2.7.5).
[[noreturn]] void rethrow_start_error(std::exception_ptr e);
void start_begin(Nursery& target);
void start_end(Nursery& target) noexcept;
[[noreturn]] void throw_not_started();

}  // namespace internal

// Opens a nursery, runs `body(nursery)`, waits for every child, and returns the body's value.
// Raises an ExceptionGroup if the body or any child raised (see the file comment). `site`
// records the caller's file:line for the nursery scope's description: leave it defaulted.
template <class Body>
auto open_nursery(Body body, SourceSite site = SourceSite::here()) {
  internal::check_body<Body>();
  static_assert(std::is_invocable_v<Body&, Nursery&>,
                "open_nursery: the body must be callable as body(trio::Nursery&)");
  return internal::open_nursery_impl<internal::NurseryBodyResult<Body>>(body, site);
}

template <class T, class F, class... Args>
Task<T> Nursery::start(F fn, Args... args) {
  check_open();
  return start_impl<T>(std::nullopt, std::move(fn), std::move(args)...);
}

template <class T, class F, class... Args>
Task<T> Nursery::start(TaskName name, F fn, Args... args) {
  check_open();
  return start_impl<T>(std::move(name.name), std::move(fn), std::move(args)...);
}

template <class T, class F, class... Args>
Task<T> Nursery::start_impl(std::optional<std::string> name, F fn, Args... args) {
  static_assert(std::is_invocable_v<F&, Args&&..., TaskStatus<T>&>,
                "Nursery::start: the function must take TaskStatus<T>& as its last parameter");
  internal::StartState<T> state;
  state.target = this;
  internal::start_begin(*this);
  std::exception_ptr error;
  try {
    co_await open_nursery([&](Nursery& old) -> Task<> {
      state.old_nursery = &old;
      auto root =
          internal::root_call_with_status(TaskStatus<T>(&state), std::move(fn), std::move(args)...);
      root.rec()->extras_().eventual_parent_nursery = this;
      old.spawn_child(root.rec(), name ? &*name : nullptr);
      co_return;
    });
  } catch (...) {
    error = std::current_exception();
  }
  internal::start_end(*this);
  if (error) internal::rethrow_start_error(error);
  if (!state.value) internal::throw_not_started();
  if constexpr (!std::is_void_v<T>) co_return std::move(*state.value);
}

namespace lowlevel {

namespace detail {
Nursery& system_nursery_for_spawn();
}

// Spawns `fn(args...)` as a system task: a child of the run's system nursery, not of any user
// nursery. It is cancelled (reason "shutdown") when the main task exits; if it raises, the whole
// run is cancelled and `run` throws TrioInternalError. After the system nursery has closed:
// RuntimeError("Nursery is closed to new arrivals"). Not a checkpoint.
template <class F, class... Args>
TaskRecord& spawn_system_task(F&& fn, Args&&... args) {
  Nursery& system = detail::system_nursery_for_spawn();
  using Fn = std::decay_t<F>;
  internal::check_task_function<Fn, std::decay_t<Args>...>();
  auto root =
      internal::root_call(Fn(std::forward<F>(fn)), std::decay_t<Args>(std::forward<Args>(args))...);
  system.spawn_child(root.rec(), nullptr, true);
  return *root.rec();
}
template <class F, class... Args>
TaskRecord& spawn_system_task(TaskName name, F&& fn, Args&&... args) {
  Nursery& system = detail::system_nursery_for_spawn();
  using Fn = std::decay_t<F>;
  internal::check_task_function<Fn, std::decay_t<Args>...>();
  auto root =
      internal::root_call(Fn(std::forward<F>(fn)), std::decay_t<Args>(std::forward<Args>(args))...);
  system.spawn_child(root.rec(), &name.name, true);
  return *root.rec();
}

}  // namespace lowlevel
}  // namespace trio

#endif  // TRIO_RUNTIME_NURSERY_H_
