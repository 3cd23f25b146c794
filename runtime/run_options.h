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

// How each scheduler batch (the tasks runnable at its start) is ordered.
enum class SchedulingPolicy : uint8_t {
  kCoinFlip,  // Trio's: FIFO or, with probability 1/2, reversed (the default)
  kShuffle,   // a uniformly random permutation of each batch
  kFifo,      // always the order in which tasks became runnable
  kLifo,      // always reversed
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
  SchedulingPolicy scheduling = SchedulingPolicy::kCoinFlip;
  // Replaces the seeded PRNG as the source of every decision (the testing layer's hook).
  ChoiceSource* choices = nullptr;
  // When nothing is runnable, no deadline is pending and no I/O or wake-up can arrive, raise
  // DeadlockError (with the task tree) instead of waiting forever.
  bool detect_deadlock = true;
};

}  // namespace trio

#endif  // TRIO_RUNTIME_RUN_OPTIONS_H_
