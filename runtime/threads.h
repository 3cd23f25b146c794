// SPDX-License-Identifier: Apache-2.0 OR MIT
//
// Threads (Trio's `trio.to_thread`, `trio.from_thread`, `lowlevel.start_thread_soon`; spec
// §1.12): run blocking code on a worker thread without blocking the run, and call back into the
// run from such a thread.
//
//   std::string text = co_await trio::to_thread::run_sync([&] { return read_file(path); });
//
//   // inside a worker thread (started by to_thread::run_sync):
//   trio::from_thread::run_sync([&] { counter += 1; });               // runs on the run's thread
//   int v = trio::from_thread::run([&]() -> trio::Task<int> { ... });  // an async function
//
// How threads run is a RunOptions seam (`RunOptions::threads`):
//   ThreadMode::kReal      (default) a cached worker thread per call, at most
//                          `current_default_thread_limiter()` (40 tokens) at once per run.
//   ThreadMode::kLockstep  for seeded simulation: `fn` still runs on a worker (it may block,
//                          use thread-locals, call from_thread), but the run's thread waits for
//                          it — serving its from_thread calls meanwhile, in the calling task —
//                          and the result is delivered at a schedule point of the calling task.
//                          Only one thread runs at a time, nothing depends on real timing, and
//                          the same seed gives the same trace. Cancellation cannot interrupt a
//                          lockstep call (nothing else runs while it waits).
//
// Lifetime: worker threads come from a process-wide cache; idle ones exit after 10 s
// (internal/thread_cache.h) — the one documented exception to "nothing survives a run".
// An abandoned call (abandon_on_cancel) keeps running after its task moved on; its result is
// dropped and its limiter token returned when it finishes (never, if the run ended first). A
// callable passed to run_sync must therefore own what it uses in the abandon case.
//
// g++ 12 pitfall (GCC PR 100611, docs/compiler-pitfalls.md): a lambda with non-trivially
// destructible captures written inline in `co_await to_thread::run_sync(...)` may be destroyed
// twice. Capture by reference (safe unless abandon_on_cancel), or name it and std::move it.
#ifndef TRIO_RUNTIME_THREADS_H_
#define TRIO_RUNTIME_THREADS_H_

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <exception>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>

#include "absl/functional/any_invocable.h"
#include "runtime/capacity_limiter.h"
#include "runtime/lowlevel.h"
#include "runtime/task.h"

namespace trio {

namespace detail {
template <class T>
struct TaskValue {};
template <class T>
struct TaskValue<Task<T>> {
  using type = T;
};
}  // namespace detail

namespace lowlevel {
// Runs `fn` on a worker thread from the process-wide cache (LIFO reuse of idle threads), named
// `name` for debuggers (15 characters kept). `fn` must not throw. Not a checkpoint; callable
// from any thread. Trio's `deliver` is simply the end of `fn`.
void start_thread_soon(absl::AnyInvocable<void() &&> fn, std::string name = "");

// Threads started by to_thread::run_sync in this run that have not delivered their result yet
// (abandoned ones included). Trio's trio.testing.active_thread_count.
size_t active_thread_count();
// Blocks until active_thread_count() is 0. A checkpoint. Trio's wait_all_threads_completed.
Task<> wait_all_threads_completed();
// Makes the cache's idle worker threads exit and waits for them, so that a test can count the
// process's threads. Callable from any thread; not a checkpoint (it blocks the caller briefly).
void drain_thread_cache();
}  // namespace lowlevel

namespace from_thread::detail {
struct Request;  // threads.cc
}  // namespace from_thread::detail

namespace to_thread {

struct Options {
  // On cancellation, stop waiting: raise Cancelled at once and let the thread finish alone
  // (its result is dropped). Otherwise (the default) the call ignores cancellation until the
  // thread finishes, but from_thread::check_cancelled() in the thread reports it.
  bool abandon_on_cancel = false;
  // Limits how many threads run at once; null = current_default_thread_limiter(). Must outlive
  // the thread (abandoned ones included).
  CapacityLimiter* limiter = nullptr;
  // The worker thread's name while it runs `fn` (a string with static storage; null =
  // "trio-worker"). Every member is trivially destructible on purpose: Options is passed by
  // value inside `co_await`, where g++ 12 destroys non-trivial temporaries twice (PR 100611).
  const char* thread_name = nullptr;
};

// The run's default limiter: 40 tokens, one per thread running for this run.
CapacityLimiter& current_default_thread_limiter();

namespace detail {
// One call of run_sync: shared by the calling task, the worker thread and the callbacks that
// bring the result back (internal; see threads.cc).
class ThreadJob {
 public:
  virtual ~ThreadJob() = default;
  // On the worker: calls the function and stores its value or exception. Never throws.
  virtual void call() noexcept = 0;

  // ---- the run's thread only -----------------------------------------------------------
  CapacityLimiter* limiter = nullptr;
  // The waiting task; null once it stopped waiting (abandoned) or the job finished.
  lowlevel::TaskRecord* host = nullptr;
  bool finished = false;  // the worker is done and its result is here
  bool lockstep = false;

