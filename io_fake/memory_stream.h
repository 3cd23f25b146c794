// SPDX-License-Identifier: Apache-2.0 OR MIT
//
// In-memory byte streams for tests (Trio's trio.testing memory streams, spec §1.19): no
// operating system, no real time, every byte where a test can see it.
//
//   MemorySendStream / MemoryReceiveStream   one-way halves with an unbounded buffer and
//                                            mutable hooks, driven by hand or by a pump
//   memory_stream_pump(send, receive)        moves buffered bytes (or EOF) across
//   memory_stream_one_way_pair()             two halves wired by pumping hooks
//   memory_stream_pair()                     two StapledStreams: a socketpair analogue with
//                                            infinite buffering
//   lockstep_stream_one_way_pair() / lockstep_stream_pair()
//                                            no buffering at all: send_all returns only once
//                                            the receiver took every byte (the "clogged" maker
//                                            of the check_*_stream suites)
//
// Example:
//   auto [left, right] = trio::testing::memory_stream_pair();
//   co_await left->send_all("123");
//   std::string got = co_await right->receive_some();   // "123"
//
// Checkpoints, exactly as Trio's (the conformance corpus pins them):
//   * MemorySendStream::send_all / wait_send_all_might_not_block and
//     MemoryReceiveStream::receive_some take two checkpoints first, while holding the half's
//     conflict detector, so that a concurrent call from another task meets the held detector
//     and raises BusyResourceError. Inside a cancelled scope they therefore raise Cancelled
//     before any other error.
//   * aclose() closes, then takes a checkpoint (closed even when that raises Cancelled).
//   * Lockstep methods raise ClosedResourceError / BrokenResourceError before any checkpoint.
//
// Lifetimes: the hooks of a one-way pair point at both halves; keep both alive while either
// is used (memory_stream_pair's StapledStreams hold one half of each pair, so keep both
// streams alive). Destroying a half closes nothing and calls no hook.
#ifndef TRIO_IO_FAKE_MEMORY_STREAM_H_
#define TRIO_IO_FAKE_MEMORY_STREAM_H_

#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>

#include "runtime/lowlevel.h"
#include "runtime/net/stapled_stream.h"
#include "runtime/net/stream.h"

namespace trio::testing {

namespace internal {

// Trio's _util.ConflictDetector: entering while held raises BusyResourceError(message).
class ConflictDetector {
 public:
  explicit ConflictDetector(const char* message) : message_(message) {}
  // Held while the returned guard lives.
  class [[nodiscard]] Guard {
   public:
    explicit Guard(ConflictDetector* d) : d_(d) {}
    Guard(Guard&& o) noexcept : d_(std::exchange(o.d_, nullptr)) {}
    Guard(const Guard&) = delete;
    Guard& operator=(const Guard&) = delete;
    ~Guard() {
      if (d_) d_->held_ = false;
    }

   private:
    ConflictDetector* d_;
  };
  Guard enter();
  bool held() const { return held_; }

 private:
  const char* message_;
  bool held_ = false;
};

// Trio's _UnboundedByteQueue: bytes plus a closed flag; get() blocks until either.
class UnboundedByteQueue {
 public:
  void close();
  // close() after discarding the buffered bytes.
  void close_and_wipe();
  // ClosedResourceError("virtual connection closed") once closed.
  void put(ConstBytes data);
  // At most max_bytes (all if nullopt) of the buffered bytes; "" when closed and drained.
  // ValueError if max_bytes is 0; WouldBlock if open and empty; BusyResourceError if a get()
  // is waiting. Not a checkpoint.
  std::string get_nowait(std::optional<size_t> max_bytes);
  // As get_nowait, but parks while open and empty (else one checkpoint).
  Task<std::string> get(std::optional<size_t> max_bytes);
  size_t size() const { return data_.size(); }

 private:
  std::string take(std::optional<size_t> max_bytes);
  std::string data_;
  bool closed_ = false;
  lowlevel::ParkingLot lot_{"memory stream buffer"};
  ConflictDetector fetch_lock_{"another task is already fetching data"};
};

}  // namespace internal

// An async hook (send_all_hook, receive_some_hook, ...): whatever the test wants, awaited.
using AsyncHook = std::function<Task<>()>;
// A sync hook (close_hook).
using SyncHook = std::function<void()>;

// A SendStream whose bytes go to an unbounded internal buffer, for get_data() to fetch.
class MemorySendStream final : public SendStream {
 public:
  explicit MemorySendStream(AsyncHook send_all_hook = nullptr,
                            AsyncHook wait_send_all_might_not_block_hook = nullptr,
                            SyncHook close_hook = nullptr);

  // Two checkpoints, then appends `data` to the buffer (ClosedResourceError once closed),
  // then awaits send_all_hook. BusyResourceError if another send_all /
  // wait_send_all_might_not_block is running.
  Task<> send_all(ConstBytes data) override;
  // Like send_all of no bytes: two checkpoints, ClosedResourceError once closed, then awaits
  // wait_send_all_might_not_block_hook. Never blocks by itself.
  Task<> wait_send_all_might_not_block() override;
  // Marks the stream closed (buffered bytes stay fetchable), then calls close_hook. Sync.
  void close();
  // close(), then a checkpoint.
  Task<> aclose() override;

