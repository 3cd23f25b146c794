// SPDX-License-Identifier: Apache-2.0 OR MIT
//
// The run_sync_soon queue (see callback_queue.h): Vyukov's bounded MPMC queue.
#include "runtime/internal/callback_queue.h"

namespace trio::internal {

CallbackQueue::CallbackQueue() : slots_(new Slot[kRunSyncSoonCapacity]) {
  for (size_t i = 0; i < kRunSyncSoonCapacity; ++i) slots_[i].seq.store(i);
}

bool CallbackQueue::push(void (*fn)(void*), void* arg) noexcept {
  uint64_t pos = enqueue_pos_.load(std::memory_order_relaxed);
  for (;;) {
    Slot& slot = slots_[pos % kRunSyncSoonCapacity];
    const uint64_t seq = slot.seq.load(std::memory_order_acquire);
    const int64_t diff = static_cast<int64_t>(seq) - static_cast<int64_t>(pos);
    if (diff == 0) {
      if (enqueue_pos_.compare_exchange_weak(pos, pos + 1, std::memory_order_relaxed)) {
        slot.fn = fn;
        slot.arg = arg;
        slot.seq.store(pos + 1, std::memory_order_release);
        return true;
      }
    } else if (diff < 0) {
      return false;  // full
    } else {
      pos = enqueue_pos_.load(std::memory_order_relaxed);
    }
  }
}

size_t CallbackQueue::drain() {
  // Only what was queued when the drain started: callbacks that post more callbacks (or
  // producers that never stop) wait for the next loop iteration, so they cannot starve tasks.
  const uint64_t end = enqueue_pos_.load(std::memory_order_acquire);
  size_t ran = 0;
  for (;;) {
    const uint64_t pos = dequeue_pos_.load(std::memory_order_relaxed);
    if (pos == end) return ran;
    Slot& slot = slots_[pos % kRunSyncSoonCapacity];
    const uint64_t seq = slot.seq.load(std::memory_order_acquire);
    if (static_cast<int64_t>(seq) - static_cast<int64_t>(pos + 1) < 0) return ran;  // empty
    void (*fn)(void*) = slot.fn;
    void* arg = slot.arg;
    dequeue_pos_.store(pos + 1, std::memory_order_relaxed);
    slot.seq.store(pos + kRunSyncSoonCapacity, std::memory_order_release);
    fn(arg);
    ++ran;
  }
}

bool CallbackQueue::maybe_nonempty() const noexcept {
  return enqueue_pos_.load(std::memory_order_acquire) !=
         dequeue_pos_.load(std::memory_order_relaxed);
}

size_t CallbackQueue::size() const noexcept {
  return enqueue_pos_.load(std::memory_order_acquire) -
         dequeue_pos_.load(std::memory_order_relaxed);
}

}  // namespace trio::internal
