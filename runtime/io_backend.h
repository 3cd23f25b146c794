// SPDX-License-Identifier: Apache-2.0 OR MIT
//
// The I/O seam: what the run loop waits on between batches.
//
// Production runs use `EpollBackend` (the default when `RunOptions::io_backend` is null).
// A backend is driven by the runner on the run's thread, except `wake()`, which any thread or a
// signal handler may call. Tasks block on file descriptors through `trio::lowlevel::
// wait_readable` / `wait_writable`, which call `register_waiter`; the backend makes a registered
// task runnable again with `trio::lowlevel::reschedule` when the fd is ready.
#ifndef TRIO_RUNTIME_IO_BACKEND_H_
#define TRIO_RUNTIME_IO_BACKEND_H_

#include <cstddef>
#include <exception>
#include <string>

#include "runtime/internal/task_record.h"
#include "runtime/time.h"

namespace trio {

enum class IoDirection { kRead, kWrite };

struct IoStatistics {
  std::string backend;
  size_t tasks_waiting_read = 0;
  size_t tasks_waiting_write = 0;
};

class IoBackend {
 public:
  virtual ~IoBackend() = default;

  // Waits for I/O readiness, a wake(), or `timeout` (kInfDuration: no limit; 0: poll). Makes
  // ready waiters runnable. Returns true if anything arrived (I/O or a wake-up).
  virtual bool wait_for_events(Duration timeout) = 0;

  // True if an event can still arrive: some fd is registered, or wake() may be called.
  // When false and nothing else can happen, the run reports a deadlock instead of hanging.
  virtual bool may_produce_events() const = 0;

  // Called once before any thread may call wake() (when a TrioToken is first handed out).
  virtual void enable_wakeups() = 0;
  // Called before the run's first blocking wait when trio::run handles SIGINT: wake() must work
  // from then on (the handler calls it), but it does not make may_produce_events() true — a run
  // whose only hope is a Ctrl-C is still a deadlock. A backend whose waits a signal interrupts
  // anyway may do nothing.
  virtual void enable_interrupt_wakeups() {}
  // Wakes a concurrent wait_for_events. Async-signal-safe and thread-safe.
  virtual void wake() noexcept = 0;

  // Registers `task` as the one waiter for `fd` in `direction`; throws BusyResourceError if
  // another task already waits there, or std::system_error for a bad fd.
  virtual void register_waiter(int fd, IoDirection direction, internal::TaskRec* task) = 0;
  // Removes a registration (on cancellation). No-op if absent.
  virtual void unregister_waiter(int fd, IoDirection direction) = 0;
  // Wakes every waiter on `fd` with ClosedResourceError and forgets the fd.
  virtual void notify_closing(int fd) = 0;

  virtual IoStatistics statistics() const = 0;

  // Number of registered fd waiters. The loop polls (with a zero timeout) before each batch only
  // when this is non-zero, so runs without I/O make no syscall per batch.
  size_t waiter_count() const { return waiters_; }

 protected:
  // Maintained by implementations: +1 per register_waiter, -1 per removal.
  size_t waiters_ = 0;
};

}  // namespace trio

#endif  // TRIO_RUNTIME_IO_BACKEND_H_
