// SPDX-License-Identifier: Apache-2.0 OR MIT
//
// A line-by-line port of Trio's testing/_memory_streams.py; where the order of a check and a
// checkpoint looks arbitrary, it is Trio's order, which the conformance corpus pins.
#include "io_fake/memory_stream.h"

#include <algorithm>
#include <cassert>
#include <cstring>
#include <utility>

#include "runtime/errors.h"

namespace trio::testing {

namespace internal {

// ---- ConflictDetector, UnboundedByteQueue -------------------------------------------------

ConflictDetector::Guard ConflictDetector::enter() {
  if (held_) throw BusyResourceError(message_);
  held_ = true;
  return Guard(this);
}

void UnboundedByteQueue::close() {
  closed_ = true;
  lot_.unpark_all();
}

void UnboundedByteQueue::close_and_wipe() {
  data_.clear();
  close();
}

void UnboundedByteQueue::put(ConstBytes data) {
  if (closed_) throw ClosedResourceError("virtual connection closed");
  data_.append(data.as_string_view());
  lot_.unpark_all();
}

static void check_max_bytes(std::optional<size_t> max_bytes) {
  if (max_bytes && *max_bytes < 1) throw ValueError("max_bytes must be >= 1");
}

std::string UnboundedByteQueue::take(std::optional<size_t> max_bytes) {
  assert(closed_ || !data_.empty());
  const size_t n = std::min(max_bytes.value_or(data_.size()), data_.size());
  std::string chunk = data_.substr(0, n);
  data_.erase(0, n);
  return chunk;
}

std::string UnboundedByteQueue::get_nowait(std::optional<size_t> max_bytes) {
  auto held = fetch_lock_.enter();
  check_max_bytes(max_bytes);
  if (!closed_ && data_.empty()) throw WouldBlock();
  return take(max_bytes);
}

Task<std::string> UnboundedByteQueue::get(std::optional<size_t> max_bytes) {
  auto held = fetch_lock_.enter();
  check_max_bytes(max_bytes);
  if (!closed_ && data_.empty()) {
    // One park: put() and close() wake every parked getter (there is at most one).
    co_await lot_.park("memory stream get");
  } else {
    co_await checkpoint();
  }
  co_return take(max_bytes);
}

}  // namespace internal

// ---- MemorySendStream -----------------------------------------------------------------------

MemorySendStream::MemorySendStream(AsyncHook send_all_hook_in,
                                   AsyncHook wait_send_all_might_not_block_hook_in,
                                   SyncHook close_hook_in)
    : send_all_hook(std::move(send_all_hook_in)),
      wait_send_all_might_not_block_hook(std::move(wait_send_all_might_not_block_hook_in)),
      close_hook(std::move(close_hook_in)) {}

Task<> MemorySendStream::send_all(ConstBytes data) {
  auto held = conflict_detector_.enter();
  co_await checkpoint();
  co_await checkpoint();
  outgoing_.put(data);
  if (send_all_hook) {
    // A copy: the hook may replace itself.
    AsyncHook hook = send_all_hook;
    co_await hook();
  }
}

Task<> MemorySendStream::wait_send_all_might_not_block() {
  auto held = conflict_detector_.enter();
  co_await checkpoint();
  co_await checkpoint();
  outgoing_.put(ConstBytes());
  if (wait_send_all_might_not_block_hook) {
    AsyncHook hook = wait_send_all_might_not_block_hook;
    co_await hook();
  }
}

void MemorySendStream::close() {
  outgoing_.close();
  if (close_hook) {
    SyncHook hook = close_hook;
    hook();
  }
}

Task<> MemorySendStream::aclose() {
  close();
  co_await checkpoint();
}

Task<std::string> MemorySendStream::get_data(std::optional<size_t> max_bytes) {
  return outgoing_.get(max_bytes);
}

std::string MemorySendStream::get_data_nowait(std::optional<size_t> max_bytes) {
  return outgoing_.get_nowait(max_bytes);
}

// ---- MemoryReceiveStream --------------------------------------------------------------------

MemoryReceiveStream::MemoryReceiveStream(AsyncHook receive_some_hook_in, SyncHook close_hook_in)
    : receive_some_hook(std::move(receive_some_hook_in)), close_hook(std::move(close_hook_in)) {}

Task<size_t> MemoryReceiveStream::receive_some_impl(MutableBytes buffer) {
  auto held = conflict_detector_.enter();
  co_await checkpoint();
  co_await checkpoint();
  if (closed_) throw ClosedResourceError();
  if (receive_some_hook) {
    AsyncHook hook = receive_some_hook;
    co_await hook();
  }
  std::string data = co_await incoming_.get(buffer.size());
  if (closed_) throw ClosedResourceError();
  std::memcpy(buffer.data(), data.data(), data.size());
  co_return data.size();
}

void MemoryReceiveStream::close() {
  closed_ = true;
  incoming_.close_and_wipe();
  if (close_hook) {
    SyncHook hook = close_hook;
    hook();
  }
}

Task<> MemoryReceiveStream::aclose() {
  close();
  co_await checkpoint();
}

void MemoryReceiveStream::put_data(ConstBytes data) { incoming_.put(data); }

void MemoryReceiveStream::put_eof() { incoming_.close(); }

// ---- pumps and pairs ------------------------------------------------------------------------

bool memory_stream_pump(MemorySendStream& send, MemoryReceiveStream& receive,
                        std::optional<size_t> max_bytes) {
  std::string data;
  try {
    data = send.get_data_nowait(max_bytes);
  } catch (const WouldBlock&) {
    return false;
  }
  try {
    if (data.empty()) {
      receive.put_eof();
    } else {
      receive.put_data(data);
    }
  } catch (const ClosedResourceError&) {
    throw BrokenResourceError("MemoryReceiveStream was closed");
  }
  return true;
}

namespace {
// The send_all_hook of a one-way pair: a free coroutine with by-value parameters, so nothing
// depends on the lifetime of a closure (coroutine-pitfalls.md, row 2).
Task<> pump_hook(MemorySendStream* send, MemoryReceiveStream* receive) {
  memory_stream_pump(*send, *receive);
  co_return;
}

template <class OneWayPair>
std::pair<std::unique_ptr<StapledStream>, std::unique_ptr<StapledStream>> make_stapled_pair(
    OneWayPair one_way_pair) {
  auto [send1, receive1] = one_way_pair();
  auto [send2, receive2] = one_way_pair();
  return {std::make_unique<StapledStream>(std::move(send1), std::move(receive2)),
          std::make_unique<StapledStream>(std::move(send2), std::move(receive1))};
}
}  // namespace

std::pair<std::unique_ptr<MemorySendStream>, std::unique_ptr<MemoryReceiveStream>>
memory_stream_one_way_pair() {
  auto send = std::make_unique<MemorySendStream>();
  auto receive = std::make_unique<MemoryReceiveStream>();
  MemorySendStream* s = send.get();
  MemoryReceiveStream* r = receive.get();
  send->send_all_hook = [s, r] { return pump_hook(s, r); };
  send->close_hook = [s, r] { memory_stream_pump(*s, *r); };
  return {std::move(send), std::move(receive)};
}

std::pair<std::unique_ptr<StapledStream>, std::unique_ptr<StapledStream>> memory_stream_pair() {
  return make_stapled_pair(memory_stream_one_way_pair);
}

// ---- lockstep streams -----------------------------------------------------------------------

namespace internal {

// Trio's _LockstepByteQueue: the bytes of one send_all, waiting to be received.
class LockstepByteQueue {
 public:
  void close_sender() {
    sender_closed_ = true;
    something_happened();
  }
  void close_receiver() {
    receiver_closed_ = true;
    something_happened();
  }
  Task<> send_all(ConstBytes data);
  Task<> wait_send_all_might_not_block();
  Task<size_t> receive_some(MutableBytes buffer);

