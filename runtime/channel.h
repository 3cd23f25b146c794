// SPDX-License-Identifier: Apache-2.0 OR MIT
//
// Memory channels (Trio's `trio.open_memory_channel`, spec §1.8, invariants 14–15): an
// in-process, multi-producer multi-consumer queue of `T` between tasks of one run, built on
// `wait_task_rescheduled` / `reschedule` like Trio's `_channel.py`.
//
//   trio::MemorySendChannel<std::string> tx;
//   trio::MemoryReceiveChannel<std::string> rx;
//   std::tie(tx, rx) = trio::open_memory_channel<std::string>(0);   // 0: a rendezvous
//   co_await trio::open_nursery([&](trio::Nursery& n) -> trio::Task<> {
//     n.start_soon(producer, std::move(tx));     // the producer's handle closes when it exits
//     while (std::optional<std::string> s = co_await rx.receive_or_end()) consume(*s);
//   });
//
//   trio::Task<> producer(trio::MemorySendChannel<std::string> tx) {
//     for (int i = 0; i < 3; ++i) co_await tx.send(std::to_string(i));
//   }                                            // ~tx closes it: the loop above ends
//
// (`auto [tx, rx] = trio::open_memory_channel<T>(n);` reads better, but clang 14 cannot capture
// structured bindings in lambdas — a C++20 feature it lacks — so name the handles when a lambda
// such as a nursery body uses them.)
//
// Buffering: `max_buffer_size` 0 is a rendezvous (a send completes only when a receiver takes
// the value; "if in doubt, use 0"), N buffers up to N values, `trio::kUnbounded` never blocks a
// sender. Any movable `T` works, move-only types included.
//
// Handles: `MemorySendChannel<T>` and `MemoryReceiveChannel<T>` are move-only handles on the
// shared channel. `clone()` makes another handle (one per producer / consumer); `close()`
// closes one handle (idempotent, sync). Receivers get EndOfChannel once *every* send handle is
// closed and the buffer is drained; senders get BrokenResourceError once every receive handle is
// closed (the buffer is then discarded). Tasks blocked on a handle that gets closed get
// ClosedResourceError. A handle closes itself when destroyed — C++'s form of Trio's
// `with send_channel:` — so a producer task that takes its handle by value ends the stream by
// exiting, whatever way it exits. (Trio does not close on garbage collection; here forgetting
// to close is impossible.)
//
// Fairness and atomicity (Trio's): blocked senders and receivers are served FIFO. A waiting
// receiver owns the next value sent (a value goes straight to it, not through the buffer, so
// `receive_nowait` cannot take it back), and a waiting sender owns the next free buffer slot
// (`send_nowait` fails meanwhile). Cancellation is atomic: a cancelled `send` delivered nothing
// and a cancelled `receive` took nothing.
//
// Checkpoints: `send`, `receive`, `receive_or_end` and `aclose` are checkpoints whenever they
// return normally, blocked or not (`checkpoint_if_cancelled()`, the non-blocking attempt, then
// `cancel_shielded_checkpoint()` or a cancellable wait). When they raise ClosedResourceError,
// BrokenResourceError or EndOfChannel they have executed only the cancel point, as in Trio.
// `send_nowait`, `receive_nowait`, `clone`, `close` and `statistics` are sync: never
// checkpoints.
//
// Errors: ClosedResourceError (this handle was closed), BrokenResourceError (no receive handle
// is open), EndOfChannel (no send handle is open and the buffer is empty), WouldBlock (from the
// `_nowait` calls), ValueError("max_buffer_size must be >= 0"). A floating-point buffer size
// (Trio's TypeError) does not compile.
//
// g++ 12 pitfall — a braced aggregate in a co_await (every header whose awaitables take values
// repeats this paragraph: channels, streams): `co_await tx.send(Request{.id = 1, .body = b})`,
// where `Request` is an aggregate (no constructors) with a member that owns something
// (shared_ptr, string, vector, unique_ptr), destroys those members twice on g++ 12 — a
// use-after-free or double free that tests pass unless ASan is on. Any full-expression with a
// co_await and a braced aggregate is affected, `send({...})` too; clang 14 is not. Write
// `Request r{...}; co_await tx.send(std::move(r));`, or give the type a constructor. send()
// cannot prevent it: the members are already corrupt when it is entered, whatever its
// signature (runtime/channel_aggregate_test.cc). Run tests with --config=trio_asan
// (tools/trio.bazelrc); docs/compiler-pitfalls.md has the details.
//
// Names (for hang reports): `open_memory_channel<T>(0, "jobs")` or `tx.set_name("jobs")` names
// the channel — every handle of it, send and receive, and their clones — so that a task blocked
// on it shows as "blocked on MemoryReceiveChannel.receive of channel 'jobs'" in a DeadlockError
// or livelock report; an unnamed one shows as "MemoryChannel#1" (numbered as sync.h describes).
// Naming allocates a copy of the name; an unnamed channel costs nothing. Names never appear in
// recorded traces.
//
// Not thread-safe: a channel belongs to one run. Performance: no allocation per operation (a
// blocked task's value lives in its own coroutine frame; the buffer is a ring that only grows).
#ifndef TRIO_RUNTIME_CHANNEL_H_
#define TRIO_RUNTIME_CHANNEL_H_

