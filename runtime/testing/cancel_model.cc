// SPDX-License-Identifier: Apache-2.0 OR MIT
//
// The reference model of cancel_model.h. It deliberately shares nothing with the runtime: no
// coroutines, no exception_ptr, no cancel-status objects — a task is a stack of frames that
// `advance` walks, an exception is a value, and "which scope catches" is the one-line rule of
// spec §2.3 evaluated over a vector of statuses.
#include "runtime/testing/cancel_model.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <random>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace trio::cancel_model {

const char* kind_name(ErrKind kind) {
  return kind == ErrKind::kValueError ? "ValueError" : "KeyError";
}

// ---- Results ----------------------------------------------------------------------------------

std::vector<std::string> normalized(const Outcome& outcome) {
  std::vector<std::string> out;
  size_t group_start = 0;
  for (size_t i = 0; i < outcome.lines.size(); ++i) {
    const LogLine& l = outcome.lines[i];
    if (i > 0 && l.ticks != outcome.lines[i - 1].ticks) {
      std::sort(out.begin() + group_start, out.end());
      group_start = out.size();
    }
    out.push_back(absl::StrCat(l.ticks, " ", l.task, " ", l.event));
  }
  std::sort(out.begin() + group_start, out.end());
  return out;
}

std::string format_lines(const std::vector<std::string>& lines) {
  std::string s;
  for (const auto& l : lines) absl::StrAppend(&s, "  ", l, "\n");
  return s;
}

std::string format_raw(const Outcome& outcome) {
  std::string s;
  for (const auto& l : outcome.lines)
    absl::StrAppend(&s, "  ", l.ticks, " ", l.task, " ", l.event, "\n");
  return s;
}

namespace {
bool same_scopes(const std::map<int, ScopeRecord>& x, const std::map<int, ScopeRecord>& y) {
  return std::equal(x.begin(), x.end(), y.begin(), y.end(), [](const auto& p, const auto& q) {
    return p.first == q.first && p.second.caught == q.second.caught &&
           p.second.called == q.second.called;
  });
}
// `a` against `b`, whose normalized log is `b_normalized` (computed once by the caller).
bool same_as(const Outcome& a, const Outcome& b, const std::vector<std::string>& b_normalized) {
  return a.result == b.result && same_scopes(a.scopes, b.scopes) &&
         a.lines.size() == b.lines.size() && normalized(a) == b_normalized;
}
}  // namespace

bool same(const Outcome& a, const Outcome& b) { return same_as(a, b, normalized(b)); }

// ---- The model --------------------------------------------------------------------------------