  // ---- shared with the worker (guarded by mu) ------------------------------------------
  std::mutex mu;
  std::condition_variable cv;
  bool worker_done = false;  // lockstep: the worker finished call()
  from_thread::detail::Request* request =
      nullptr;                // lockstep, or host delivery: a from_thread call
  std::exception_ptr cancel;  // set when a cancellation was delivered (kFailed)
  std::atomic<bool> cancel_requested{false};
  std::optional<lowlevel::TrioToken> token;  // the run's token (set before the worker starts)
};

// Runs `job` on a worker and waits for it (the body of run_sync).
// References, not values: a temporary shared_ptr or Options inside the caller's co_await
// would be destroyed twice by g++ 12 (GCC PR 100611).
Task<> run_job(const std::shared_ptr<ThreadJob>& job, const Options& options);

template <class R, class F>
class Job final : public ThreadJob {
 public:
  explicit Job(F fn) : fn_(std::move(fn)) {}
  void call() noexcept override {
    try {
      if constexpr (std::is_void_v<R>) {
        fn_();
        value_.emplace();
      } else {
        value_.emplace(fn_());
      }
    } catch (...) {
      error_ = std::current_exception();
    }
  }
  R take() {
    if (error_) std::rethrow_exception(error_);
    if constexpr (!std::is_void_v<R>) return std::move(*value_);
  }

 private:
  struct Unit {};
  F fn_;
  std::optional<std::conditional_t<std::is_void_v<R>, Unit, R>> value_;
  std::exception_ptr error_;
};
}  // namespace detail

// Runs `fn()` on a worker thread and returns its value (or rethrows its exception). Blocks the
// calling task — not the run. Steps (Trio's): checkpoint_if_cancelled(); borrow a token from
// the limiter (a cancellable wait); start the thread; wait for it (see Options for what
// cancellation does). A cancel point and a schedule point.
// `fn` must be a plain (synchronous) callable: a function returning a Task is a compile error
// (Trio's TypeError "Trio expected a sync function").
template <class F>
Task<std::invoke_result_t<F&>> run_sync(F fn, Options options = {}) {
  using R = std::invoke_result_t<F&>;
  static_assert(!internal::IsTask<R>::value,
                "to_thread::run_sync expects a synchronous function; to run a coroutine, await it");
  auto job = std::make_shared<detail::Job<R, F>>(std::move(fn));
  const std::shared_ptr<detail::ThreadJob> base = job;  // no temporary inside the co_await
  co_await detail::run_job(base, options);
  co_return job->take();
}

}  // namespace to_thread

namespace from_thread {

namespace detail {
// Sends `call` to the run: to the task waiting in to_thread::run_sync for this thread when
// `async` (so the call runs under its cancel scopes), otherwise to the run's callback queue;
// blocks until it has run. `token` null = this thread's run (a to_thread worker).
void call_in_run(absl::AnyInvocable<Task<>()> async_call, absl::AnyInvocable<void()> sync_call,
                 const lowlevel::TrioToken* token);
}  // namespace detail

// Runs `fn()` on the run's thread and returns its value (or rethrows its exception); blocks
// this thread meanwhile. From a to_thread worker no token is needed; from any other thread pass
// the run's lowlevel::TrioToken. Errors: RuntimeError("this is a blocking function; call it from a
// thread") on the run's thread; RuntimeError("this thread wasn't created by Trio, pass a
// lowlevel::TrioToken") without a token outside a worker; RunFinishedError after the run ended.
template <class F>
std::invoke_result_t<F&> run_sync(F fn, const lowlevel::TrioToken* token = nullptr) {
  using R = std::invoke_result_t<F&>;
  std::optional<std::conditional_t<std::is_void_v<R>, bool, R>> value;
  std::exception_ptr error;
  detail::call_in_run(
      nullptr,
      [&]() {
        try {
          if constexpr (std::is_void_v<R>) {
            fn();
            value.emplace(true);
          } else {
            value.emplace(fn());
          }
        } catch (...) {
          error = std::current_exception();
        }
      },
      token);
  if (error) std::rethrow_exception(error);
  if constexpr (!std::is_void_v<R>) return std::move(*value);
}

// Runs the async function `afn()` (returning Task<T>) in the run and returns its value. From a
// to_thread worker (no token) it runs in the task that waits for this thread, under that task's
// cancel scopes; with a token, as a new system task. Same errors as run_sync; a cancellation of
// that task propagates here as Cancelled.
template <class F>
auto run(F afn, const lowlevel::TrioToken* token = nullptr) ->
    typename trio::detail::TaskValue<std::invoke_result_t<F&>>::type {
  using T = typename trio::detail::TaskValue<std::invoke_result_t<F&>>::type;
  std::optional<std::conditional_t<std::is_void_v<T>, bool, T>> value;
  std::exception_ptr error;
  detail::call_in_run(
      [&]() -> Task<> {
        try {
          if constexpr (std::is_void_v<T>) {
            co_await afn();
            value.emplace(true);
          } else {
            value.emplace(co_await afn());
          }
        } catch (...) {
          error = std::current_exception();
        }
      },
      nullptr, token);
  if (error) std::rethrow_exception(error);
  if constexpr (!std::is_void_v<T>) return std::move(*value);
}

// In a to_thread worker: raises Cancelled if a cancellation was delivered to the task waiting
// for this thread (even if a shield hid it since, as in Trio). RuntimeError outside a worker.
void check_cancelled();

}  // namespace from_thread

}  // namespace trio

#endif  // TRIO_RUNTIME_THREADS_H_
