// SPDX-License-Identifier: Apache-2.0 OR MIT
//
// Internal: how hang reports name the objects tasks wait on.
//
// Every primitive a task can block on (ParkingLot, Event, Lock, Condition, Semaphore,
// CapacityLimiter, a memory channel) carries an ObjectLabel in its wait queue: one pointer, to
// the static description of its kind while it is unnamed, or to a heap record of its kind and
// the name the user gave it (`set_name`). A blocked task reaches the queue it is linked into
// through its abort hook (AbortHook::wait_target), so the reports (runtime/internal/hang_report.cc)
// can say which object each task waits for and who holds it:
//
//   task a: blocked on Lock.acquire of lock 'accounts[bob]' (held by task b)
//   task c: blocked on Event.wait of Event#1
//
// Why it looks the way it does: naming must cost nothing on the hot paths. A label is one
// pointer per object and allocates only when named; a wait records nothing new (the queue is
// found from the waiter's node, which the wait links anyway); unnamed objects get their
// numbers ("Lock#2") only when a report names them, from a table the run owns (so the same seed
// gives the same numbers, whatever ran before in the process).
#ifndef TRIO_RUNTIME_INTERNAL_OBJECT_LABEL_H_
#define TRIO_RUNTIME_INTERNAL_OBJECT_LABEL_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace trio::internal {

// A kind of object tasks wait on, as reports describe it. One static instance per kind.
struct ObjectKind {
  // How an unnamed object shows: "Lock" -> "Lock#2".
  const char* name;
  // How a named one shows: "lock" -> "lock 'accounts[bob]'".
  const char* noun;
  // Whether an unnamed object is shown at all. A bare ParkingLot's waiters already describe
  // their wait in their own words (park("Mailbox.get")): "of ParkingLot#1" would add nothing.
  bool show_unnamed = true;
  // The owners' relation to the object, for "(held by task b)"; null if the kind has none.
  const char* owned_verb = nullptr;
  // Appends the owners of the object whose wait queue is `queue` (a ParkingLot or a
  // detail::WaitQueue, whichever the kind uses): the identities that must act before a waiter
  // can go on — the task holding a Lock, the borrowers of a CapacityLimiter. An owner is
  // usually a TaskRec*; the reports check before treating it as one. Null: no owners.
  void (*owners)(const void* queue, std::vector<const void*>& out) = nullptr;
  // The object the number belongs to, when one object has several queues (a channel's senders
  // and receivers); null: the queue itself.
  const void* (*identity)(const void* queue) = nullptr;
};

// A wait queue's kind and, if the user gave one, its name. One pointer; allocates only when
// named. Not copyable (it belongs to one object).
class ObjectLabel {
 public:
  explicit ObjectLabel(const ObjectKind& kind) noexcept
      : bits_(reinterpret_cast<uintptr_t>(&kind)) {}
  ObjectLabel(const ObjectLabel&) = delete;
  ObjectLabel& operator=(const ObjectLabel&) = delete;
  ~ObjectLabel() {
    if (bits_ & kNamedBit) [[unlikely]]
      delete named_();
  }

  const ObjectKind& kind() const noexcept {
    return bits_ & kNamedBit ? *named_()->kind : *reinterpret_cast<const ObjectKind*>(bits_);
  }
  // The user's name, "" if none.
  std::string_view name() const noexcept {
    return bits_ & kNamedBit ? std::string_view(named_()->name) : std::string_view();
  }
  // Names (or renames) the object; an empty name makes it unnamed again.
  void set_name(std::string_view name) {
    const ObjectKind* kind = &this->kind();
    if (bits_ & kNamedBit) delete named_();
    bits_ = reinterpret_cast<uintptr_t>(kind);
    if (!name.empty())
      bits_ = reinterpret_cast<uintptr_t>(new Named{kind, std::string(name)}) | kNamedBit;
  }
  // Changes the kind, keeping the name (a Lock's ParkingLot is a "Lock").
  void set_kind(const ObjectKind& kind) {
    if (bits_ & kNamedBit)
      named_()->kind = &kind;
    else
      bits_ = reinterpret_cast<uintptr_t>(&kind);
  }

 private:
  struct Named {
    const ObjectKind* kind;
    std::string name;
  };
  static constexpr uintptr_t kNamedBit = 1;  // both records are at least 8-byte aligned
  Named* named_() const noexcept { return reinterpret_cast<Named*>(bits_ & ~kNamedBit); }
  uintptr_t bits_;
};

// What a blocked task waits on, found through its abort hook: the wait queue it is linked into
// and that queue's label. Both null when the wait has no object (sleep, a nursery exit, an
// fd wait, a custom wait_task_rescheduled).
struct WaitTarget {
  const void* queue = nullptr;
  const ObjectLabel* label = nullptr;
};

}  // namespace trio::internal

#endif  // TRIO_RUNTIME_INTERNAL_OBJECT_LABEL_H_
