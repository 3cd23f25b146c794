// SPDX-License-Identifier: Apache-2.0 OR MIT
//
// `trio::run`: the entry point (Trio's `trio.run`).
//
//   trio::Task<int> main_task(int x) { co_await trio::sleep(1s); co_return x + 1; }
//   int main() { return trio::run(main_task, 41) == 42 ? 0 : 1; }
//
// `run(fn, args...)` runs `fn(args...)` as the main task until it — and every task it spawned,
// and every system task — has exited, and returns its value or rethrows its exception
// *unwrapped* (not in an exception group). `run(options, fn, args...)` takes a `RunOptions`
// (clock, instruments, seed, I/O backend, scheduling policy): see run_options.h.
//
// One run per thread at a time: `run` inside a run throws RuntimeError("Attempted to call run()
// from inside a run()"); runs on different threads are independent. Any runtime function
// called outside a run throws RuntimeError. If a system task crashes, every task is cancelled
// and `run` throws TrioInternalError whose cause() is the crash.
//
// Ctrl-C (Trio's KeyboardInterrupt handling; a C++ signal handler cannot throw, so it is always
// Trio's `restrict_keyboard_interrupt_to_checkpoints=True`): a run on the process's main thread
// installs a SIGINT handler if SIGINT has its default action, and puts the default back when it
// ends; a program that installed its own handler, or a run on another thread, is left alone.
// Simulations (a `RunOptions::clock`, e.g. a MockClock) do not, unless
// `RunOptions::handle_keyboard_interrupt` says so: a real signal is not an input of a seeded run.
// A SIGINT then raises `trio::KeyboardInterrupt` in the main task:
//   - at its next cancel point (checkpoint, blocking call), outside every cancel scope — even in
//     a cancelled scope it is the KeyboardInterrupt that is raised, and no scope catches it;
//   - at once if it is blocked (waking the I/O wait, whichever thread the signal landed on);
//   - if it waits in a nursery's exit, the nursery takes it as one of its errors and cancels its
//     children (Cancelled "cancelled due to KeyboardInterrupt from task <main>"), so it comes
//     out of the nursery in the exception group once the children have finished.
// Other tasks are not interrupted. A SIGINT that arrives after the main task has finished (or
// that it never reached) makes `run` throw KeyboardInterrupt, whose context() holds the main
// task's own error if it had one. Catching KeyboardInterrupt in the main task handles it. Like
// any exception, one that leaves `main()` ends the program through std::terminate (an abort):
// a program that runs on the real clock should catch it there, e.g.
//   int main() try { trio::run(serve); } catch (const trio::KeyboardInterrupt&) { return 130; }
#ifndef TRIO_RUNTIME_RUN_H_
#define TRIO_RUNTIME_RUN_H_

#include <exception>
#include <optional>
#include <type_traits>
#include <utility>

#include "runtime/internal/root_task.h"
#include "runtime/internal/runner.h"
#include "runtime/nursery.h"
#include "runtime/run_options.h"
#include "runtime/task.h"

namespace trio {

namespace internal {
void mark_main_task(TaskRec* rec);
}

template <class F, class... Args>
auto run(RunOptions options, F&& fn, Args&&... args) {
  using Fn = std::decay_t<F>;
  internal::check_task_function<Fn, std::decay_t<Args>...>();
  using T = typename std::invoke_result_t<Fn&, std::decay_t<Args>&&...>::value_type;
  std::optional<std::conditional_t<std::is_void_v<T>, bool, T>> result;
  std::exception_ptr error;
  {
    internal::Runner runner(options);
    error = runner.run([&](Nursery& main_nursery) -> internal::TaskRec* {
      auto root = internal::root_call_main<T>(&result, Fn(std::forward<F>(fn)),
                                              std::decay_t<Args>(std::forward<Args>(args))...);
      internal::mark_main_task(root.rec());
      main_nursery.spawn_child(root.rec(), nullptr);
      return root.rec();
    });
  }
  if (error) std::rethrow_exception(error);
  if constexpr (!std::is_void_v<T>) return std::move(*result);
}

template <class F, class... Args>
auto run(F&& fn, Args&&... args) {
  return run(RunOptions{}, std::forward<F>(fn), std::forward<Args>(args)...);
}

}  // namespace trio

#endif  // TRIO_RUNTIME_RUN_H_