#include <algorithm>
#include <concepts>
#include <coroutine>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <new>
#include <optional>
#include <string_view>
#include <type_traits>
#include <utility>

#include "runtime/errors.h"
#include "runtime/lowlevel.h"
#include "runtime/sync.h"
#include "runtime/task.h"

namespace trio {

template <class T>
class MemorySendChannel;
template <class T>
class MemoryReceiveChannel;

// Debugging information (Trio's MemoryChannelStatistics), the same from every handle.
struct MemoryChannelStatistics {
  size_t current_buffer_used = 0;
  int64_t max_buffer_size = 0;  // kUnbounded for an unbounded buffer
  size_t open_send_channels = 0;
  size_t open_receive_channels = 0;
  size_t tasks_waiting_send = 0;     // summed over every handle
  size_t tasks_waiting_receive = 0;  // summed over every handle
  // The most values the buffer has held at once (a rendezvous channel's stays 0: values are
  // handed over directly).
  size_t peak_buffer_used = 0;
  bool operator==(const MemoryChannelStatistics&) const = default;
};

// Opens a channel; returns (send handle, receive handle) — data flows left to right.
// ValueError("max_buffer_size must be >= 0") for a negative size. Sync.
// With a `name`: the channel is named for hang reports (see the file comment).
template <class T>
std::pair<MemorySendChannel<T>, MemoryReceiveChannel<T>> open_memory_channel(
    int64_t max_buffer_size, std::string_view name = {});
template <class T, std::floating_point F>
void open_memory_channel(F) = delete;  // Trio: TypeError (use an integer or trio::kUnbounded)

namespace detail {

void check_max_buffer_size(int64_t max_buffer_size);
// Throws the error for a failed channel attempt (WouldBlock, ClosedResourceError,
// BrokenResourceError or EndOfChannel).
[[noreturn]] void raise_channel_error(Attempt attempt, bool sending);

// A FIFO ring of T that grows by doubling (never shrinks); no allocation in steady state.
template <class T>
class RingBuffer {
 public:
  RingBuffer() = default;
  RingBuffer(const RingBuffer&) = delete;
  RingBuffer& operator=(const RingBuffer&) = delete;
  ~RingBuffer() {
    clear();
    if (data_) std::allocator<T>().deallocate(data_, capacity_);
  }

  size_t size() const noexcept { return size_; }
  bool empty() const noexcept { return size_ == 0; }
  void push_back(T&& value) {
    if (size_ == capacity_) grow();
    ::new (static_cast<void*>(slot(head_ + size_))) T(std::move(value));
    ++size_;
  }
  T pop_front() {
    T* p = slot(head_);
    T value(std::move(*p));
    p->~T();
    head_ = (head_ + 1) & (capacity_ - 1);
    --size_;
    return value;
  }
  void clear() noexcept {
    for (; size_ > 0; --size_, head_ = (head_ + 1) & (capacity_ - 1)) slot(head_)->~T();
    head_ = 0;
  }