namespace {

constexpr int64_t kNever = INT64_MAX;

// An exception value: Cancelled, a program error, or a group.
struct Exc {
  enum class Kind : uint8_t { kCancelled, kError, kGroup } kind = Kind::kCancelled;
  ErrKind err = ErrKind::kValueError;
  std::string tag;
  std::vector<Exc> members;
};
using Completion = std::optional<Exc>;  // nullopt: completed normally

std::string shape(const Exc& e) {
  switch (e.kind) {
    case Exc::Kind::kCancelled:
      return "Cancelled";
    case Exc::Kind::kError:
      return absl::StrCat(kind_name(e.err), "(", e.tag, ")");
    case Exc::Kind::kGroup: {
      std::vector<std::string> parts;
      for (const Exc& m : e.members) parts.push_back(shape(m));
      std::sort(parts.begin(), parts.end());
      return absl::StrCat("EG[", absl::StrJoin(parts, ","), "]");
    }
  }
  return "?";
}

// PEP 654 split on "is Cancelled", keeping the nesting; empty groups vanish.
std::pair<Completion, Completion> split_cancelled(const Exc& e) {
  if (e.kind == Exc::Kind::kCancelled) return {e, std::nullopt};
  if (e.kind == Exc::Kind::kError) return {std::nullopt, e};
  Exc matched{Exc::Kind::kGroup, {}, {}, {}};
  Exc rest{Exc::Kind::kGroup, {}, {}, {}};
  for (const Exc& m : e.members) {
    auto [a, b] = split_cancelled(m);
    if (a) matched.members.push_back(std::move(*a));
    if (b) rest.members.push_back(std::move(*b));
  }
  return {matched.members.empty() ? Completion() : Completion(std::move(matched)),
          rest.members.empty() ? Completion() : Completion(std::move(rest))};
}

// A node of the cancellation tree: one per entered scope or nursery. (A sleep needs none: its
// outcome is decided when the task resumes, see step().)
struct Status {
  int parent = -1;
  bool shield = false;
  bool cancel_called = false;
  bool active = true;         // entered and not yet exited
  int64_t deadline = kNever;  // absolute, in ticks
};

enum class FrameKind : uint8_t {
  kBlock,           // executing statements of `block`
  kScope,           // a `scope` statement's with-block
  kBudget,          // the main task's move_on_after(kBudgetTicks)
  kNursery,         // a nursery's body
  kCatchCancelled,  // try: body except Cancelled: log, handler, raise
  kRethrow,         // re-raise `saved` once the handler is done
  kCatch,           // try: body except <kind>: log
  kChildRoot,       // run_child: logs "exit ..."
};

struct Frame {
  FrameKind kind = FrameKind::kBlock;
  const Block* block = nullptr;
  size_t pc = 0;
  int nursery = -1;  // kBlock: the nursery `cancel_nursery` means; kNursery: this nursery
  const Stmt* stmt = nullptr;
  int status = -1;  // kScope, kBudget: the scope's status
  Completion saved;
};

// Where a task is parked, i.e. what its next step resumes.
enum class Wait : uint8_t {
  kStart,                // not started yet
  kCheckpoint,           // sleep(0) took its schedule point
  kCheckpointCancelled,  // sleep(0) found itself cancelled: the next step raises
  kSleep,                // sleep(t > 0)
  kNurseryExit,          // in a nursery's __aexit__ (waiting for children, or its schedule point)
  kDone,
};

struct Task {
  std::string label;
  int status = -1;
  int nursery = -1;  // the nursery this task is a child of; -1 for the main task
  std::vector<Frame> frames;
  Wait wait = Wait::kStart;
  bool runnable = false;
  int64_t sleep_deadline = kNever;
  int sleep_ticks = 0;
};

struct Nursery {
  int id = 0;
  int status = -1;
  int parent_task = -1;
  int live_children = 0;
  bool body_done = false;
  bool parent_waiting = false;
  std::vector<Exc> pending;
};

Frame block_frame(const Block* block, int nursery) {
  Frame f;
  f.kind = FrameKind::kBlock;
  f.block = block;
  f.nursery = nursery;
  return f;
}

class Model {
 public:
  Model(Order order, uint64_t seed) : order_(order), rng_(seed) {}

  Outcome run(const Block& program) {
    const int root = new_status(-1, false);  // the run's main-task nursery: never cancelled
    tasks_.push_back(Task{"m", root, -1, {}, Wait::kStart, false, kNever, 0});
    const int budget = new_status(root, false);
    statuses_[budget].deadline = now_ + kBudgetTicks;
    Frame b;
    b.kind = FrameKind::kBudget;
    b.status = budget;
    tasks_[0].frames.push_back(b);
    tasks_[0].status = budget;
    tasks_[0].frames.push_back(block_frame(&program, -1));
    make_runnable(0);
    while (tasks_[0].wait != Wait::kDone) {
      if (runq_.empty()) {
        const int64_t next = next_deadline();
        if (next == kNever) {
          std::fprintf(stderr, "cancel_model: deadlock (a bug in the model)\n");
          std::abort();
        }
        now_ = std::max(now_, next);  // autojump
      }
      expire();
      std::vector<int> batch;
      batch.swap(runq_);
      if (order_ == Order::kLifo ||
          (order_ == Order::kCoinFlip && std::uniform_int_distribution<int>(0, 1)(rng_) == 1))
        std::reverse(batch.begin(), batch.end());
      if (order_ == Order::kShuffle)
        for (size_t i = batch.size(); i > 1; --i)
          std::swap(batch[i - 1], batch[std::uniform_int_distribution<size_t>(0, i - 1)(rng_)]);
      for (int t : batch) {
        tasks_[t].runnable = false;
        step(t);
      }
    }
    out_.result = main_result_ ? shape(*main_result_) : "ok";
    out_.lines.push_back({now_, "main", main_result_ ? "raised " + out_.result : "ok"});
    return std::move(out_);
  }