 private:
  using Predicate = bool (LockstepByteQueue::*)() const;
  bool data_empty() const { return data_.empty(); }
  bool data_present() const { return !data_.empty(); }
  bool receiver_waiting() const { return receiver_waiting_; }
  void something_happened() { waiters_.unpark_all(); }
  // Parks until the predicate holds or either side is closed; then one checkpoint.
  Task<> wait_for(Predicate predicate);

  // Bytes sent and not yet received. Trio asserts it is empty when send_all starts; after a
  // cancelled send_all it is not, and we append (Trio would fail an assertion).
  std::string data_;
  bool sender_closed_ = false;
  bool receiver_closed_ = false;
  // Invariant: true exactly while a receive_some is inside its wait.
  bool receiver_waiting_ = false;
  lowlevel::ParkingLot waiters_{"lockstep stream"};
  ConflictDetector send_conflict_detector_{"another task is already sending"};
  ConflictDetector receive_conflict_detector_{"another task is already receiving"};
};

Task<> LockstepByteQueue::wait_for(Predicate predicate) {
  while (!(this->*predicate)() && !sender_closed_ && !receiver_closed_)
    co_await waiters_.park("lockstep stream wait");
  co_await checkpoint();
}

Task<> LockstepByteQueue::send_all(ConstBytes data) {
  auto held = send_conflict_detector_.enter();
  if (sender_closed_) throw ClosedResourceError();
  if (receiver_closed_) throw BrokenResourceError();
  data_.append(data.as_string_view());
  something_happened();
  co_await wait_for(&LockstepByteQueue::data_empty);
  if (sender_closed_) throw ClosedResourceError();
  if (!data_.empty() && receiver_closed_) throw BrokenResourceError();
}

Task<> LockstepByteQueue::wait_send_all_might_not_block() {
  auto held = send_conflict_detector_.enter();
  if (sender_closed_) throw ClosedResourceError();
  if (receiver_closed_) {
    co_await checkpoint();
    co_return;
  }
  co_await wait_for(&LockstepByteQueue::receiver_waiting);
  if (sender_closed_) throw ClosedResourceError();
}

Task<size_t> LockstepByteQueue::receive_some(MutableBytes buffer) {
  auto held = receive_conflict_detector_.enter();
  if (receiver_closed_) throw ClosedResourceError();
  receiver_waiting_ = true;
  something_happened();
  {
    // try/finally: receiver_waiting_ drops however the wait ends.
    struct ResetWaiting {
      bool* flag;
      ~ResetWaiting() { *flag = false; }
    } reset{&receiver_waiting_};
    co_await wait_for(&LockstepByteQueue::data_present);
  }
  if (receiver_closed_) throw ClosedResourceError();
  if (data_.empty()) {
    assert(sender_closed_);
    co_return 0;
  }
  const size_t n = std::min(buffer.size(), data_.size());
  std::memcpy(buffer.data(), data_.data(), n);
  data_.erase(0, n);
  something_happened();
  co_return n;
}

}  // namespace internal

Task<> LockstepSendStream::send_all(ConstBytes data) { return queue_->send_all(data); }
Task<> LockstepSendStream::wait_send_all_might_not_block() {
  return queue_->wait_send_all_might_not_block();
}
void LockstepSendStream::close() { queue_->close_sender(); }
Task<> LockstepSendStream::aclose() {
  close();
  co_await checkpoint();
}

void LockstepReceiveStream::close() { queue_->close_receiver(); }
Task<> LockstepReceiveStream::aclose() {
  close();
  co_await checkpoint();
}
Task<size_t> LockstepReceiveStream::receive_some_impl(MutableBytes buffer) {
  return queue_->receive_some(buffer);
}

std::pair<std::unique_ptr<LockstepSendStream>, std::unique_ptr<LockstepReceiveStream>>
lockstep_stream_one_way_pair() {
  auto queue = std::make_shared<internal::LockstepByteQueue>();
  return {std::make_unique<LockstepSendStream>(queue),
          std::make_unique<LockstepReceiveStream>(std::move(queue))};
}

std::pair<std::unique_ptr<StapledStream>, std::unique_ptr<StapledStream>> lockstep_stream_pair() {
  return make_stapled_pair(lockstep_stream_one_way_pair);
}

}  // namespace trio::testing