 private:
  T* slot(size_t i) const noexcept { return data_ + (i & (capacity_ - 1)); }
  void grow() {
    const size_t capacity = capacity_ ? 2 * capacity_ : 8;  // a power of two
    T* data = std::allocator<T>().allocate(capacity);
    for (size_t i = 0; i < size_; ++i) {
      T* from = slot(head_ + i);
      ::new (static_cast<void*>(data + i)) T(std::move(*from));
      from->~T();
    }
    if (data_) std::allocator<T>().deallocate(data_, capacity_);
    data_ = data;
    capacity_ = capacity;
    head_ = 0;
  }

  T* data_ = nullptr;
  size_t capacity_ = 0;
  size_t head_ = 0;
  size_t size_ = 0;
};

// The kind of a channel in hang reports; both of a channel's queues have it.
extern const internal::ObjectKind kMemoryChannelKind;

// A wait queue of a channel: its senders or its receivers. Both name the channel, with one
// number between them.
struct ChannelQueue : WaitQueue {
  explicit ChannelQueue(const void* channel) noexcept
      : WaitQueue(kMemoryChannelKind), channel(channel) {}
  const void* channel;  // the ChannelState (ObjectKind::identity)
};

// A task blocked in send: its value waits in its own frame until a receiver takes it.
// `handle` and `outcome`, like Waiter's links, are set when it parks (not on the hot path of a
// send that completes at once).
template <class T>
struct SendWaiter : Waiter {
  explicit SendWaiter(T&& v) : value(std::move(v)) {}
  T value;
  uint64_t handle;  // the handle it waits on (close() wakes only its own)
  Attempt outcome;  // set by whoever wakes it
};

// A task blocked in receive: a sender hands its value straight into `value`.
template <class T>
struct ReceiveWaiter : Waiter {
  std::optional<T> value;
  uint64_t handle;
  Attempt outcome;
};

// Trio's MemoryChannelState: what every handle of one channel shares.
template <class T>
class ChannelState {
 public:
  explicit ChannelState(int64_t max_buffer_size)
      : max_buffer_size_(max_buffer_size), senders_(this), receivers_(this) {}

  // The non-blocking attempts (Trio's send_nowait / receive_nowait past the closed check).
  // try_send moves from `value` only when it returns kDone.
  Attempt try_send(T& value) {
    if (open_receive_ == 0) return Attempt::kBroken;
    if (Waiter* w = receivers_.front()) {
      auto* r = static_cast<ReceiveWaiter<T>*>(w);
      r->value.emplace(std::move(value));
      receivers_.remove(*r);
      r->outcome = Attempt::kDone;
      lowlevel::reschedule(*r->task);
      return Attempt::kDone;
    }
    if (static_cast<uint64_t>(buffer_.size()) < static_cast<uint64_t>(max_buffer_size_)) {
      buffer_.push_back(std::move(value));
      if (buffer_.size() > peak_buffer_used_) [[unlikely]]
        peak_buffer_used_ = buffer_.size();
      return Attempt::kDone;
    }
    return Attempt::kWouldBlock;
  }
  Attempt try_receive(std::optional<T>& out) {
    if (Waiter* w = senders_.front()) {
      // The longest-waiting sender's value joins the buffer's tail; we take the head.
      auto* s = static_cast<SendWaiter<T>*>(w);
      if (buffer_.empty()) {
        out.emplace(std::move(s->value));
      } else {
        buffer_.push_back(std::move(s->value));
        out.emplace(buffer_.pop_front());
      }
      senders_.remove(*s);
      s->outcome = Attempt::kDone;
      lowlevel::reschedule(*s->task);
      return Attempt::kDone;
    }
    if (!buffer_.empty()) {
      out.emplace(buffer_.pop_front());
      return Attempt::kDone;
    }
    return open_send_ == 0 ? Attempt::kEnd : Attempt::kWouldBlock;
  }

  void close_send(uint64_t handle) {
    wake_handle<SendWaiter<T>>(senders_, handle);
    if (--open_send_ == 0) {
      while (Waiter* w = receivers_.pop_front())
        wake(static_cast<ReceiveWaiter<T>*>(w), Attempt::kEnd);
    }
  }
  void close_receive(uint64_t handle) {
    wake_handle<ReceiveWaiter<T>>(receivers_, handle);
    if (--open_receive_ == 0) {
      while (Waiter* w = senders_.pop_front())
        wake(static_cast<SendWaiter<T>*>(w), Attempt::kBroken);
      buffer_.clear();
    }
  }