  // Takes at most max_bytes (all if nullopt) buffered bytes, blocking until there is at least
  // one; "" once closed and drained. ValueError if max_bytes is 0; BusyResourceError if
  // another get_data is waiting. A checkpoint.
  Task<std::string> get_data(std::optional<size_t> max_bytes = std::nullopt);
  // The same without blocking: WouldBlock if open and empty. Not a checkpoint.
  std::string get_data_nowait(std::optional<size_t> max_bytes = std::nullopt);

  // The hooks: mutable at any time (Trio's attributes).
  AsyncHook send_all_hook;
  AsyncHook wait_send_all_might_not_block_hook;
  SyncHook close_hook;

 private:
  internal::ConflictDetector conflict_detector_{"another task is using this stream"};
  internal::UnboundedByteQueue outgoing_;
};

// A ReceiveStream reading from an internal buffer that the test fills with put_data/put_eof.
class MemoryReceiveStream final : public ReceiveStream {
 public:
  explicit MemoryReceiveStream(AsyncHook receive_some_hook = nullptr,
                               SyncHook close_hook = nullptr);

  // Discards buffered bytes, marks the stream closed (readers, blocked or later, raise
  // ClosedResourceError), then calls close_hook. Sync.
  void close();
  // close(), then a checkpoint.
  Task<> aclose() override;

  // Appends bytes to the buffer. ClosedResourceError if closed or after put_eof.
  void put_data(ConstBytes data);
  // Marks the end of the data: receive_some returns 0 once the buffer is drained.
  void put_eof();

  AsyncHook receive_some_hook;
  SyncHook close_hook;

 protected:
  // Two checkpoints; ClosedResourceError if closed; awaits receive_some_hook; then waits for
  // bytes or EOF; ClosedResourceError if closed meanwhile. BusyResourceError if another
  // receive_some is running (the whole time, the wait included).
  Task<size_t> receive_some_impl(MutableBytes buffer) override;

 private:
  internal::ConflictDetector conflict_detector_{"another task is using this stream"};
  internal::UnboundedByteQueue incoming_;
  bool closed_ = false;
};

// Moves at most max_bytes (all if nullopt) buffered bytes of `send` into `receive`, or EOF if
// `send` is closed and drained. Returns false if there was nothing to move. A closed `receive`
// makes it raise BrokenResourceError("MemoryReceiveStream was closed"). Sync.
bool memory_stream_pump(MemorySendStream& send, MemoryReceiveStream& receive,
                        std::optional<size_t> max_bytes = std::nullopt);

// A MemorySendStream whose send_all_hook and close_hook pump into the MemoryReceiveStream.
std::pair<std::unique_ptr<MemorySendStream>, std::unique_ptr<MemoryReceiveStream>>
memory_stream_one_way_pair();

// Two StapledStreams over two memory_stream_one_way_pairs: bytes sent on either arrive at the
// other. The halves are reachable through send_stream() / receive_stream() (downcast to
// MemorySendStream / MemoryReceiveStream to change their hooks).
std::pair<std::unique_ptr<StapledStream>, std::unique_ptr<StapledStream>> memory_stream_pair();

// ---- lockstep streams ------------------------------------------------------------------------

namespace internal {
class LockstepByteQueue;
}

// The send half of a lockstep pair. send_all blocks until the receiver took every byte:
// ClosedResourceError if this half is (or gets) closed, BrokenResourceError if the receiver
// is (or gets) closed with bytes not taken; a cancelled send_all leaves its bytes queued.
// wait_send_all_might_not_block waits until a receiver is inside receive_some (returns after a
// checkpoint if the receiver is closed). Errors come before any checkpoint.
class LockstepSendStream final : public SendStream {
 public:
  explicit LockstepSendStream(std::shared_ptr<internal::LockstepByteQueue> queue)
      : queue_(std::move(queue)) {}
  Task<> send_all(ConstBytes data) override;
  Task<> wait_send_all_might_not_block() override;
  void close();
  Task<> aclose() override;

 private:
  std::shared_ptr<internal::LockstepByteQueue> queue_;
};

// The receive half: receive_some waits for bytes (returns 0 once the sender closed with
// nothing queued). ClosedResourceError if this half is (or gets) closed, before any checkpoint.
class LockstepReceiveStream final : public ReceiveStream {
 public:
  explicit LockstepReceiveStream(std::shared_ptr<internal::LockstepByteQueue> queue)
      : queue_(std::move(queue)) {}
  void close();
  Task<> aclose() override;

 protected:
  Task<size_t> receive_some_impl(MutableBytes buffer) override;

 private:
  std::shared_ptr<internal::LockstepByteQueue> queue_;
};

std::pair<std::unique_ptr<LockstepSendStream>, std::unique_ptr<LockstepReceiveStream>>
lockstep_stream_one_way_pair();
std::pair<std::unique_ptr<StapledStream>, std::unique_ptr<StapledStream>> lockstep_stream_pair();

}  // namespace trio::testing

#endif  // TRIO_IO_FAKE_MEMORY_STREAM_H_
