// SPDX-License-Identifier: Apache-2.0 OR MIT
#include "runtime/internal/hang_report.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "runtime/nursery.h"

namespace trio::internal {

uint64_t ObjectNumbers::number(const void* identity, const char* kind) {
  auto [it, added] = numbers_.try_emplace(identity, 0);
  if (added) it->second = ++last_[kind];
  return it->second;
}

namespace {
// "lock 'accounts[bob]'", "Lock#2", or "" for an unnamed kind that is not shown.
std::string object_text(const void* queue, const ObjectLabel& label, ObjectNumbers& numbers) {
  const ObjectKind& kind = label.kind();
  if (!label.name().empty()) return absl::StrFormat("%s '%s'", kind.noun, label.name());
  if (!kind.show_unnamed) return "";
  const void* identity = kind.identity ? kind.identity(queue) : queue;
  return absl::StrCat(kind.name, "#", numbers.number(identity, kind.name));
}
}  // namespace

WaitGraph::WaitGraph(const std::vector<const TaskRec*>& tasks, ObjectNumbers& numbers)
    : tasks_(tasks), waits_(tasks.size()) {
  for (size_t i = 0; i < tasks_.size(); ++i) index_.emplace(tasks_[i], i);
  std::vector<const void*> owners;
  for (size_t i = 0; i < tasks_.size(); ++i) {
    const TaskRec* task = tasks_[i];
    if (task->state != TaskState::kBlocked) continue;
    if (task->waiting_on == kNurseryExitWait && task->innermost_child_nursery) {
      // Waits for its children to exit: an edge to each, for cycles only (the line says it).
      waits_[i].nursery_exit = true;
      for (const TaskRec* child : task->innermost_child_nursery->child_tasks())
        if (auto it = index_.find(child); it != index_.end())
          waits_[i].owner_tasks.push_back(it->second);
      continue;
    }
    if (!task->abort) continue;
    const WaitTarget target = task->abort->wait_target(*task);
    if (!target.label) continue;
    Wait& wait = waits_[i];
    wait.object = object_text(target.queue, *target.label, numbers);
    const ObjectKind& kind = target.label->kind();
    if (!kind.owners) continue;
    owners.clear();
    kind.owners(target.queue, owners);
    wait.owned_verb = kind.owned_verb;
    for (const void* owner : owners) {
      // An owner is compared with the run's tasks before it is read: a borrower may be any
      // identity (acquire_on_behalf_of), or a task that exited holding its token.
      auto it = index_.find(static_cast<const TaskRec*>(owner));
      if (it == index_.end()) {
        wait.owners.push_back("a borrower that is not a task");
        continue;
      }
      wait.owners.push_back(task_text(it->second));
      wait.owner_tasks.push_back(it->second);
    }
  }
}

std::string WaitGraph::task_text(size_t index) const {
  return absl::StrCat("task ", tasks_[index]->name());
}

std::string WaitGraph::wait_text(const TaskRec& task) const {
  std::string out = task.waiting_on ? task.waiting_on : "(unknown)";
  auto it = index_.find(&task);
  if (it == index_.end()) return out;
  const Wait& wait = waits_[it->second];
  if (!wait.object.empty()) absl::StrAppend(&out, " of ", wait.object);
  if (!wait.owners.empty())
    absl::StrAppend(&out, " (", wait.owned_verb, " ", absl::StrJoin(wait.owners, ", "), ")");
  return out;
}

// Depth-first search over "waits for an object owned by" edges; every edge back to a task on
// the current path closes a cycle. (Each strongly connected set of waits shows at least one of
// its cycles.)
void WaitGraph::find_cycles(size_t at, std::vector<uint8_t>& color, std::vector<size_t>& path,
                            std::vector<std::vector<size_t>>& cycles) const {
  enum : uint8_t { kNew, kOnPath, kDone };
  color[at] = kOnPath;
  path.push_back(at);
  for (size_t next : waits_[at].owner_tasks) {
    if (color[next] == kOnPath) {
      auto from = std::find(path.begin(), path.end(), next);
      cycles.emplace_back(from, path.end());
    } else if (color[next] == kNew) {
      find_cycles(next, color, path, cycles);
    }
  }
  path.pop_back();
  color[at] = kDone;
}

std::string WaitGraph::cycles_text() const {
  std::vector<uint8_t> color(tasks_.size(), 0);
  std::vector<size_t> path;
  std::vector<std::vector<size_t>> cycles;
  for (size_t i = 0; i < tasks_.size(); ++i)
    if (color[i] == 0 && !waits_[i].owner_tasks.empty()) find_cycles(i, color, path, cycles);
  std::string out;
  for (std::vector<size_t>& cycle : cycles) {
    // Start at the task the report lists first.
    std::rotate(cycle.begin(), std::min_element(cycle.begin(), cycle.end()), cycle.end());
    absl::StrAppend(&out, "deadlock cycle: ", task_text(cycle[0]));
    for (size_t k = 0; k < cycle.size(); ++k) {
      const Wait& wait = waits_[cycle[k]];
      const size_t next = cycle[(k + 1) % cycle.size()];
      out += k ? ", which waits for " : " waits for ";
      if (wait.nursery_exit) {
        absl::StrAppend(&out, "its child ", task_text(next), " to exit");
        continue;
      }
      absl::StrAppend(&out, wait.object.empty() ? "an object" : wait.object, " ", wait.owned_verb,
                      " ", task_text(next));
    }
    out += "\n";
  }
  return out;
}

}  // namespace trio::internal
