// SPDX-License-Identifier: Apache-2.0 OR MIT
#include "testing/trace.h"

#include <algorithm>
#include <exception>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "runtime/errors.h"
#include "runtime/lowlevel.h"
#include "runtime/nursery.h"

namespace trio::testing {

const char* kind_name(TraceEventKind kind) {
  switch (kind) {
    case TraceEventKind::kSpawned:
      return "spawned";
    case TraceEventKind::kScheduled:
      return "scheduled";
    case TraceEventKind::kCancelled:
      return "cancelled";
    case TraceEventKind::kStep:
      return "step";
    case TraceEventKind::kBlocked:
      return "blocked";
    case TraceEventKind::kYield:
      return "yield";
    case TraceEventKind::kExited:
      return "exited";
    case TraceEventKind::kIdle:
      return "idle";
    case TraceEventKind::kNote:
      return "note";
  }
  return "?";
}

// ---- text ------------------------------------------------------------------------------------

std::string format_time_ns(int64_t ns) {
  // Integer arithmetic: the text must not depend on floating-point formatting.
  const bool negative = ns < 0;
  const uint64_t magnitude = negative ? 0 - static_cast<uint64_t>(ns) : static_cast<uint64_t>(ns);
  return absl::StrFormat("%s%d.%06ds", negative ? "-" : "", magnitude / 1'000'000'000,
                         magnitude % 1'000'000'000 / 1000);
}

std::string format_event(const TraceEvent& e) {
  return absl::StrCat(format_time_ns(e.time_ns), " ", e.task.empty() ? "-" : e.task, " ",
                      kind_name(e.kind), e.detail.empty() ? "" : " ", e.detail);
}

std::string format_trace(const Trace& trace, size_t max_lines) {
  std::string out;
  const size_t shown = trace.size() < max_lines ? trace.size() : max_lines;
  for (size_t i = 0; i < shown; ++i) {
    out += format_event(trace[i]);
    out += '\n';
  }
  if (shown < trace.size()) absl::StrAppend(&out, "... ", trace.size() - shown, " more events\n");
  return out;
}

std::string format_trace_tail(const Trace& trace, size_t max_lines) {
  std::string out;
  size_t first = 0;
  if (trace.size() > max_lines) {
    first = trace.size() - max_lines;
    out = absl::StrCat("... ", first, " earlier events\n");
  }
  for (size_t i = first; i < trace.size(); ++i) {
    out += format_event(trace[i]);
    out += '\n';
  }
  return out;
}

// ---- reports: folded traces and cycles -------------------------------------------------------

namespace {

constexpr uint64_t kInitTaskId = 0;  // TaskRecord::counter of the run's init task
constexpr uint64_t kMainTaskId = 1;  // ... and of the main task, the first one it spawns

// Whether trace[i] is the run's own bookkeeping (see fold_trace).
bool is_bookkeeping(const Trace& trace, size_t i) {
  const TraceEvent& e = trace[i];
  if (e.task_id == kInitTaskId) return true;
  if (e.kind == TraceEventKind::kSpawned && e.task_id == kMainTaskId && e.parent_id == kInitTaskId)
    return true;
  if (e.kind != TraceEventKind::kScheduled || !e.detail.empty()) return false;
  if (i > 0 && trace[i - 1].kind == TraceEventKind::kSpawned && trace[i - 1].task_id == e.task_id)
    return true;
  return i + 1 < trace.size() && trace[i + 1].kind == TraceEventKind::kYield &&
         trace[i + 1].task_id == e.task_id;
}

Trace slice(const Trace& trace, size_t from, size_t to) {
  return Trace(trace.begin() + static_cast<ptrdiff_t>(from),
               trace.begin() + static_cast<ptrdiff_t>(to));
}

}  // namespace

Trace fold_trace(const Trace& trace, size_t* folded) {
  Trace out;
  out.reserve(trace.size());
  for (size_t i = 0; i < trace.size(); ++i)
    if (!is_bookkeeping(trace, i)) out.push_back(trace[i]);
  if (folded) *folded = trace.size() - out.size();
  return out;
}

std::string format_report_trace(const Trace& trace, size_t max_lines) {
  size_t folded = 0;
  const Trace shown = fold_trace(trace, &folded);
  std::string out;
  if (folded != 0) {
    out = absl::StrCat("(", folded, " of ", trace.size(),
                       " events are the run's own bookkeeping and not shown: its init task, the "
                       "main task's spawn, and the reschedule of each spawn and checkpoint)\n");
  }
  absl::StrAppend(&out, format_trace_tail(shown, max_lines));
  return out;
}

bool same_but_time(const TraceEvent& a, const TraceEvent& b) {
  if (a.kind != b.kind || a.task != b.task) return false;
  if (a.kind == TraceEventKind::kIdle && a.detail.starts_with("until ") &&
      b.detail.starts_with("until "))
    return true;  // the same wait; its end is a time
  return a.detail == b.detail;
}

std::optional<TraceCycle> find_cycle(const Trace& trace, size_t end, size_t min_repetitions) {
  end = std::min(end, trace.size());
  min_repetitions = std::max<size_t>(min_repetitions, 2);
  size_t best_length = 0;
  size_t best_span = 0;  // how many events, counted back from `end`, repeat with that period
  const size_t max_length = std::min(kMaxCycleEvents, end / min_repetitions);
  for (size_t p = 1; p <= max_length; ++p) {
    size_t matched = 0;
    while (matched + p < end &&
           same_but_time(trace[end - 1 - matched], trace[end - 1 - matched - p]))
      ++matched;
    const size_t span = matched + p;
    if (span / p >= min_repetitions && span > best_span) {
      best_span = span;
      best_length = p;
    }
  }
  if (best_length == 0) return std::nullopt;
  TraceCycle cycle;
  cycle.length = best_length;
  cycle.repetitions = best_span / best_length;
  cycle.end = end;
  cycle.start = end - cycle.repetitions * best_length;
  cycle.period_ns = trace[end - 1].time_ns - trace[end - 1 - best_length].time_ns;
  return cycle;
}

std::string format_cycle_report(const Trace& trace, const TraceCycle& cycle, size_t lead_in_lines,
                                size_t max_lines) {
  const size_t end = std::min(cycle.end, trace.size());
  const size_t last_turn = end - std::min(cycle.length, end);
  const size_t start = std::min(cycle.start, last_turn);
  return absl::StrCat("-- before the cycle:\n",
                      format_trace_tail(fold_trace(slice(trace, 0, start)), lead_in_lines),
                      "-- the cycle, its last turn (turn ", cycle.repetitions, " of ",
                      cycle.repetitions, ", ", format_time_ns(cycle.period_ns),
                      " of virtual time each):\n",
                      format_trace_tail(fold_trace(slice(trace, last_turn, end)), max_lines),
                      "-- after the cycle:\n",
                      format_trace_tail(fold_trace(slice(trace, end, trace.size())), max_lines));
}

// ---- hashing ---------------------------------------------------------------------------------

uint64_t fnv1a(uint64_t hash, std::string_view bytes) {
  for (unsigned char c : bytes) {
    hash ^= c;
    hash *= kFnvPrime;
  }
  return hash;
}

namespace {
uint64_t hash_u64(uint64_t hash, uint64_t v) {
  for (int i = 0; i < 8; ++i) {
    hash ^= (v >> (8 * i)) & 0xff;
    hash *= kFnvPrime;
  }
  return hash;
}
uint64_t hash_string(uint64_t hash, const std::string& s) {
  return fnv1a(hash_u64(hash, s.size()), s);
}
}  // namespace

uint64_t hash_event(uint64_t h, const TraceEvent& e) {
  h = hash_u64(h, static_cast<uint64_t>(e.time_ns));
  h = hash_u64(h, static_cast<uint64_t>(e.kind));
  h = hash_u64(h, e.task_id);
  h = hash_u64(h, e.parent_id);
  h = hash_string(h, e.task);
  return hash_string(h, e.detail);
}

uint64_t trace_hash(const Trace& trace) {
  uint64_t h = kFnvOffset;
  for (const TraceEvent& e : trace) h = hash_event(h, e);
  return h;
}

std::string format_hash(uint64_t hash) { return absl::StrFormat("0x%016x", hash); }

// ---- the recorder ----------------------------------------------------------------------------

namespace {
// The detail of a kScheduled / kCancelled event: what the task will raise, and what it waited on.
std::pair<TraceEventKind, std::string> classify_wakeup(const lowlevel::TaskRecord& task,
                                                       const char* waited_on) {
  TraceEventKind kind = TraceEventKind::kScheduled;
  std::string detail;
  if (task.next_exception) {
    try {
      std::rethrow_exception(task.next_exception);
    } catch (const Cancelled& c) {
      kind = TraceEventKind::kCancelled;
      detail = absl::StrCat("(", c.source_name(), ")");
      if (c.has_reason()) absl::StrAppend(&detail, " reason '", c.reason(), "'");
    } catch (...) {
      detail = absl::StrCat("with ", describe(std::current_exception()));
    }
  }
  if (waited_on) absl::StrAppend(&detail, detail.empty() ? "" : " ", "after ", waited_on);
  return {kind, std::move(detail)};
}
}  // namespace

int64_t TraceRecorder::now_ns() {
  if (lowlevel::in_trio_run())
    last_time_ns_ = lowlevel::current_clock().current_time().time_since_epoch().count();
  return last_time_ns_;
}

void TraceRecorder::add(TraceEventKind kind, const TaskInfo* task, std::string detail,
                        uint64_t parent_id) {
  TraceEvent e{
      now_ns(),         kind, task ? task->id : kNoTask, parent_id, task ? task->name : "-",
      std::move(detail)};
  hash_ = hash_event(hash_, e);
  ++event_count_;
  on_event(e);
  if (trace_.size() < max_events_) trace_.push_back(std::move(e));
}

TraceRecorder::TaskInfo& TraceRecorder::info(lowlevel::TaskRecord& task) {
  auto it = tasks_.find(&task);
  if (it == tasks_.end()) it = tasks_.emplace(&task, TaskInfo{task.counter, task.name()}).first;
  return it->second;
}

void TraceRecorder::note(std::string text) { add(TraceEventKind::kNote, nullptr, std::move(text)); }

void TraceRecorder::clear() {
  trace_.clear();
  hash_ = kFnvOffset;
  event_count_ = 0;
  last_time_ns_ = 0;
  tasks_.clear();
}

void TraceRecorder::before_run() { clear(); }

void TraceRecorder::task_spawned(lowlevel::TaskRecord& task) {
  TaskInfo& t = info(task);
  const Nursery* n = lowlevel::parent_nursery(task);
  const lowlevel::TaskRecord* owner = n ? n->parent_task() : nullptr;
  std::string detail;
  uint64_t parent_id = kNoTask;
  if (owner) {
    const auto it = tasks_.find(owner);
    detail = "by " + (it != tasks_.end() ? it->second.name : owner->name());
    parent_id = owner->counter;
  }
  add(TraceEventKind::kSpawned, &t, std::move(detail), parent_id);
}

void TraceRecorder::task_scheduled(lowlevel::TaskRecord& task) {
  TaskInfo& t = info(task);
  auto [kind, detail] = classify_wakeup(task, std::exchange(t.waiting_on, nullptr));
  add(kind, &t, std::move(detail));
}

void TraceRecorder::before_task_step(lowlevel::TaskRecord& task) {
  add(TraceEventKind::kStep, &info(task), "");
}

void TraceRecorder::after_task_step(lowlevel::TaskRecord& task) {
  TaskInfo& t = info(task);
  switch (task.state) {
    case internal::TaskState::kBlocked:
      t.waiting_on = task.waiting_on;
      add(TraceEventKind::kBlocked, &t,
          task.waiting_on ? std::string("on ") + task.waiting_on : std::string());
      break;
    case internal::TaskState::kRunnable:
      add(TraceEventKind::kYield, &t, "");
      break;
    case internal::TaskState::kExited:
      tasks_.erase(&task);  // its record dies with this step
      break;
    case internal::TaskState::kRunning:
      break;
  }
}

void TraceRecorder::task_exited(lowlevel::TaskRecord& task) {
  add(TraceEventKind::kExited, &info(task), "");
}

void TraceRecorder::before_io_wait(Duration timeout) {
  (void)timeout;  // on an autojump clock it is the threshold, not where time goes
  const lowlevel::RunStatistics stats = lowlevel::current_statistics();
  // A zero-timeout poll between batches, or a deadline already due (the clock just jumped to
  // it, and it expires right after this poll): not a wait, not news.
  if (stats.tasks_runnable != 0 || stats.seconds_to_next_deadline <= Duration(0)) return;
  std::string detail;
  if (stats.seconds_to_next_deadline == kInfDuration) {
    detail = "(no deadline)";
  } else {
    const int64_t next = now_ns() + stats.seconds_to_next_deadline.count();
    detail = absl::StrCat("until ", format_time_ns(next));
  }
  add(TraceEventKind::kIdle, nullptr, std::move(detail));
}

}  // namespace trio::testing
