// SPDX-License-Identifier: Apache-2.0 OR MIT
//
// The task-tree dump of deadlock and livelock reports (Runner::task_tree; see task_dump.h). What
// each blocked task waits on, and the wait cycles, come from hang_report.h's WaitGraph.
#include "runtime/internal/task_dump.h"

#include <algorithm>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "runtime/cancel_scope.h"
#include "runtime/internal/hang_report.h"
#include "runtime/internal/runner.h"
#include "runtime/nursery.h"

namespace trio::internal {

// (See task_dump.h.)
std::string seconds_text(int64_t ns) {
  const bool negative = ns < 0;
  const uint64_t m = negative ? 0 - static_cast<uint64_t>(ns) : static_cast<uint64_t>(ns);
  return absl::StrFormat("%s%d.%06ds", negative ? "-" : "", m / 1'000'000'000,
                         m % 1'000'000'000 / 1000);
}

namespace {
const char* source_text(Cancelled::Source source) {
  switch (source) {
    case Cancelled::Source::kKeyboardInterrupt:
      return "KeyboardInterrupt";
    case Cancelled::Source::kDeadline:
      return "deadline";
    case Cancelled::Source::kExplicit:
      return "explicit";
    case Cancelled::Source::kNursery:
      return "nursery";
    case Cancelled::Source::kShutdown:
      return "shutdown";
    case Cancelled::Source::kUnknown:
      break;
  }
  return "unknown";
}

// "deadline 5.000000s (in 2.000000s), shield, cancel called (deadline)", or "" for a scope with
// none of these.
std::string scope_attributes(const CancelScope& scope, TimePoint now) {
  std::string out;
  const auto add = [&](const std::string& part) {
    absl::StrAppend(&out, out.empty() ? "" : ", ", part);
  };
  const TimePoint d = scope.deadline_unchecked_();
  if (d != kInf) {
    const int64_t left = d.time_since_epoch().count() - now.time_since_epoch().count();
    add(absl::StrCat("deadline ", seconds_text(d.time_since_epoch().count()),
                     left > 0 ? absl::StrCat(" (in ", seconds_text(left), ")") : " (passed)"));
  }
  if (scope.shield()) add("shield");
  if (scope.cancel_called_value_())
    add(absl::StrCat("cancel called (", source_text(scope.reason_().source), ")"));
  return out;
}

struct DumpContext {
  TimePoint now;
  const Deadlines* deadlines;
  const Nursery* system_nursery;
  const WaitGraph* waits;
};

// Every task under `task` (included), in the order dump_task lists them.
void tasks_in_report_order(const TaskRec* task, std::vector<const TaskRec*>& out) {
  out.push_back(task);
  std::vector<Nursery*> nurseries;
  for (Nursery* n = task->innermost_child_nursery; n; n = n->outer_) nurseries.push_back(n);
  std::reverse(nurseries.begin(), nurseries.end());
  for (Nursery* n : nurseries)
    for (TaskRec* c : n->child_tasks()) tasks_in_report_order(c, out);
}

// One task, its cancel scopes (its status chain up to its parent nursery's scope, innermost
// first) and what it waits on, then its nurseries and their children.
void dump_task(const TaskRec* task, int depth, const DumpContext& ctx, std::string& out) {
  const std::string indent(static_cast<size_t>(depth) * 2, ' ');
  absl::StrAppend(&out, indent, "task ", task->name(), ": ");
  switch (task->state) {
    case TaskState::kBlocked:
      out += "blocked on ";
      out += ctx.waits->wait_text(*task);
      if (task->sleep_registration)
        absl::StrAppend(
            &out, " until ",
            seconds_text(
                ctx.deadlines->deadline_of(task->sleep_registration).time_since_epoch().count()));
      break;
    case TaskState::kRunnable:
      out += "runnable";
      break;
    case TaskState::kRunning:
      out += "running";
      break;
    case TaskState::kExited:
      out += "exited";
      break;
  }
  if (task->cancel_status && task->cancel_status->effectively_cancelled) out += " [cancelled]";
  out += "\n";
  std::vector<Nursery*> nurseries;
  for (Nursery* n = task->innermost_child_nursery; n; n = n->outer_) nurseries.push_back(n);
  const CancelStatus* stop =
      task->parent_nursery ? &task->parent_nursery->cancel_scope().status_() : nullptr;
  std::string scopes;
  bool interesting = false;  // bare nursery scopes are shown by the nursery lines
  for (const CancelStatus* s = task->cancel_status; s && s != stop; s = s->parent) {
    const bool is_nursery = std::any_of(nurseries.begin(), nurseries.end(),
                                        [&](Nursery* n) { return &n->cancel_scope() == s->scope; });
    const std::string attributes = scope_attributes(*s->scope, ctx.now);
    if (!is_nursery || !attributes.empty()) interesting = true;
    scopes += " [";
    scopes += is_nursery ? (attributes.empty() ? "nursery" : "nursery: " + attributes)
                         : (attributes.empty() ? "no deadline" : attributes);
    scopes += "]";
  }
  if (interesting) absl::StrAppend(&out, indent, "  cancel scopes, innermost first:", scopes, "\n");
  std::reverse(nurseries.begin(), nurseries.end());
  for (Nursery* n : nurseries) {
    const size_t count = n->child_count();
    const std::string label = n == ctx.system_nursery ? std::string("system nursery")
                              : task->is_init         ? std::string("main nursery")
                                                      : "nursery of " + task->name();
    absl::StrAppend(&out, indent, "  ", label, ": ", count,
                    count == 1 ? " child\n" : " children\n");
    for (TaskRec* c : n->child_tasks()) dump_task(c, depth + 2, ctx, out);
  }
}
}  // namespace

std::string Runner::task_tree() const {
  std::string out;
  if (!init_task_) return out;
  std::vector<const TaskRec*> tasks;
  tasks_in_report_order(init_task_, tasks);
  const WaitGraph waits(tasks, object_numbers_);
  dump_task(init_task_, 1,
            DumpContext{clock_->current_time(), &deadlines_, system_nursery_, &waits}, out);
  return out + waits.cycles_text();
}

}  // namespace trio::internal
