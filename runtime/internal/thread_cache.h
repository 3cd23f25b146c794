// SPDX-License-Identifier: Apache-2.0 OR MIT
//
// The process-wide cache of worker threads behind `trio::lowlevel::start_thread_soon` (Trio's
// `_thread_cache.py`). A job runs on an idle worker if there is one — the most recently idle
// first (LIFO: its stack and caches are warm) — or on a new thread. A worker that stays idle for
// `kIdleWorkerTimeout` exits. This is the one documented exception to "nothing survives a run":
// idle workers outlive the run that started them (they hold no run state), and a test that
// counts threads drains them first (`drain`).
//
// Thread-safety: every function may be called from any thread. Cross-thread state is guarded
// by a std::mutex (not absl::Mutex: Debian's Abseil is not TSan-instrumented).
#ifndef TRIO_RUNTIME_INTERNAL_THREAD_CACHE_H_
#define TRIO_RUNTIME_INTERNAL_THREAD_CACHE_H_

#include <chrono>
#include <cstddef>
#include <string>

#include "absl/functional/any_invocable.h"

namespace trio::internal {

inline constexpr std::chrono::seconds kIdleWorkerTimeout{10};

struct ThreadCacheStatistics {
  size_t live_workers = 0;  // threads of the cache that exist (busy or idle)
  size_t idle_workers = 0;
};

// Runs `job` on a worker thread named `name` (truncated to the OS's 15 characters; "" keeps
// "trio-worker"). `job` must not throw: an exception escaping it terminates the process, as an
// exception escaping any thread does. Never blocks for long (it may create a thread);
// std::system_error if the OS cannot create one.
void start_worker_job(absl::AnyInvocable<void() &&> job, std::string name);

// Makes every idle worker exit, and waits until they have. Busy workers are left alone (they
// go idle, and then exit after the timeout or the next drain).
void drain_thread_cache();

ThreadCacheStatistics thread_cache_statistics();

}  // namespace trio::internal

#endif  // TRIO_RUNTIME_INTERNAL_THREAD_CACHE_H_
