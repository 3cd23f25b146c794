// SPDX-License-Identifier: Apache-2.0 OR MIT
//
// Internal: the recycling allocator for coroutine frames.
//
// g++ never elides coroutine frame allocations, so every `Task` costs an allocation. Frames come
// from a per-thread pool of size classes (64-byte granules up to kMaxPooledBytes); freed frames
// go to a free list and are reused. Under AddressSanitizer the pool is bypassed so that
// use-after-free of a frame is still caught. The live-frame counter is what tests read to check
// that nothing leaked (`trio::lowlevel::live_frames()`).
#ifndef TRIO_RUNTIME_INTERNAL_FRAME_ALLOCATOR_H_
#define TRIO_RUNTIME_INTERNAL_FRAME_ALLOCATOR_H_

#include <cstddef>
#include <cstdint>

namespace trio::internal {

inline constexpr size_t kFrameGranuleBytes = 64;
inline constexpr size_t kMaxPooledBytes = 4096;
inline constexpr size_t kFrameClasses = kMaxPooledBytes / kFrameGranuleBytes;
// Upper bound on cached free frames per size class; beyond it frames go back to the heap.
inline constexpr size_t kMaxCachedPerClass = 1 << 16;

struct FramePool {
  struct FreeNode {
    FreeNode* next;
  };
  FreeNode* free_list[kFrameClasses] = {};
  uint32_t cached[kFrameClasses] = {};
  int64_t live = 0;
  ~FramePool();
};

FramePool& frame_pool();

void* allocate_frame(size_t bytes);
void free_frame(void* p, size_t bytes) noexcept;

}  // namespace trio::internal

#endif  // TRIO_RUNTIME_INTERNAL_FRAME_ALLOCATOR_H_