 private:
  // ---- the cancellation tree (§2.2, §2.3) ----
  int new_status(int parent, bool shield) {
    statuses_.push_back(Status{parent, shield, false, true, kNever});
    return static_cast<int>(statuses_.size()) - 1;
  }
  bool effectively_cancelled(int s) const {
    for (; s >= 0; s = statuses_[s].parent) {
      if (statuses_[s].cancel_called) return true;
      if (statuses_[s].shield) return false;
    }
    return false;
  }
  void cancel(int s) {
    if (statuses_[s].cancel_called) return;
    statuses_[s].cancel_called = true;
    deliver();
  }
  // A task blocked in a sleep is woken as soon as its context is cancelled (its abort
  // succeeds). A parent waiting in a nursery's __aexit__ is not (its abort fails, §2.6.4).
  void deliver() {
    for (size_t i = 0; i < tasks_.size(); ++i)
      if (tasks_[i].wait == Wait::kSleep && !tasks_[i].runnable &&
          effectively_cancelled(tasks_[i].status))
        make_runnable(static_cast<int>(i));
  }
  // Exits the scope whose status is `s` with completion `c`: the rule of §2.3.
  Completion close_scope(int task, int s, Completion c, ScopeRecord* rec) {
    Status& st = statuses_[s];
    const bool parent_visible = st.parent >= 0 && !st.shield && effectively_cancelled(st.parent);
    if (c && effectively_cancelled(s) && !parent_visible) {
      auto [matched, rest] = split_cancelled(*c);
      if (matched) {
        rec->caught = true;
        c = std::move(rest);
      }
    }
    st.active = false;
    rec->called = st.cancel_called;
    tasks_[task].status = st.parent;
    return c;
  }

  // ---- the loop (§2.5, §2.9, §2.10) ----
  void make_runnable(int t) {
    tasks_[t].runnable = true;
    runq_.push_back(t);
  }
  int64_t next_deadline() const {
    int64_t next = kNever;
    for (const Status& s : statuses_)
      if (s.active && !s.cancel_called) next = std::min(next, s.deadline);
    for (const Task& t : tasks_)
      if (t.wait == Wait::kSleep && !t.runnable) next = std::min(next, t.sleep_deadline);
    return next;
  }
  void expire() {
    for (Status& s : statuses_)
      if (s.active && !s.cancel_called && s.deadline <= now_) s.cancel_called = true;
    for (size_t i = 0; i < tasks_.size(); ++i)
      if (tasks_[i].wait == Wait::kSleep && !tasks_[i].runnable && tasks_[i].sleep_deadline <= now_)
        make_runnable(static_cast<int>(i));
    deliver();
  }

  void log(int t, std::string event) {
    out_.lines.push_back({now_, tasks_[t].label, std::move(event)});
  }

  // Resumes task `t` from where it is parked.
  void step(int t) {
    Completion c;
    Task& task = tasks_[t];
    switch (task.wait) {
      case Wait::kStart:
        if (task.nursery >= 0) log(t, "start");
        break;
      case Wait::kCheckpoint:
        if (effectively_cancelled(task.status)) {
          task.wait = Wait::kCheckpointCancelled;  // blocks; the abort succeeds at once
          make_runnable(t);
          return;
        }
        log(t, "slept 0");
        break;
      case Wait::kCheckpointCancelled:
        c = Exc{};
        break;
      case Wait::kSleep:
        // Woken by the deadline of the sleep's own scope or by a cancellation: the sleep's scope
        // swallows the Cancelled only if no outer cancellation is visible (§2.3).
        if (effectively_cancelled(task.status))
          c = Exc{};
        else
          log(t, absl::StrCat("slept ", task.sleep_ticks));
        break;
      case Wait::kNurseryExit:
        c = finish_nursery(t);
        break;
      case Wait::kDone:
        std::abort();
    }
    tasks_[t].wait = Wait::kStart;  // running
    advance(t, std::move(c));
  }