  MemoryChannelStatistics statistics() const noexcept {
    return {buffer_.size(),  max_buffer_size_,  open_send_,       open_receive_,
            senders_.size(), receivers_.size(), peak_buffer_used_};
  }

  // Handle bookkeeping.
  uint64_t add_handle(bool sending) noexcept {
    ++refs_;
    ++(sending ? open_send_ : open_receive_);
    return next_handle_++;
  }
  // Drops one handle object's reference; the last one deletes the state.
  void unref() noexcept {
    if (--refs_ == 0) delete this;
  }
  WaitQueue& senders() noexcept { return senders_; }
  WaitQueue& receivers() noexcept { return receivers_; }
  void set_name(std::string_view name) {
    senders_.label().set_name(name);
    receivers_.label().set_name(name);
  }
  std::string_view name() const noexcept { return senders_.label().name(); }

 private:
  template <class W>
  static void wake(W* w, Attempt outcome) {
    w->outcome = outcome;
    lowlevel::reschedule(*w->task);
  }
  // Wakes the tasks blocked on the handle being closed with ClosedResourceError (FIFO order).
  template <class W>
  static void wake_handle(WaitQueue& q, uint64_t handle) {
    for (Waiter* w = q.front(); w;) {
      Waiter* next = w->next;
      auto* node = static_cast<W*>(w);
      if (node->handle == handle) {
        q.remove(*node);
        wake(node, Attempt::kClosed);
      }
      w = next;
    }
  }

  int64_t max_buffer_size_;
  RingBuffer<T> buffer_;
  size_t peak_buffer_used_ = 0;
  size_t open_send_ = 0;
  size_t open_receive_ = 0;
  size_t refs_ = 0;  // handle objects (open or closed) sharing this state
  uint64_t next_handle_ = 1;
  ChannelQueue senders_;
  ChannelQueue receivers_;
};

template <class T>
class ChannelSend;
template <class T, bool kOrEnd>
class ChannelReceive;

}  // namespace detail

// ---- MemorySendChannel -------------------------------------------------------------------------

// The sending handle of a memory channel (Trio's MemorySendChannel). Move-only; closes itself
// when destroyed. A default-constructed or moved-from handle is closed.
template <class T>
class MemorySendChannel {
 public:
  static_assert(std::is_move_constructible_v<T>, "channel values must be movable");

  MemorySendChannel() = default;
  MemorySendChannel(MemorySendChannel&& other) noexcept
      : state_(std::exchange(other.state_, nullptr)),
        id_(other.id_),
        closed_(std::exchange(other.closed_, true)) {}
  MemorySendChannel& operator=(MemorySendChannel&& other) noexcept {
    if (this != &other) {
      reset_();
      state_ = std::exchange(other.state_, nullptr);
      id_ = other.id_;
      closed_ = std::exchange(other.closed_, true);
    }
    return *this;
  }
  ~MemorySendChannel() { reset_(); }

