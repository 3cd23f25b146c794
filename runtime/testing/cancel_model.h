// SPDX-License-Identifier: Apache-2.0 OR MIT
//
// A reference model of Trio's cancellation and nursery rules, for cancel_prop_test.cc only.
//
// It defines small structured-concurrency programs (the statements of
// ../shared/conformance/gen.py: sleep, log, raise, cancel scopes, nurseries, cancel_nursery,
// catch_cancelled, catch) and a simulator that runs them in virtual time *without* trio-cpp:
// tasks are explicit frame stacks, exceptions are values, and the loop is Trio's (spec §2.9):
// expire deadlines, take the batch of runnable tasks, run each once. The rules it applies are
// written out from the spec, not taken from the runtime:
//   §2.1  sleep(0) = schedule point, then (if cancelled) a second step that raises;
//         sleep(t) = `with move_on_at(now + t): sleep_forever()`.
//   §2.2  effectively_cancelled(s) = s.cancel_called or (parent visible and cancelled).
//   §2.3  a scope swallows Cancelled (bare, or split out of a group) iff it is effectively
//         cancelled and its parent's cancellation is not visible to it.
//   §2.6  a child's error, or the body's, cancels the nursery scope; the nursery waits for its
//         children uncancellably, or takes a schedule point if there are none.
//   §2.8  errors are collected into a group that the nursery scope then strips.
// The log it writes is the one ../shared/conformance/run_trio.py writes for real Trio, so the
// model can be (and was, while it was written) checked against that corpus.
#ifndef TRIO_RUNTIME_TESTING_CANCEL_MODEL_H_
#define TRIO_RUNTIME_TESTING_CANCEL_MODEL_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace trio::cancel_model {

// ---- Programs ---------------------------------------------------------------------------------

enum class Op : uint8_t {
  kSleep,
  kLog,
  kRaise,
  kScope,
  kNursery,
  kCancelNursery,
  kCatchCancelled,
  kCatch
};
// The two error types a program raises and catches (Python's ValueError and KeyError).
enum class ErrKind : uint8_t { kValueError, kKeyError };

struct Stmt;
using Block = std::vector<Stmt>;

struct Stmt {
  Op op = Op::kLog;
  int ticks = 0;                        // kSleep: 0 is a plain checkpoint
  std::string tag;                      // kLog, kRaise
  ErrKind kind = ErrKind::kValueError;  // kRaise, kCatch
  int id = 0;                           // kScope, kNursery
  std::optional<int> deadline;          // kScope: deadline in ticks after entry
  bool shield = false;                  // kScope
  bool precancel = false;               // kScope: cancel() right after entry
  Block body;                           // kScope, kNursery, kCatchCancelled, kCatch
  Block handler;                        // kCatchCancelled: runs after logging "caught Cancelled"
  std::vector<Block> children;          // kNursery: one child task per block
};

// The whole program is the main task's body; it runs inside a budget scope of this many ticks.
inline constexpr int kBudgetTicks = 4096;
// 1 tick = 1/512 s, exact as a float (Trio) and as integer nanoseconds.
inline constexpr int64_t kTickNs = 1'953'125;

const char* kind_name(ErrKind kind);

// ---- Results ----------------------------------------------------------------------------------

struct LogLine {
  int64_t ticks;
  std::string task;  // "m", "m.n3c0", ... ("main" for the final line)
  std::string event;
};

struct ScopeRecord {
  bool caught = false;  // cancelled_caught at exit
  bool called = false;  // cancel_called at exit
};

struct Outcome {
  std::vector<LogLine> lines;         // in execution order; the last is "<end> main ok|raised S"
  std::map<int, ScopeRecord> scopes;  // by scope id, for every scope statement that exited
  std::string result;                 // "ok" or the shape of run()'s exception
};

// Exceptions print in Trio's shape notation: "Cancelled", "ValueError(E3)", "EG[...]" with
// sorted members.
// The lines as "<ticks> <task> <event>", sorted within each instant (normalize.py's rule).
std::vector<std::string> normalized(const Outcome& outcome);
// For failure messages: one indented line each.
std::string format_lines(const std::vector<std::string>& lines);
std::string format_raw(const Outcome& outcome);  // the lines in execution order

// ---- The model --------------------------------------------------------------------------------

// How the model orders each scheduler batch: always FIFO, always reversed, reversed with
// probability 1/2 (Trio's coin flip), or a uniform shuffle.
enum class Order : uint8_t { kFifo, kLifo, kCoinFlip, kShuffle };

// Runs `program` in the model. With kCoinFlip and kShuffle, `seed` drives the choices.
Outcome simulate(const Block& program, Order order, uint64_t seed = 0);

// The i-th order of a fixed exploration sequence: FIFO, LIFO, then seeded coin flips and
// shuffles, alternating.
Outcome simulate_nth(const Block& program, int i);

// Runs the first `runs` orders of that sequence. Returns the common outcome if they all agree
// (normalized log, result, scope records), nullopt if the outcome depends on the order of some
// batch (a race). A sample: a race that few orders reveal can go unnoticed.
std::optional<Outcome> simulate_if_order_independent(const Block& program, int runs = 24);

// True if one of the first `runs` orders gives `outcome`: the model allows it.
bool model_allows(const Block& program, const Outcome& outcome, int runs = 400);

// Equal results, normalized logs and scope records.
bool same(const Outcome& a, const Outcome& b);

}  // namespace trio::cancel_model

#endif  // TRIO_RUNTIME_TESTING_CANCEL_MODEL_H_
