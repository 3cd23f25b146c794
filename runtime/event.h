// SPDX-License-Identifier: Apache-2.0 OR MIT
//
// trio::Event (Trio's trio.Event): see sync.h for the rules all primitives share.
#ifndef TRIO_RUNTIME_EVENT_H_
#define TRIO_RUNTIME_EVENT_H_

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

#include "runtime/sync_common.h"

namespace trio {

// ---- Event -------------------------------------------------------------------------------------

struct EventStatistics {
  size_t tasks_waiting = 0;
};

// A one-shot flag (Trio's trio.Event): `wait()` blocks until `set()` is called; once set it
// stays set (there is no clear(): make a new Event). No conversion to bool (Trio raises on
// `bool(event)`): use is_set().
//
//   co_await event.wait();   // a checkpoint even if already set; cancellable while waiting
//   event.set();             // idempotent; wakes every waiter; not a checkpoint
class Event {
 public:
  Event() noexcept = default;
  // An event named for hang reports (see the file comment).
  explicit Event(std::string_view name) { set_name(name); }
  Event(const Event&) = delete;
  Event& operator=(const Event&) = delete;

  bool is_set() const noexcept { return flag_; }
  // Sets the flag and wakes every waiting task: the first is drawn from the run's choice source,
  // the others follow in waiting order, wrapping around (Trio's order is unspecified).
  // Idempotent. Not a checkpoint.
  void set();
  // Blocks until the flag is set. If it is already set: a full checkpoint (raises Cancelled if
  // the task is cancelled). Otherwise a cancellable wait. Always a checkpoint.
  detail::EventWait wait();
  EventStatistics statistics() const noexcept { return {waiters_.size()}; }
  // Names the event in hang reports ("Event.wait of event 'config loaded'"; unnamed:
  // "Event#1"); "" makes it unnamed again. Sync.
  void set_name(std::string_view name) { waiters_.label().set_name(name); }
  std::string_view name() const noexcept { return waiters_.label().name(); }

 private:
  friend class detail::EventWait;
  // The queue first and overlappable, so that flag_ takes its tail padding: four words, as
  // before events had names (a std::deque<Event> indexes by a power of two, see
  // bench/instructions.sh's event scenario).
  [[no_unique_address]] detail::WaitQueue waiters_{detail::kEventKind};
  bool flag_ = false;
};
#if defined(__x86_64__) && !defined(_GLIBCXX_DEBUG)
static_assert(sizeof(Event) == 32, "an Event is four words");
#endif

namespace detail {
class [[nodiscard]] EventWait {
 public:
  explicit EventWait(Event& e) : event_(&e) {}
  EventWait(const EventWait&) = delete;
  bool await_ready() const noexcept { return false; }
  template <class P>
  void await_suspend(std::coroutine_handle<P> h) {
    if (event_->flag_)
      b_.checkpoint(h);
    else
      b_.park(h, event_->waiters_, node_, "Event.wait");
  }
  void await_resume() { b_.resume(); }

 private:
  Event* event_;
  Waiter node_;
  Blocking b_;
};
}  // namespace detail

inline detail::EventWait Event::wait() { return detail::EventWait(*this); }

}  // namespace trio

#endif  // TRIO_RUNTIME_EVENT_H_
