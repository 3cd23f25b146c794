// SPDX-License-Identifier: Apache-2.0 OR MIT
//
// `RunOptions`: everything a run can be configured with. All pointers are borrowed: the objects
// must outlive the `trio::run` call.
//
// Example (a reproducible simulated run):
//   trio::MockClock clock;
//   clock.set_autojump_threshold(std::chrono::nanoseconds(0));
//   trio::run(trio::RunOptions{.clock = &clock, .seed = 42}, main_task);
#ifndef TRIO_RUNTIME_RUN_OPTIONS_H_
#define TRIO_RUNTIME_RUN_OPTIONS_H_

#include <cstdint>
#include <optional>
#include <vector>

#include "runtime/choice.h"
#include "runtime/clock.h"
#include "runtime/instrument.h"
#include "runtime/io_backend.h"

namespace trio {

namespace socket {
class SocketFactory;     // runtime/net/socket.h
class HostnameResolver;  // runtime/net/socket.h
}  // namespace socket

// How each scheduler batch (the tasks runnable at its start) is ordered.
enum class SchedulingPolicy : uint8_t {
  kCoinFlip,  // Trio's: FIFO or, with probability 1/2, reversed (the default)
  kShuffle,   // a uniformly random permutation of each batch
  kFifo,      // always the order in which tasks became runnable
  kLifo,      // always reversed
  kCustom,    // RunOptions::batch_orderer decides (e.g. the testing layer's PCT scheduler)
};

// Orders each batch under SchedulingPolicy::kCustom. `batch` holds the tasks runnable at the
// start of the batch, in the order they became runnable; permute it in place (do not add or
// remove tasks). Called on the run's thread, outside any task step.
class BatchOrderer {
 public:
  virtual ~BatchOrderer() = default;
  virtual void order_batch(std::vector<internal::TaskRec*>& batch) = 0;
};

// Called at every cancel point of every task — checkpoint(), every blocking operation,
// checkpoint_if_cancelled() — just before the runtime checks for cancellation, with the task
// current. A hook may cancel scopes (e.g. `trio::lowlevel::enclosing_scopes(task)`): the
// cancellation is then delivered at this very cancel point. This is how the testing layer
// explores "what if a cancellation arrived exactly here". Must not block or throw.
class CancelPointHook {
 public:
  virtual ~CancelPointHook() = default;
  virtual void at_cancel_point(internal::TaskRec& task) = 0;
};

// How to_thread::run_sync runs its threads (runtime/threads.h).
enum class ThreadMode : uint8_t {
  kReal,      // worker threads run concurrently with the run (production)
  kLockstep,  // the run waits for each worker, so a seeded run stays deterministic (simulation)
};

struct RunOptions {
  // The run's clock; null = a SystemClock owned by the run.
  Clock* clock = nullptr;
  // Instruments installed before the run starts.
  std::vector<Instrument*> instruments{};
  // Seeds the run's random source; nullopt = a seed from the OS.
  std::optional<uint64_t> seed{};
  // Where the run waits for I/O; null = an epoll backend owned by the run.
  IoBackend* io_backend = nullptr;
  // Where the run's sockets come from and how it resolves names (runtime/net/socket.h); null =
  // the operating system's. io_fake/'s simulated network installs itself here.
  socket::SocketFactory* socket_factory = nullptr;
  socket::HostnameResolver* hostname_resolver = nullptr;
  SchedulingPolicy scheduling = SchedulingPolicy::kCoinFlip;
  // Replaces the seeded PRNG as the source of every decision (the testing layer's hook).
  ChoiceSource* choices = nullptr;
  // With SchedulingPolicy::kCustom: orders every batch.
  BatchOrderer* batch_orderer = nullptr;
  // Called at every cancel point (see CancelPointHook).
  CancelPointHook* cancel_point_hook = nullptr;
  // Timer perturbation, for timing-race exploration in simulation; zero (the default) = off, and
  // then no decision is drawn and every deadline fires at its exact time. When positive, each
  // deadline registered (a sleep's, a cancel scope's) is, by a decision of the run
  // (ChoiceKind::kTimerNudge, n = 2: 0 = exact), delayed to the next instant of a grid of this
  // period (its phase drawn once per run, kTimerNudge, n = the period in ns). Deadlines less
  // than a period apart then often land on the same instant: a tie, whose order is another
  // decision (kDeadlineTie) — which is what finds "timeout versus completion" races. A deadline
  // is only ever delayed, by less than the period; CancelScope::deadline() is unchanged.
  Duration timer_perturbation_window = Duration(0);
  // When nothing is runnable, no deadline is pending and no I/O or wake-up can arrive, raise
  // DeadlockError (with the task tree) instead of waiting forever.
  bool detect_deadlock = true;
  // Ctrl-C: turn SIGINT into a KeyboardInterrupt in the main task (run.h). nullopt = only for a
  // run on the real clock (`clock` null). A simulation leaves SIGINT alone by default: a real
  // signal must not become an input of a run that a seed reproduces, and Ctrl-C should stop a
  // test or a seed sweep, not be reported as a failure of the seed it interrupted.
  std::optional<bool> handle_keyboard_interrupt{};
  // How to_thread::run_sync runs threads (see ThreadMode).
  ThreadMode threads = ThreadMode::kReal;
};

}  // namespace trio

#endif  // TRIO_RUNTIME_RUN_OPTIONS_H_