  // Sends without blocking: hands the value to the longest-waiting receiver, or buffers it.
  // Moves from `value` only if it was sent. WouldBlock if the buffer is full (or senders are
  // already waiting for room); ClosedResourceError; BrokenResourceError. Sync.
  void send_nowait(T&& value) {
    const detail::Attempt a = attempt_send_(value);
    if (a != detail::Attempt::kDone) detail::raise_channel_error(a, true);
  }
  void send_nowait(const T& value) requires std::copy_constructible<T> {
    T copy(value);
    send_nowait(std::move(copy));
  }
  // Sends, waiting (FIFO among senders) while the buffer is full; on a rendezvous channel,
  // until a receiver takes the value. ClosedResourceError if this handle is closed (also if it
  // gets closed while we wait); BrokenResourceError if every receive handle is closed (also
  // while we wait). Cancelled means the value was not delivered (it is destroyed). A
  // checkpoint whenever it returns normally. On g++ 12, do not build an aggregate in the
  // argument (`send(Request{...})`): see "g++ 12 pitfall" in the file comment.
  detail::ChannelSend<T> send(T value);
  // Another handle on the same channel. ClosedResourceError if this one is closed. Sync.
  MemorySendChannel clone() const {
    if (closed_) detail::raise_channel_error(detail::Attempt::kClosed, true);
    return MemorySendChannel(state_);
  }
  // Closes this handle (idempotent): tasks blocked in send() on it get ClosedResourceError;
  // if it was the last open send handle, blocked receivers get EndOfChannel. Sync.
  void close() noexcept {
    if (closed_) return;
    closed_ = true;
    state_->close_send(id_);
  }
  // close(), then a checkpoint (Trio's aclose).
  Task<> aclose() {
    close();
    co_await ::trio::checkpoint();
  }
  bool is_closed() const noexcept { return closed_; }
  // The channel's statistics (all zero for a default-constructed or moved-from handle).
  MemoryChannelStatistics statistics() const noexcept {
    return state_ ? state_->statistics() : MemoryChannelStatistics{};
  }
  // Names the channel — every handle of it, send and receive — in hang reports ("" makes it
  // unnamed again). Also on a closed handle; nothing for a default-constructed or moved-from
  // one. Sync.
  void set_name(std::string_view name) {
    if (state_) state_->set_name(name);
  }
  // The channel's name, "" if none (or no channel).
  std::string_view name() const noexcept { return state_ ? state_->name() : std::string_view(); }

 private:
  friend class detail::ChannelSend<T>;
  friend std::pair<MemorySendChannel<T>, MemoryReceiveChannel<T>> open_memory_channel<T>(
      int64_t, std::string_view);
  explicit MemorySendChannel(detail::ChannelState<T>* state)
      : state_(state), id_(state->add_handle(true)), closed_(false) {}
  detail::Attempt attempt_send_(T& value) {
    if (closed_) return detail::Attempt::kClosed;
    return state_->try_send(value);
  }
  void reset_() noexcept {
    if (!state_) return;
    close();
    std::exchange(state_, nullptr)->unref();
  }

  detail::ChannelState<T>* state_ = nullptr;
  uint64_t id_ = 0;
  bool closed_ = true;
};

// ---- MemoryReceiveChannel ----------------------------------------------------------------------

// The receiving handle of a memory channel (Trio's MemoryReceiveChannel). Move-only; closes
// itself when destroyed. A default-constructed or moved-from handle is closed.
//
// Receiving until the channel ends (Trio's `async for value in receive_channel`):
//   while (std::optional<T> v = co_await rx.receive_or_end()) use(std::move(*v));
template <class T>
class MemoryReceiveChannel {
 public:
  MemoryReceiveChannel() = default;
  MemoryReceiveChannel(MemoryReceiveChannel&& other) noexcept
      : state_(std::exchange(other.state_, nullptr)),
        id_(other.id_),
        closed_(std::exchange(other.closed_, true)) {}
  MemoryReceiveChannel& operator=(MemoryReceiveChannel&& other) noexcept {
    if (this != &other) {
      reset_();
      state_ = std::exchange(other.state_, nullptr);
      id_ = other.id_;
      closed_ = std::exchange(other.closed_, true);
    }
    return *this;
  }
  ~MemoryReceiveChannel() { reset_(); }

