// SPDX-License-Identifier: Apache-2.0 OR MIT
#include "runtime/cancel_scope.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "runtime/internal/runner.h"
#include "runtime/lowlevel.h"

namespace trio {

using internal::CancelReason;
using internal::CancelStatus;
using internal::Runner;

CancelScope::CancelScope(CancelScope&& other)
    : deadline_(other.deadline_),
      relative_(other.relative_),
      shield_(other.shield_),
      cancel_called_(other.cancel_called_),
      kind_(other.kind_),
      site_line_(other.site_line_),
      site_file_(other.site_file_),
      name_(other.name_),
      reason_storage_(other.reason_storage_) {
  if (other.entered_) throw RuntimeError("a CancelScope cannot be moved once it has been entered");
}

CancelScope::~CancelScope() {
  if (deadline_registration_ && runner_)
    runner_->deadlines().remove(std::exchange(deadline_registration_, 0));
}

void CancelScope::update_registration() {
  if (!runner_) return;
  if (deadline_registration_) runner_->deadlines().remove(std::exchange(deadline_registration_, 0));
  if (is_entered_() && !cancel_called_ && deadline_ != kInf)
    deadline_registration_ = runner_->deadlines().add_scope(deadline_, this);
}

void CancelScope::open_(internal::TaskRec* task) {
  if (entered_) throw RuntimeError("Each CancelScope may only be used for a single 'with' block");
  entered_ = true;
  owner_ = task;
  runner_ = task->runner;
  status_storage_.scope = this;
  CancelStatus* parent = task->cancel_status;
  if (parent) {
    parent->remove_task(task);
    parent->add_child(&status_storage_);
  }
  status_storage_.add_task(task);
  if (relative_ != kInfDuration || deadline_ != kInf) {
    const TimePoint now = runner_->now();
    if (relative_ != kInfDuration) {
      deadline_ = saturating_add(now, relative_);
      relative_ = kInfDuration;
    }
    if (!cancel_called_ && deadline_ != kInf && now >= deadline_) {
      CancelReason r;
      r.set = true;
      r.source = Cancelled::Source::kDeadline;
      if (!reason_storage_.set) reason_storage_ = r;
      cancel_called_ = true;
    }
  }
  status_storage_.effectively_cancelled =
      cancel_called_ || (parent && !shield_ && parent->effectively_cancelled);
  if (status_storage_.effectively_cancelled && !reason_storage_.set && parent)
    reason_storage_ = parent->scope->reason_();
  update_registration();
}

std::exception_ptr CancelScope::close_(std::exception_ptr exc) {
  internal::TaskRec* task = owner_;
  if (task->cancel_status != &status_storage_)
    throw RuntimeError(
        "Cancel scope stack corrupted: attempted to exit a CancelScope that isn't the current "
        "task's innermost cancel scope");
  CancelStatus* parent = status_storage_.parent;
  const bool parent_visible = parent && !shield_ && parent->effectively_cancelled;
  if (exc && status_storage_.effectively_cancelled && !parent_visible) {
    try {
      std::rethrow_exception(exc);
    } catch (const Cancelled&) {
      cancelled_caught_ = true;
      exc = nullptr;
    } catch (const BaseExceptionGroup& g) {
      auto [matched, rest] = g.split<Cancelled>();
      if (matched) {
        cancelled_caught_ = true;
        exc = rest;
      }
    } catch (...) {
    }
  }
  status_storage_.remove_task(task);
  if (parent) {
    parent->remove_child(&status_storage_);
    parent->add_task(task);
  }
  exited_ = true;
  update_registration();
  return exc;
}

void CancelScope::cancel_(CancelReason reason) {
  if (cancel_called_) return;
  if (!reason_storage_.set) reason_storage_ = std::move(reason);
  cancel_called_ = true;
  if (is_entered_()) {
    update_registration();
    internal::recalculate(&status_storage_);
  }
}

void CancelScope::expire_deadline_() {
  if (deadline_registration_) runner_->deadlines().remove(std::exchange(deadline_registration_, 0));
  CancelReason r;
  r.set = true;
  r.source = Cancelled::Source::kDeadline;
  cancel_(std::move(r));
}

namespace {
CancelReason explicit_reason(bool has_reason, std::string reason) {
  CancelReason r;
  r.set = true;
  r.source = Cancelled::Source::kExplicit;
  r.has_reason = has_reason;
  r.reason = std::move(reason);
  if (const internal::TaskRec* task = internal::tl_current_task) r.source_task = task->name();
  return r;
}
}  // namespace

void CancelScope::cancel() {
  if (cancel_called_) return;
  cancel_(explicit_reason(false, ""));
}

void CancelScope::cancel(std::string reason) {
  if (cancel_called_) return;
  cancel_(explicit_reason(true, std::move(reason)));
}

bool CancelScope::cancel_called() {
  if (!cancel_called_ && !exited_ && deadline_ != kInf) {
    Runner* r = runner_ ? runner_ : Runner::current();
    if (r && r->now() >= deadline_) {
      CancelReason reason;
      reason.set = true;
      reason.source = Cancelled::Source::kDeadline;
      cancel_(std::move(reason));
    }
  }
  return cancel_called_;
}

TimePoint CancelScope::deadline() const {
  if (relative_ != kInfDuration)
    throw RuntimeError("Unentered relative cancel scope does not have an absolute deadline.");
  return deadline_;
}

void CancelScope::set_deadline(TimePoint deadline) {
  if (relative_ != kInfDuration)
    throw RuntimeError("Unentered relative cancel scope does not have an absolute deadline.");
  deadline_ = deadline;
  update_registration();
}

Duration CancelScope::relative_deadline() const {
  if (entered_) {
    if (deadline_ == kInf) return kInfDuration;
    return saturating_sub(deadline_, Runner::require("CancelScope::relative_deadline").now());
  }
  if (deadline_ != kInf)
    throw RuntimeError("Unentered non-relative cancel scope does not have a relative deadline");
  return relative_;
}

void CancelScope::set_relative_deadline_ns(Duration timeout) {
  if (entered_) {
    deadline_ =
        saturating_add(Runner::require("CancelScope::set_relative_deadline").now(), timeout);
    update_registration();
  } else if (deadline_ != kInf) {
    throw RuntimeError("Unentered non-relative cancel scope does not have a relative deadline");
  } else {
    relative_ = timeout;
  }
}

std::optional<bool> CancelScope::is_relative() const {
  if (entered_) return std::nullopt;
  return relative_ != kInfDuration;
}

void CancelScope::set_shield(bool shield) {
  shield_ = shield;
  if (is_entered_()) internal::recalculate(&status_storage_);
}

const char* scope_kind_name(ScopeKind kind) {
  switch (kind) {
    case ScopeKind::kCancelScope:
      return "CancelScope";
    case ScopeKind::kMoveOnAfter:
      return "move_on_after";
    case ScopeKind::kMoveOnAt:
      return "move_on_at";
    case ScopeKind::kFailAfter:
      return "fail_after";
    case ScopeKind::kFailAt:
      return "fail_at";
    case ScopeKind::kNursery:
      return "nursery";
    case ScopeKind::kSystemNursery:
      return "system nursery";
  }
  return "?";
}

std::string CancelScope::description() const {
  if (kind_ == ScopeKind::kSystemNursery) return "the system nursery";
  std::string out = scope_kind_name(kind_);
  if (name_) absl::StrAppend(&out, " \"", name_, "\"");
  absl::StrAppend(&out, " at ", site_file_, ":", site_line_);
  return out;
}

TimePoint current_effective_deadline() {
  const internal::TaskRec* task = &lowlevel::current_task();
  const CancelStatus* node = task->cancel_status;
  if (node && node->effectively_cancelled) return kNegInf;
  TimePoint d = kInf;
  for (; node; node = node->parent) {
    d = std::min(d, node->scope->deadline_unchecked_());
    if (node->scope->shield()) break;
  }
  return d;
}

}  // namespace trio
