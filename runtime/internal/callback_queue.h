// SPDX-License-Identifier: Apache-2.0 OR MIT
//
// Internal: the run_sync_soon entry queue (Vyukov's bounded MPMC queue; lock-free,
// async-signal-safe push), the one way other threads and signal handlers reach a run.
#ifndef TRIO_RUNTIME_INTERNAL_CALLBACK_QUEUE_H_
#define TRIO_RUNTIME_INTERNAL_CALLBACK_QUEUE_H_

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>

namespace trio {
namespace internal {

// Capacity of the cross-thread run_sync_soon queue.
inline constexpr size_t kRunSyncSoonCapacity = 1 << 14;

// Lock-free multi-producer queue of (fn, arg) callbacks for run_sync_soon. Producers may be
// other threads or signal handlers; the run's thread consumes.
class CallbackQueue {
 public:
  CallbackQueue();
  // False if the queue is full.
  bool push(void (*fn)(void*), void* arg) noexcept;
  // Runs every queued callback; returns how many ran.
  size_t drain();
  bool maybe_nonempty() const noexcept;
  size_t size() const noexcept;

 private:
  struct Slot {
    std::atomic<uint64_t> seq;
    void (*fn)(void*);
    void* arg;
  };
  std::unique_ptr<Slot[]> slots_;
  std::atomic<uint64_t> enqueue_pos_{0};
  std::atomic<uint64_t> dequeue_pos_{0};
};

}  // namespace internal
}  // namespace trio

#endif  // TRIO_RUNTIME_INTERNAL_CALLBACK_QUEUE_H_