  // Takes the next value without blocking (from the longest-waiting sender if the buffer is
  // empty). WouldBlock if there is none; EndOfChannel if every send handle is closed and the
  // buffer is empty; ClosedResourceError if this handle is closed. Sync.
  T receive_nowait() {
    std::optional<T> out;
    const detail::Attempt a = attempt_receive_(out);
    if (a != detail::Attempt::kDone) detail::raise_channel_error(a, false);
    return std::move(*out);
  }
  // Takes the next value, waiting (FIFO among receivers) until there is one. EndOfChannel,
  // ClosedResourceError as receive_nowait (also when they happen while we wait). Cancelled
  // means nothing was taken. A checkpoint whenever it returns normally.
  detail::ChannelReceive<T, false> receive();
  // As receive(), but the end of the channel is a value: std::nullopt once every send handle
  // is closed and the buffer is drained. A checkpoint whenever it returns normally — also when
  // it returns nullopt (Trio's `async for` only executes the cancel point there).
  // ClosedResourceError if this handle is closed.
  detail::ChannelReceive<T, true> receive_or_end();
  // Another handle on the same channel (values are shared out, not copied: each value goes to
  // one receiver). ClosedResourceError if this one is closed. Sync.
  MemoryReceiveChannel clone() const {
    if (closed_) detail::raise_channel_error(detail::Attempt::kClosed, false);
    return MemoryReceiveChannel(state_);
  }
  // Closes this handle (idempotent): tasks blocked in receive() on it get ClosedResourceError;
  // if it was the last open receive handle, blocked senders get BrokenResourceError and the
  // buffered values are destroyed. Sync.
  void close() noexcept {
    if (closed_) return;
    closed_ = true;
    state_->close_receive(id_);
  }
  // close(), then a checkpoint (Trio's aclose).
  Task<> aclose() {
    close();
    co_await ::trio::checkpoint();
  }
  bool is_closed() const noexcept { return closed_; }
  MemoryChannelStatistics statistics() const noexcept {
    return state_ ? state_->statistics() : MemoryChannelStatistics{};
  }
  // As MemorySendChannel::set_name / name: the channel's name, shared by all its handles.
  void set_name(std::string_view name) {
    if (state_) state_->set_name(name);
  }
  std::string_view name() const noexcept { return state_ ? state_->name() : std::string_view(); }

 private:
  template <class, bool>
  friend class detail::ChannelReceive;
  friend std::pair<MemorySendChannel<T>, MemoryReceiveChannel<T>> open_memory_channel<T>(
      int64_t, std::string_view);
  explicit MemoryReceiveChannel(detail::ChannelState<T>* state)
      : state_(state), id_(state->add_handle(false)), closed_(false) {}
  detail::Attempt attempt_receive_(std::optional<T>& out) {
    if (closed_) return detail::Attempt::kClosed;
    return state_->try_receive(out);
  }
  void reset_() noexcept {
    if (!state_) return;
    close();
    std::exchange(state_, nullptr)->unref();
  }

  detail::ChannelState<T>* state_ = nullptr;
  uint64_t id_ = 0;
  bool closed_ = true;
};

// ---- awaiters ----------------------------------------------------------------------------------

namespace detail {

// The awaiters' hot paths (the attempt succeeds at once) are forced inline into the awaiting
// coroutine; parking and errors stay out of line.
template <class T>
class [[nodiscard]] ChannelSend {
 public:
  ChannelSend(MemorySendChannel<T>& channel, T&& value)
      : channel_(&channel), node_(std::move(value)) {}
  ChannelSend(const ChannelSend&) = delete;
  bool await_ready() const noexcept { return false; }
  template <class P>
  [[gnu::always_inline]] bool await_suspend(std::coroutine_handle<P> h) {
    if (b_.cancelled(h)) [[unlikely]]
      return true;
    attempt_ = channel_->attempt_send_(node_.value);
    if (attempt_ == Attempt::kDone) [[likely]] {
      b_.completed_at_once(h);
      return true;
    }
    return suspend_slow_(h);
  }
  [[gnu::always_inline]] void await_resume() {
    if (b_.completed()) [[likely]]
      return;
    if (b_.parked()) {
      b_.resume();  // raises what the wake-up delivered (Cancelled)
      if (node_.outcome == Attempt::kDone) [[likely]]
        return;
    }
    resume_slow_();  // (a second b_.resume() after a parked wait raises nothing)
  }

 private:
  template <class P>
  [[gnu::noinline]] bool suspend_slow_(std::coroutine_handle<P> h) {
    if (attempt_ != Attempt::kWouldBlock) return false;  // raise in await_resume
    node_.handle = channel_->id_;
    node_.outcome = Attempt::kDone;
    b_.park(h, channel_->state_->senders(), node_, "MemorySendChannel.send");
    return true;
  }
  [[gnu::noinline]] void resume_slow_() {
    if (b_.resume()) {  // the cancellation vanished at checkpoint_if_cancelled: try again
      attempt_ = channel_->attempt_send_(node_.value);
      if (attempt_ == Attempt::kWouldBlock) raise_vanished_cancel("MemorySendChannel.send");
    } else if (b_.parked()) {
      attempt_ = node_.outcome;
    }
    if (attempt_ != Attempt::kDone) raise_channel_error(attempt_, true);
  }

