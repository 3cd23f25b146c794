// SPDX-License-Identifier: Apache-2.0 OR MIT
//
// Internal: what the task tree of a hang report (DeadlockError, a livelock budget) says about
// each blocked task's wait — the object it waits on and who holds it — and the cycles in which
// tasks wait for each other:
//
//   task transfer alice->bob: blocked on Lock.acquire of lock 'accounts[bob]' (held by task
//       transfer bob->alice)
//   deadlock cycle: task transfer alice->bob waits for lock 'accounts[bob]' held by task
//       transfer bob->alice, which waits for lock 'accounts[alice]' held by task transfer
//       alice->bob
//
// Everything here runs when a report is built, never on a hot path: a blocked task's wait queue
// is found through its abort hook (AbortHook::wait_target), the queue's label gives the kind,
// the name and the owners (object_label.h). Only the printed report changes: the recorded trace
// events keep the bare `waiting_on` text ("Lock.acquire"), so their hashes do not depend on
// names.
#ifndef TRIO_RUNTIME_INTERNAL_HANG_REPORT_H_
#define TRIO_RUNTIME_INTERNAL_HANG_REPORT_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "runtime/internal/task_record.h"

namespace trio::internal {

// The waiting_on of a task blocked in a nursery exit (one address: reports compare pointers).
inline constexpr char kNurseryExitWait[] = "nursery exit (waiting for children)";

// The numbers of unnamed objects in reports ("Lock#2"): per kind, in the order in which the
// run's reports first mention them (reports walk the task tree in a fixed order, so the same
// seed gives the same numbers). One per run, owned by the Runner: nothing carries over from one
// run to the next. An object is known by its address, so an object destroyed and another made at
// the same address later in the run share a number.
class ObjectNumbers {
 public:
  uint64_t number(const void* identity, const char* kind);

 private:
  std::unordered_map<const void*, uint64_t> numbers_;
  std::unordered_map<std::string_view, uint64_t> last_;  // kind names are static strings
};

// The waits of a run's tasks, as one report describes them.
class WaitGraph {
 public:
  // `tasks`: every task of the run, in the order the report lists them (numbers are assigned in
  // that order).
  WaitGraph(const std::vector<const TaskRec*>& tasks, ObjectNumbers& numbers);

  // What `task` (one of `tasks`, blocked) waits on: "Lock.acquire of lock 'accounts[bob]' (held
  // by task b)", "Event.wait of Event#1", or the bare waiting_on ("sleep") for a wait without an
  // object.
  std::string wait_text(const TaskRec& task) const;
  // One line per cycle of tasks waiting for each other's objects, each ending in "\n":
  // "deadlock cycle: task a waits for lock 'x' held by task b, which waits for lock 'y' held by
  // task a". A task in a nursery exit waits for the nursery's children ("task main waits for
  // its child task w to exit, which waits for lock 'x' held by task main"). Empty if none.
  std::string cycles_text() const;

 private:
  struct Wait {
    std::string object;                // "lock 'accounts[bob]'", "Lock#2", or ""
    const char* owned_verb = nullptr;  // "held by"
    std::vector<std::string> owners;   // "task b", "a borrower that is not a task"
    // Indices into tasks_ of the tasks this one waits for: the owners that are tasks, or, in a
    // nursery exit, the nursery's children.
    std::vector<size_t> owner_tasks;
    bool nursery_exit = false;
  };
  void find_cycles(size_t at, std::vector<uint8_t>& color, std::vector<size_t>& path,
                   std::vector<std::vector<size_t>>& cycles) const;
  std::string task_text(size_t index) const;

  std::vector<const TaskRec*> tasks_;
  std::unordered_map<const TaskRec*, size_t> index_;
  std::vector<Wait> waits_;  // parallel to tasks_
};

}  // namespace trio::internal

#endif  // TRIO_RUNTIME_INTERNAL_HANG_REPORT_H_
