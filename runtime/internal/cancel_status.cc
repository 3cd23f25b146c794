// SPDX-License-Identifier: Apache-2.0 OR MIT
//
// The cancel-status tree (see cancel_status.h).
#include "runtime/internal/cancel_status.h"

#include <vector>

#include "runtime/cancel_scope.h"
#include "runtime/internal/runner.h"
#include "runtime/lowlevel.h"

namespace trio::internal {

void CancelStatus::add_child(CancelStatus* child) {
  child->parent = this;
  child->prev_sibling = nullptr;
  child->next_sibling = first_child;
  if (first_child) first_child->prev_sibling = child;
  first_child = child;
}

void CancelStatus::remove_child(CancelStatus* child) {
  if (child->prev_sibling)
    child->prev_sibling->next_sibling = child->next_sibling;
  else
    first_child = child->next_sibling;
  if (child->next_sibling) child->next_sibling->prev_sibling = child->prev_sibling;
  child->prev_sibling = child->next_sibling = nullptr;
  child->parent = nullptr;
}

void CancelStatus::add_task(TaskRec* task) {
  task->cancel_status = this;
  task->status_prev = nullptr;
  task->status_next = first_task;
  if (first_task) first_task->status_prev = task;
  first_task = task;
}

void CancelStatus::remove_task(TaskRec* task) {
  if (task->status_prev)
    task->status_prev->status_next = task->status_next;
  else
    first_task = task->status_next;
  if (task->status_next) task->status_next->status_prev = task->status_prev;
  task->status_prev = task->status_next = nullptr;
  task->cancel_status = nullptr;
}

namespace {
bool compute_effective(const CancelStatus* node, bool cancel_called, bool shield) {
  return cancel_called || (node->parent && !shield && node->parent->effectively_cancelled);
}
}  // namespace

void recalculate(CancelStatus* root) {
  // Explicit stack: 5000-deep scope nesting must not recurse (Trio's test_very_deep_...).
  std::vector<CancelStatus*> stack{root};
  std::vector<TaskRec*> to_deliver;
  while (!stack.empty()) {
    CancelStatus* node = stack.back();
    stack.pop_back();
    CancelScope* scope = node->scope;
    const bool now = compute_effective(node, scope->cancel_called_value_(), scope->shield());
    if (now == node->effectively_cancelled) continue;
    node->effectively_cancelled = now;
    if (now) {
      if (!scope->reason_().set && node->parent)
        scope->inherit_reason_(node->parent->scope->reason_());
      for (TaskRec* t = node->first_task; t; t = t->status_next) to_deliver.push_back(t);
    }
    for (CancelStatus* c = node->first_child; c; c = c->next_sibling) stack.push_back(c);
  }
  for (TaskRec* t : to_deliver) t->runner->attempt_delivery_of_pending_cancel(t);
}

TaskRec* current_task_for_scope() { return &lowlevel::current_task(); }

}  // namespace trio::internal
