// SPDX-License-Identifier: Apache-2.0 OR MIT
//
// Internal: the recycling allocator for coroutine frames.
//
// g++ never elides coroutine frame allocations, so every `Task` costs an allocation. Frames come
// from a per-thread pool of size classes (16-byte granules up to kMaxPooledBytes); freed frames
// go to a free list and are reused. The fast paths are inline: a pop or a push on a thread-local
// list. Under AddressSanitizer the pool is bypassed so that use-after-free of a frame is still
// caught. The live-frame counter is what tests read to check that nothing leaked
// (`trio::lowlevel::live_frames()`).
//
// Frames are recycled by the thread that frees them. A run's frames are allocated and freed on
// the run's thread, so the counter of that thread returns to its starting value after the run.
#ifndef TRIO_RUNTIME_INTERNAL_FRAME_ALLOCATOR_H_
#define TRIO_RUNTIME_INTERNAL_FRAME_ALLOCATOR_H_

#include <cstddef>
#include <cstdint>
#include <new>

#if defined(__SANITIZE_ADDRESS__)
#define TRIO_FRAME_POOL_DISABLED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define TRIO_FRAME_POOL_DISABLED 1
#endif
#endif

namespace trio::internal {

inline constexpr size_t kFrameGranuleBytes = 16;
inline constexpr size_t kMaxPooledBytes = 4096;
inline constexpr size_t kFrameClasses = kMaxPooledBytes / kFrameGranuleBytes;
// Upper bound on cached free frames per size class; beyond it frames go back to the heap.
inline constexpr uint32_t kMaxCachedPerClass = 1 << 16;

// Trivially destructible, so thread-local access needs no guard; the cached frames are released
// at thread exit by a cleanup object registered on the slow path.
struct FramePool {
  struct FreeNode {
    FreeNode* next;
  };
  FreeNode* free_list[kFrameClasses];
  uint32_t cached[kFrameClasses];
  int64_t live;
};

inline thread_local FramePool tl_frame_pool{};

inline FramePool& frame_pool() { return tl_frame_pool; }

// Allocates from the heap (and registers the thread's cleanup).
void* allocate_frame_slow(size_t bytes);

inline constexpr size_t frame_class(size_t bytes) {
  return (bytes + kFrameGranuleBytes - 1) / kFrameGranuleBytes - 1;
}

inline void* allocate_frame(size_t bytes) {
  FramePool& pool = tl_frame_pool;
  ++pool.live;
#ifndef TRIO_FRAME_POOL_DISABLED
  if (bytes <= kMaxPooledBytes) {
    const size_t c = frame_class(bytes);
    if (FramePool::FreeNode* n = pool.free_list[c]) {
      pool.free_list[c] = n->next;
      --pool.cached[c];
      return n;
    }
  }
#endif
  return allocate_frame_slow(bytes);
}

inline void free_frame(void* p, size_t bytes) noexcept {
  FramePool& pool = tl_frame_pool;
  --pool.live;
#ifndef TRIO_FRAME_POOL_DISABLED
  if (bytes <= kMaxPooledBytes) {
    const size_t c = frame_class(bytes);
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

#endif  // TRIO_RUNTIME_INTERNAL_FRAME_ALLOCATOR_H_
