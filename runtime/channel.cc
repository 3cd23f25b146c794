// SPDX-License-Identifier: Apache-2.0 OR MIT
#include "runtime/channel.h"

namespace trio::detail {

namespace {
const void* channel_of(const void* queue) {
  return static_cast<const ChannelQueue*>(static_cast<const WaitQueue*>(queue))->channel;
}
}  // namespace

const internal::ObjectKind kMemoryChannelKind{
    .name = "MemoryChannel", .noun = "channel", .identity = channel_of};

void check_max_buffer_size(int64_t max_buffer_size) {
  if (max_buffer_size < 0) throw ValueError("max_buffer_size must be >= 0");
}

void raise_channel_error(Attempt attempt, bool sending) {
  switch (attempt) {
    case Attempt::kWouldBlock:
      throw WouldBlock(sending ? "the channel's buffer is full (or other senders are waiting)"
                               : "the channel has no value ready");
    case Attempt::kClosed:
      throw ClosedResourceError(sending ? "this send channel handle was closed"
                                        : "this receive channel handle was closed");
    case Attempt::kBroken:
      throw BrokenResourceError("every receive channel handle of this channel was closed");
    case Attempt::kEnd:
      throw EndOfChannel("every send channel handle of this channel was closed");
    default:
      throw TrioInternalError("raise_channel_error: not an error");
  }
}

}  // namespace trio::detail
