// SPDX-License-Identifier: Apache-2.0 OR MIT
#include "runtime/internal/frame_allocator.h"

namespace trio::internal {

namespace {
// Releases the thread's cached frames at thread exit.
struct PoolCleanup {
  ~PoolCleanup() {
    FramePool& pool = tl_frame_pool;
    for (size_t c = 0; c < kFrameClasses; ++c) {
      while (FramePool::FreeNode* n = pool.free_list[c]) {
        pool.free_list[c] = n->next;
        ::operator delete(n);
      }
      pool.cached[c] = 0;
    }
  }
};
thread_local PoolCleanup tl_cleanup;
}  // namespace

void* allocate_frame_slow(size_t bytes) {
#ifndef TRIO_FRAME_POOL_DISABLED
  // Touching the cleanup object registers its destructor for this thread.
  static_cast<void>(&tl_cleanup);
  if (bytes <= kMaxPooledBytes)
    return ::operator new((frame_class(bytes) + 1) * kFrameGranuleBytes);
#endif
  return ::operator new(bytes);
}

}  // namespace trio::internal