  MemorySendChannel<T>* channel_;
  SendWaiter<T> node_;
  Attempt attempt_;  // set by await_suspend past the cancel point (read only after that)
  Blocking b_;
};

template <class T, bool kOrEnd>
class [[nodiscard]] ChannelReceive {
 public:
  using Result = std::conditional_t<kOrEnd, std::optional<T>, T>;
  explicit ChannelReceive(MemoryReceiveChannel<T>& channel) : channel_(&channel) {}
  ChannelReceive(const ChannelReceive&) = delete;
  bool await_ready() const noexcept { return false; }
  template <class P>
  [[gnu::always_inline]] bool await_suspend(std::coroutine_handle<P> h) {
    if (b_.cancelled(h)) [[unlikely]]
      return true;
    attempt_ = channel_->attempt_receive_(node_.value);
    if (attempt_ == Attempt::kDone || (kOrEnd && attempt_ == Attempt::kEnd)) [[likely]] {
      b_.completed_at_once(h);
      return true;
    }
    return suspend_slow_(h);
  }
  [[gnu::always_inline]] Result await_resume() {
    if (b_.completed() && attempt_ == Attempt::kDone) [[likely]]
      return std::move(*node_.value);
    if (b_.parked()) {
      b_.resume();  // raises what the wake-up delivered (Cancelled)
      if (node_.outcome == Attempt::kDone) [[likely]]
        return std::move(*node_.value);
    }
    return resume_slow_();  // (a second b_.resume() after a parked wait raises nothing)
  }

 private:
  template <class P>
  [[gnu::noinline]] bool suspend_slow_(std::coroutine_handle<P> h) {
    if (attempt_ != Attempt::kWouldBlock) return false;  // raise in await_resume
    node_.handle = channel_->id_;
    node_.outcome = Attempt::kDone;
    b_.park(h, channel_->state_->receivers(), node_, "MemoryReceiveChannel.receive");
    return true;
  }
  [[gnu::noinline]] Result resume_slow_() {
    if (b_.resume()) {  // the cancellation vanished at checkpoint_if_cancelled: try again
      attempt_ = channel_->attempt_receive_(node_.value);
      if (attempt_ == Attempt::kWouldBlock) raise_vanished_cancel("MemoryReceiveChannel.receive");
    } else if (b_.parked()) {
      attempt_ = node_.outcome;
    }
    if (attempt_ == Attempt::kDone) return std::move(*node_.value);
    if constexpr (kOrEnd) {
      if (attempt_ == Attempt::kEnd) return std::nullopt;
    }
    raise_channel_error(attempt_, false);
  }

  MemoryReceiveChannel<T>* channel_;
  ReceiveWaiter<T> node_;
  Attempt attempt_;  // set by await_suspend past the cancel point (read only after that)
  Blocking b_;
};

}  // namespace detail

template <class T>
detail::ChannelSend<T> MemorySendChannel<T>::send(T value) {
  return detail::ChannelSend<T>(*this, std::move(value));
}
template <class T>
detail::ChannelReceive<T, false> MemoryReceiveChannel<T>::receive() {
  return detail::ChannelReceive<T, false>(*this);
}
template <class T>
detail::ChannelReceive<T, true> MemoryReceiveChannel<T>::receive_or_end() {
  return detail::ChannelReceive<T, true>(*this);
}

template <class T>
std::pair<MemorySendChannel<T>, MemoryReceiveChannel<T>> open_memory_channel(
    int64_t max_buffer_size, std::string_view name) {
  detail::check_max_buffer_size(max_buffer_size);
  auto* state = new detail::ChannelState<T>(max_buffer_size);
  std::pair<MemorySendChannel<T>, MemoryReceiveChannel<T>> ends{MemorySendChannel<T>(state),
                                                                MemoryReceiveChannel<T>(state)};
  if (!name.empty()) state->set_name(name);
  return ends;
}

}  // namespace trio

#endif  // TRIO_RUNTIME_CHANNEL_H_