  Completion finish_nursery(int t) {
    const Frame f = tasks_[t].frames.back();
    tasks_[t].frames.pop_back();
    Nursery& n = nurseries_[f.nursery];
    Completion group;
    if (!n.pending.empty()) group = Exc{Exc::Kind::kGroup, {}, {}, n.pending};
    ScopeRecord rec;
    Completion c = close_scope(t, n.status, std::move(group), &rec);
    log(t, absl::StrCat("nursery ", n.id, c ? absl::StrCat(" raised ", shape(*c)) : " done"));
    return c;
  }

  // Runs task `t` with completion `c` until it parks or exits.
  void advance(int t, Completion c) {
    for (;;) {
      Task& task = tasks_[t];
      if (task.frames.empty()) return exit_task(t, std::move(c));
      Frame& f = task.frames.back();
      switch (f.kind) {
        case FrameKind::kBlock: {
          if (c || f.pc == f.block->size()) {
            task.frames.pop_back();
            break;
          }
          const Stmt& st = (*f.block)[f.pc++];
          if (!exec(t, st, f.nursery, c)) return;  // parked
          break;
        }
        case FrameKind::kScope: {
          const Frame fr = f;
          task.frames.pop_back();
          const int id = fr.stmt->id;
          if (c) log(t, absl::StrCat("scope ", id, " unwinding ", shape(*c)));
          ScopeRecord rec;
          c = close_scope(t, fr.status, std::move(c), &rec);
          out_.scopes[fr.stmt->id] = rec;
          if (!c)
            log(t, absl::StrCat("scope ", id, " exit caught=", rec.caught ? 1 : 0,
                                " called=", rec.called ? 1 : 0));
          break;
        }
        case FrameKind::kBudget: {
          const int s = f.status;
          task.frames.pop_back();
          ScopeRecord rec;
          c = close_scope(t, s, std::move(c), &rec);
          if (rec.caught) log(t, "budget exhausted");
          break;
        }
        case FrameKind::kNursery: {  // the body is done: __aexit__
          Nursery& n = nurseries_[f.nursery];
          if (c) {
            n.pending.push_back(std::move(*c));
            c.reset();
            cancel(n.status);
          }
          n.body_done = true;
          task.wait = Wait::kNurseryExit;
          if (n.live_children > 0)
            n.parent_waiting = true;  // blocked until the last child exits
          else
            make_runnable(t);  // cancel_shielded_checkpoint
          return;
        }
        case FrameKind::kCatchCancelled: {
          const Frame fr = f;
          task.frames.pop_back();
          if (c && c->kind == Exc::Kind::kCancelled) {
            log(t, "caught Cancelled");
            Frame r;
            r.kind = FrameKind::kRethrow;
            r.saved = std::move(c);
            c.reset();
            tasks_[t].frames.push_back(std::move(r));
            tasks_[t].frames.push_back(block_frame(&fr.stmt->handler, fr.nursery));
          }
          break;
        }
        case FrameKind::kRethrow: {
          Completion saved = std::move(f.saved);
          task.frames.pop_back();
          if (!c) c = std::move(saved);  // an error in the handler replaces it
          break;
        }
        case FrameKind::kCatch: {
          const ErrKind kind = f.stmt->kind;
          task.frames.pop_back();
          if (c && c->kind == Exc::Kind::kError && c->err == kind) {
            log(t, "caught " + shape(*c));
            c.reset();
          }
          break;
        }
        case FrameKind::kChildRoot:
          task.frames.pop_back();
          log(t, c ? "exit " + shape(*c) : "exit ok");
          break;
      }
    }
  }

