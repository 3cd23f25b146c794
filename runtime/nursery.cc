// SPDX-License-Identifier: Apache-2.0 OR MIT
#include "runtime/nursery.h"

#include <memory>

#include "runtime/internal/runner.h"

namespace trio {

using internal::CancelReason;
using internal::CancelStatus;
using internal::TaskRec;

Nursery::Nursery(TaskRec* parent) : runner_(parent->runner), parent_(parent) {
  scope_.open_(parent);
  outer_ = parent->innermost_child_nursery;
  parent->innermost_child_nursery = this;
}

Nursery::~Nursery() = default;

void Nursery::raise_closed_() { throw RuntimeError("Nursery is closed to new arrivals"); }

void Nursery::spawn_child(TaskRec* rec, const std::string* name, bool system) {
  if (name && !name->empty()) rec->extras_().name = *name;
  runner_->spawn(rec, this, system);
}

void Nursery::link_child_(TaskRec* child) {
  child->sibling_next = nullptr;
  child->sibling_prev = last_child_;
  if (last_child_)
    last_child_->sibling_next = child;
  else
    first_child_ = child;
  last_child_ = child;
  ++child_count_;
}

void Nursery::unlink_child_(TaskRec* child) {
  if (child->sibling_prev)
    child->sibling_prev->sibling_next = child->sibling_next;
  else
    first_child_ = child->sibling_next;
  if (child->sibling_next)
    child->sibling_next->sibling_prev = child->sibling_prev;
  else
    last_child_ = child->sibling_prev;
  child->sibling_prev = child->sibling_next = nullptr;
  --child_count_;
}

std::vector<lowlevel::TaskRecord*> Nursery::child_tasks() const {
  std::vector<lowlevel::TaskRecord*> out;
  out.reserve(child_count_);
  for (TaskRec* t = first_child_; t; t = t->sibling_next) out.push_back(t);
  return out;
}

void Nursery::add_exception_(std::exception_ptr exception, std::string source, bool from_body) {
  CancelReason r;
  r.source = Cancelled::Source::kNursery;
  r.has_reason = true;
  r.reason = (from_body ? "Code block inside nursery contextmanager raised exception "
                        : "child task raised exception ") +
             describe(exception);
  // Trio names the task that raised: the child, or the parent for the body (test_cancelled.py).
  add_pending_(std::move(exception), std::move(source), std::move(r));
}

void Nursery::add_keyboard_interrupt_(TaskRec& parent) {
  CancelReason r;
  r.source = Cancelled::Source::kKeyboardInterrupt;
  add_pending_(runner_->take_keyboard_interrupt(), parent.name(), std::move(r));
}

void Nursery::add_pending_(std::exception_ptr exception, std::string source, CancelReason reason) {
  reason.set = true;
  reason.source_task = source;
  pending_.push_back(std::move(exception));
  pending_sources_.push_back(std::move(source));
  scope_.cancel_(std::move(reason));
}

void Nursery::child_finished_(TaskRec* child, std::exception_ptr exception) {
  unlink_child_(child);
  if (exception) [[unlikely]]
    add_child_exception_(child, std::move(exception));
  check_closed_();
}

[[gnu::noinline]] void Nursery::add_child_exception_(TaskRec* child, std::exception_ptr exception) {
  add_exception_(std::move(exception), child->name(), false);
}

void Nursery::check_closed_() {
  if (closed_ || body_running_ || child_count_ != 0 || pending_starts_ != 0) return;
  closed_ = true;
  if (TaskRec* waiter = std::exchange(parent_waiting_, nullptr)) runner_->reschedule(waiter);
}

void Nursery::exit_suspend(TaskRec* task, std::coroutine_handle<> h, internal::AbortHook* hook,
                           std::exception_ptr body_exception) {
  if (body_exception) add_exception_(std::move(body_exception), task->name(), true);
  body_running_ = false;
  check_closed_();
  if (!closed_) {
    parent_waiting_ = task;
    internal::block_suspend(task, h, hook, internal::kNurseryExitWait);
  } else {
    internal::checkpoint_suspend(task, h, false);
  }
}

std::exception_ptr Nursery::finish_() {
  if (parent_->innermost_child_nursery != this) throw RuntimeError("Nursery misnesting detected!");
  parent_->innermost_child_nursery = outer_;
  std::exception_ptr group;
  if (!pending_.empty())
    group = make_exception_group("Exceptions from Trio nursery", std::move(pending_),
                                 std::move(pending_sources_));
  return scope_.close_(std::move(group));
}

namespace internal {

void complete_start(StartStateBase* state) {
  state->started = true;
  Nursery* old = state->old_nursery;
  Nursery* target = state->target;
  CancelStatus& old_status = old->cancel_scope().status_();
  // If start()'s own context is cancelled, nothing moves: the child stays under start().
  if (old_status.effectively_cancelled) return;
  // Detach everything first, then attach: attaching to a cancelled target can run abort hooks,
  // which must see a consistent tree.
  std::vector<TaskRec*> children = old->child_tasks();
  for (TaskRec* t : children) old->unlink_child_(t);
  std::vector<CancelStatus*> statuses;
  for (CancelStatus* c = old_status.first_child; c; c = c->next_sibling) statuses.push_back(c);
  for (CancelStatus* c : statuses) old_status.remove_child(c);
  std::vector<TaskRec*> status_tasks;
  for (TaskRec* t = old_status.first_task; t; t = t->status_next)
    if (t != old->parent_task()) status_tasks.push_back(t);
  for (TaskRec* t : status_tasks) old_status.remove_task(t);

  CancelStatus& target_status = target->cancel_scope().status_();
  for (TaskRec* t : children) {
    target->link_child_(t);
    t->parent_nursery = target;
    if (t->extras) t->extras->eventual_parent_nursery = nullptr;
  }
  for (CancelStatus* c : statuses) {
    target_status.add_child(c);
    recalculate(c);
  }
  for (TaskRec* t : status_tasks) {
    target_status.add_task(t);
    t->runner->attempt_delivery_of_pending_cancel(t);
  }
  old->check_closed_();
}

void rethrow_start_error(std::exception_ptr e) {
  try {
    std::rethrow_exception(e);
  } catch (const BaseExceptionGroup& g) {
    if (g.size() == 1) std::rethrow_exception(g.exceptions()[0]);
    throw TrioInternalError("start(): more than one exception from the private nursery", e);
  }
}

void start_begin(Nursery& target) { ++target.pending_starts_; }

void start_end(Nursery& target) noexcept {
  --target.pending_starts_;
  target.check_closed_();
}

void throw_not_started() {
  throw RuntimeError("child exited without calling task_status.started()");
}

}  // namespace internal

namespace lowlevel::detail {
Nursery& system_nursery_for_spawn() {
  internal::Runner& r = internal::Runner::require("spawn_system_task");
  Nursery* n = r.system_nursery();
  if (!n || n->closed()) throw RuntimeError("Nursery is closed to new arrivals");
  return *n;
}
}  // namespace lowlevel::detail
}  // namespace trio
