// SPDX-License-Identifier: Apache-2.0 OR MIT
//
// Internal: the cancel-status tree (Trio's CancelStatus, spec §2.2).
//
// Each entered CancelScope owns one CancelStatus node, a child of the status that was current in
// its task when it was entered. Tasks are the leaves: each task belongs to exactly one status.
// `effectively_cancelled` is cached in every node and recomputed eagerly — with an explicit
// stack, never recursion — when a scope is cancelled, shielded, or re-parented, so "am I
// cancelled?" at a checkpoint is one load.
#ifndef TRIO_RUNTIME_INTERNAL_CANCEL_STATUS_H_
#define TRIO_RUNTIME_INTERNAL_CANCEL_STATUS_H_

#include <string>

#include "runtime/errors.h"
#include "runtime/internal/task_record.h"

namespace trio {
class CancelScope;
namespace internal {

// Why a scope was cancelled (Trio's CancelReason).
struct CancelReason {
  bool set = false;
  Cancelled::Source source = Cancelled::Source::kUnknown;
  bool has_reason = false;
  std::string reason;
  std::string source_task;
};

struct CancelStatus {
  CancelScope* scope = nullptr;
  CancelStatus* parent = nullptr;
  // Children statuses (intrusive doubly linked list).
  CancelStatus* first_child = nullptr;
  CancelStatus* prev_sibling = nullptr;
  CancelStatus* next_sibling = nullptr;
  // Tasks whose current status is this node (linked through TaskRec::status_prev/next).
  TaskRec* first_task = nullptr;
  // Invariant: == scope->cancel_called || (parent && !scope->shield &&
  // parent->effectively_cancelled)
  bool effectively_cancelled = false;

  void add_child(CancelStatus* child);
  void remove_child(CancelStatus* child);
  void add_task(TaskRec* task);
  void remove_task(TaskRec* task);
};

// Recomputes effectively_cancelled for `root` and its descendants; delivers cancellation to
// blocked tasks of nodes that became cancelled.
void recalculate(CancelStatus* root);

// The current task, for scope entry; throws RuntimeError outside a task.
TaskRec* current_task_for_scope();

}  // namespace internal
}  // namespace trio

#endif  // TRIO_RUNTIME_INTERNAL_CANCEL_STATUS_H_