  // Executes one statement. Returns false if the task parked.
  bool exec(int t, const Stmt& st, int nursery, Completion& c) {
    switch (st.op) {
      case Op::kSleep: {
        Task& task = tasks_[t];
        if (st.ticks == 0) {  // checkpoint(): a schedule point first
          task.wait = Wait::kCheckpoint;
          make_runnable(t);
          return false;
        }
        task.wait = Wait::kSleep;
        task.sleep_ticks = st.ticks;
        task.sleep_deadline = now_ + st.ticks;
        if (effectively_cancelled(task.status)) make_runnable(t);  // aborted at once
        return false;
      }
      case Op::kLog:
        log(t, st.tag);
        return true;
      case Op::kRaise:
        log(t, "raise " + st.tag);
        c = Exc{Exc::Kind::kError, st.kind, st.tag, {}};
        return true;
      case Op::kCancelNursery:
        cancel(nurseries_[nursery].status);
        log(t, "cancel nursery");
        return true;
      case Op::kScope: {
        const int s = new_status(tasks_[t].status, st.shield);
        tasks_[t].status = s;
        Frame f;
        f.kind = FrameKind::kScope;
        f.stmt = &st;
        f.status = s;
        tasks_[t].frames.push_back(f);
        // As run_trio.py: the deadline is assigned after entry, so even a deadline of "now"
        // takes effect at the loop's next expiry pass, not at once.
        if (st.deadline) statuses_[s].deadline = now_ + *st.deadline;
        if (st.precancel) cancel(s);
        tasks_[t].frames.push_back(block_frame(&st.body, nursery));
        return true;
      }
      case Op::kNursery: {
        const int s = new_status(tasks_[t].status, false);
        tasks_[t].status = s;
        const int n = static_cast<int>(nurseries_.size());
        nurseries_.push_back(Nursery{st.id, s, t, 0, false, false, {}});
        Frame f;
        f.kind = FrameKind::kNursery;
        f.stmt = &st;
        f.nursery = n;
        tasks_[t].frames.push_back(f);
        for (size_t i = 0; i < st.children.size(); ++i) {
          Task child;
          child.label = absl::StrCat(tasks_[t].label, ".n", st.id, "c", i);
          child.status = s;
          child.nursery = n;
          Frame root;
          root.kind = FrameKind::kChildRoot;
          child.frames.push_back(root);
          child.frames.push_back(block_frame(&st.children[i], n));
          tasks_.push_back(std::move(child));
          ++nurseries_[n].live_children;
          make_runnable(static_cast<int>(tasks_.size()) - 1);
        }
        tasks_[t].frames.push_back(block_frame(&st.body, n));
        return true;
      }
      case Op::kCatchCancelled:
      case Op::kCatch: {
        Frame f;
        f.kind = st.op == Op::kCatch ? FrameKind::kCatch : FrameKind::kCatchCancelled;
        f.stmt = &st;
        f.nursery = nursery;
        tasks_[t].frames.push_back(f);
        tasks_[t].frames.push_back(block_frame(&st.body, nursery));
        return true;
      }
    }
    return true;
  }

  void exit_task(int t, Completion c) {
    tasks_[t].wait = Wait::kDone;
    if (tasks_[t].nursery < 0) {
      main_result_ = std::move(c);
      return;
    }
    Nursery& n = nurseries_[tasks_[t].nursery];
    --n.live_children;
    if (c) {
      n.pending.push_back(std::move(*c));
      cancel(n.status);
    }
    if (n.body_done && n.live_children == 0 && n.parent_waiting) {
      n.parent_waiting = false;
      make_runnable(n.parent_task);
    }
  }

  Order order_;
  std::mt19937_64 rng_;
  int64_t now_ = 0;
  std::deque<Status> statuses_;
  std::deque<Task> tasks_;
  std::deque<Nursery> nurseries_;
  std::vector<int> runq_;
  Completion main_result_;
  Outcome out_;
};

}  // namespace

Outcome simulate(const Block& program, Order order, uint64_t seed) {
  return Model(order, seed).run(program);
}

Outcome simulate_nth(const Block& program, int i) {
  if (i == 0) return simulate(program, Order::kFifo);
  if (i == 1) return simulate(program, Order::kLifo);
  return simulate(program, i % 2 ? Order::kShuffle : Order::kCoinFlip, static_cast<uint64_t>(i));
}

std::optional<Outcome> simulate_if_order_independent(const Block& program, int runs) {
  Outcome first = simulate_nth(program, 0);
  const std::vector<std::string> first_normalized = normalized(first);
  for (int i = 1; i < runs; ++i)
    if (!same_as(simulate_nth(program, i), first, first_normalized)) return std::nullopt;
  return first;
}

bool model_allows(const Block& program, const Outcome& outcome, int runs) {
  const std::vector<std::string> outcome_normalized = normalized(outcome);
  for (int i = 0; i < runs; ++i)
    if (same_as(simulate_nth(program, i), outcome, outcome_normalized)) return true;
  return false;
}

}  // namespace trio::cancel_model
