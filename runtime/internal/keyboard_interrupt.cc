// SPDX-License-Identifier: Apache-2.0 OR MIT
//
// KeyboardInterrupt delivery (spec §2.11; see keyboard_interrupt.h): the SIGINT handler, its
// installation and restoration, and the Runner's pending-interrupt state.
#include "runtime/internal/keyboard_interrupt.h"

#include <errno.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <exception>
#include <utility>

#include "runtime/errors.h"
#include "runtime/internal/runner.h"

namespace trio::internal {

namespace {
// The run that installed the SIGINT handler (only a run on the main thread does), and the
// handler it replaced. The handler may run on any thread, concurrently with the run's end:
// `g_sigint_in_flight` counts handlers using the runner, and restore_sigint_handler() waits for
// them before the runner (and its I/O backend) can be destroyed.
std::atomic<Runner*> g_sigint_runner{nullptr};
std::atomic<int> g_sigint_in_flight{0};
struct sigaction g_previous_sigint;

extern "C" void trio_sigint_handler(int) {
  const int saved_errno = errno;
  g_sigint_in_flight.fetch_add(1, std::memory_order_seq_cst);
  if (Runner* runner = g_sigint_runner.load(std::memory_order_seq_cst)) runner->interrupt();
  g_sigint_in_flight.fetch_sub(1, std::memory_order_release);
  errno = saved_errno;
}
}  // namespace

void Runner::interrupt() noexcept {
  attention_.fetch_or(kAttentionInterrupt, std::memory_order_relaxed);
  io_->wake();  // (a wait for I/O on another thread's behalf would otherwise not notice)
}

std::exception_ptr Runner::take_keyboard_interrupt() {
  attention_.fetch_and(static_cast<uint8_t>(~kAttentionInterrupt), std::memory_order_relaxed);
  return std::make_exception_ptr(KeyboardInterrupt());
}

bool Runner::at_cancel_point_slow(TaskRec* task) {
  const uint8_t attention = attention_.load(std::memory_order_relaxed);
  if (attention & kAttentionHook) cancel_point_hook_->at_cancel_point(*task);
  return (attention & kAttentionInterrupt) && task->is_main;
}

void Runner::attempt_delivery_of_pending_keyboard_interrupt() {
  TaskRec* main = main_task_;
  // Not spawned yet, or finished: it stays pending (run() raises it at the end). Runnable: its
  // next cancel point raises it.
  if (!main || main->state != TaskState::kBlocked || !main->abort) return;
  AbortHook* hook = std::exchange(main->abort, nullptr);
  if (hook->try_abort_keyboard_interrupt(*main)) reschedule(main, take_keyboard_interrupt());
}

// Only on the main thread, and only if SIGINT has its default action (Trio's "good neighbour"
// rule: a program's own handler, or a run on another thread, is left alone).
bool install_sigint_handler(Runner& runner) {
  static thread_local const bool on_main_thread = ::gettid() == ::getpid();  // (once per thread)
  if (!on_main_thread) return false;
  struct sigaction current;
  if (::sigaction(SIGINT, nullptr, &current) != 0) return false;
  if ((current.sa_flags & SA_SIGINFO) || current.sa_handler != SIG_DFL) return false;
  g_sigint_runner.store(&runner, std::memory_order_release);
  struct sigaction ours = {};
  ours.sa_handler = &trio_sigint_handler;
  sigemptyset(&ours.sa_mask);
  ours.sa_flags = SA_RESTART;
  if (::sigaction(SIGINT, &ours, &g_previous_sigint) != 0) {
    g_sigint_runner.store(nullptr, std::memory_order_release);
    return false;
  }
  return true;
}

void Runner::install_sigint_handler() {
  if (!options_.handle_keyboard_interrupt.value_or(options_.clock == nullptr)) return;
  sigint_installed_ = ::trio::internal::install_sigint_handler(*this);
}

void restore_sigint_handler() {
  // Put the previous handler back, unless someone replaced ours meanwhile (then theirs stays).
  struct sigaction replaced;
  if (::sigaction(SIGINT, &g_previous_sigint, &replaced) == 0 &&
      ((replaced.sa_flags & SA_SIGINFO) || replaced.sa_handler != &trio_sigint_handler))
    ::sigaction(SIGINT, &replaced, nullptr);
  g_sigint_runner.store(nullptr, std::memory_order_seq_cst);
  // A handler that took the runner before that finishes in a few instructions (it never blocks;
  // one interrupted on this thread has already returned).
  while (g_sigint_in_flight.load(std::memory_order_acquire) != 0) {
  }
}

void Runner::restore_sigint_handler() {
  if (!sigint_installed_) return;
  sigint_installed_ = false;
  ::trio::internal::restore_sigint_handler();
}

}  // namespace trio::internal
