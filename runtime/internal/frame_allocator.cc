// SPDX-License-Identifier: Apache-2.0 OR MIT
#include "runtime/internal/frame_allocator.h"

#include <new>

#if defined(__SANITIZE_ADDRESS__)
#define TRIO_FRAME_POOL_DISABLED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define TRIO_FRAME_POOL_DISABLED 1
#endif
#endif

namespace trio::internal {

namespace {
thread_local FramePool tl_pool;
}

FramePool::~FramePool() {
  for (size_t c = 0; c < kFrameClasses; ++c) {
    while (FreeNode* n = free_list[c]) {
      free_list[c] = n->next;
      ::operator delete(n);
    }
  }
}

[[gnu::noinline]] FramePool& frame_pool() { return tl_pool; }

void* allocate_frame(size_t bytes) {
  FramePool& pool = frame_pool();
  ++pool.live;
#ifndef TRIO_FRAME_POOL_DISABLED
  if (bytes <= kMaxPooledBytes) {
    const size_t c = (bytes + kFrameGranuleBytes - 1) / kFrameGranuleBytes - 1;
    if (FramePool::FreeNode* n = pool.free_list[c]) {
      pool.free_list[c] = n->next;
      --pool.cached[c];
      return n;
    }
    return ::operator new((c + 1) * kFrameGranuleBytes);
  }
#endif
  return ::operator new(bytes);
}

void free_frame(void* p, size_t bytes) noexcept {
  FramePool& pool = frame_pool();
  --pool.live;
#ifndef TRIO_FRAME_POOL_DISABLED
  if (bytes <= kMaxPooledBytes) {
    const size_t c = (bytes + kFrameGranuleBytes - 1) / kFrameGranuleBytes - 1;
    if (pool.cached[c] < kMaxCachedPerClass) {
      auto* n = static_cast<FramePool::FreeNode*>(p);
      n->next = pool.free_list[c];
      pool.free_list[c] = n;
      ++pool.cached[c];
      return;
    }
  }
#endif
  (void)bytes;
  ::operator delete(p);
}

}  // namespace trio::internal
