// SPDX-License-Identifier: Apache-2.0 OR MIT
//
// Event traces: what a run did, in virtual time, as a list of events — readable, comparable and
// hashable. The determinism self-check (determinism.h), the Chrome/Perfetto export (perfetto.h)
// and failure reports are built on it.
//
//   trio::testing::TraceRecorder recorder;
//   trio::MockClock clock;
//   clock.set_autojump_threshold(0s);
//   trio::run(trio::RunOptions{.clock = &clock, .instruments = {&recorder}, .seed = 7}, body);
//   std::cout << recorder.to_string();        // one line per event, see format_event()
//   uint64_t h = recorder.hash();             // the same for the same run, on every compiler
//
// What is recorded (one TraceEvent each, at the run's current time):
//   spawned      a task joined a nursery; `parent_id`/detail name the nursery's owner task
//   scheduled    a task became runnable; detail: the wait it woke from ("after sleep"), or the
//                error it will raise ("with BrokenResourceError: ...")
//   cancelled    a task became runnable to raise Cancelled; detail: the source ("deadline" for a
//                deadline expiry, "explicit", "nursery", "shutdown") and the reason, if any
//   step         the task is about to run (before_task_step)
//   blocked      the step ended with the task blocked; detail: what it waits on (the
//                TaskRecord's waiting_on: "sleep", "ParkingLot.park", "nursery exit ...")
//   yield        the step ended with the task still runnable (a checkpoint)
//   exited       the task finished
//   idle         nothing was runnable and the next deadline is in the future: the loop waits
//                for I/O or (autojump) jumps the clock; detail: "until <next deadline>" or
//                "(no deadline)"
//   note         a line added with TraceRecorder::note() (e.g. the run's outcome)
// Task-less events (idle, note) have task_id == kNoTask and task "-".
//
// Identity: a task is named by its spawn counter (`task_id`, deterministic within a run) and
// its name at spawn time (TaskRecord::name(): the spawner's TaskName or "<parent>.<counter>").
// Nothing hashed depends on addresses, type names or the compiler: the hash is FNV-1a (64-bit)
// over the events' fields in a fixed byte order.
//
// Thread-safety: a recorder belongs to one run at a time (instruments run on the run's thread).
#ifndef TRIO_TESTING_TRACE_H_
#define TRIO_TESTING_TRACE_H_

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "runtime/instrument.h"
#include "runtime/time.h"

namespace trio::testing {

enum class TraceEventKind : uint8_t {
  kSpawned,
  kScheduled,
  kCancelled,
  kStep,
  kBlocked,
  kYield,
  kExited,
  kIdle,
  kNote,
};

// The word used for `kind` in the text form ("spawned", "step", "blocked", ...).
const char* kind_name(TraceEventKind kind);

inline constexpr uint64_t kNoTask = UINT64_MAX;

struct TraceEvent {
  int64_t time_ns = 0;  // the run clock's time, in nanoseconds
  TraceEventKind kind = TraceEventKind::kNote;
  uint64_t task_id = kNoTask;    // TaskRecord::counter (0 = <init>), kNoTask if none
  uint64_t parent_id = kNoTask;  // kSpawned: the task that owns the nursery; else kNoTask
  std::string task;              // the task's name ("-" if none)
  std::string detail;            // kind-specific, see the file comment ("" if nothing)

  bool operator==(const TraceEvent&) const = default;
};

using Trace = std::vector<TraceEvent>;

// "12.000000s main.3 blocked on sleep": time (seconds, 6 decimals, exact integer arithmetic),
// task, kind, detail.
std::string format_event(const TraceEvent& event);
// One format_event() line per event. With `max_lines` below the size, the first lines and a
// "... N more events" line.
std::string format_trace(const Trace& trace, size_t max_lines = SIZE_MAX);
// As format_trace, keeping the last `max_lines` lines (where a failing run failed) after a
// "... N earlier events" line.
std::string format_trace_tail(const Trace& trace, size_t max_lines);
// Seconds with 6 decimals from nanoseconds, exactly ("-0.500000s" for negative values).
std::string format_time_ns(int64_t ns);

// ---- reports: folded traces and cycles ------------------------------------------------------
//
// What a failure report prints. The recorded trace (and its hash) is never changed: these
// functions only choose what to show.

// `trace` without the run's own bookkeeping, which is the same in every run and hides the
// user's tasks in a short report:
//   * every event of the run's init task (task_id 0: the system nursery around the main task);
//   * the main task's spawn by the init task;
//   * a "scheduled" without detail right after the same task's "spawned" (every spawn schedules);
//   * a "scheduled" without detail right before the same task's "yield" (a checkpoint
//     reschedules the task it suspends).
// `*folded` (if given) gets the number of events left out.
Trace fold_trace(const Trace& trace, size_t* folded = nullptr);

// A report's trace: fold_trace, then its last `max_lines` events as format_trace_tail prints
// them, after a line saying how many bookkeeping events were left out (none when nothing was).
std::string format_report_trace(const Trace& trace, size_t max_lines);

// Whether two events are the same but for their time: kind, task, parent and detail, where the
// detail of an idle event ("until <time>") is compared without its time.
bool same_but_time(const TraceEvent& a, const TraceEvent& b);

// A cycle a run is stuck in: the events [start, end) of a trace are `repetitions` turns of the
// same `length` events (same_but_time), the last turn ending at `end`.
struct TraceCycle {
  size_t start = 0;
  size_t end = 0;
  size_t length = 0;
  size_t repetitions = 0;
  int64_t period_ns = 0;  // virtual time from one turn to the next
};
// The shortest repeating suffix of trace[0, end): the period p whose repetition reaches furthest
// back (the shortest such p), if it repeats at least `min_repetitions` times. Periods longer than
// kMaxCycleEvents are not looked for. nullopt: no cycle (the run was not stuck in a loop).
inline constexpr size_t kMaxCycleEvents = 2000;
std::optional<TraceCycle> find_cycle(const Trace& trace, size_t end, size_t min_repetitions = 3);

// A livelock report's trace: the events before the cycle (folded, its last `lead_in_lines`), one
// turn of the cycle (its last, folded), and what happened after `cycle.end` (the budget's
// cancellation and the unwinding, folded), each part under a header line.
std::string format_cycle_report(const Trace& trace, const TraceCycle& cycle,
                                size_t lead_in_lines = 20, size_t max_lines = 60);

// FNV-1a 64-bit hash, incremental. `kFnvOffset` is the hash of nothing.
inline constexpr uint64_t kFnvOffset = 0xcbf29ce484222325ULL;
inline constexpr uint64_t kFnvPrime = 0x100000001b3ULL;
uint64_t fnv1a(uint64_t hash, std::string_view bytes);
// Folds one event into `hash` (fields in a fixed order; integers as 8 little-endian bytes,
// strings with their length first).
uint64_t hash_event(uint64_t hash, const TraceEvent& event);
// The hash of a whole trace (== TraceRecorder::hash() when nothing was dropped).
uint64_t trace_hash(const Trace& trace);
// "0x0123456789abcdef".
std::string format_hash(uint64_t hash);

// An Instrument that records the run as a Trace. Reusable: before_run() starts a new trace.
class TraceRecorder : public Instrument {
 public:
  // The trace keeps at most `max_events` events (a bound on memory for long runs); later events
  // are still hashed and counted, but not stored.
  static constexpr size_t kDefaultMaxEvents = size_t{1} << 20;
  explicit TraceRecorder(size_t max_events = kDefaultMaxEvents) : max_events_(max_events) {}

  // The stored events (the first max_events of the run).
  const Trace& trace() const { return trace_; }
  // The hash of every event of the run, stored or not.
  uint64_t hash() const { return hash_; }
  // Every event of the run, stored or not.
  uint64_t event_count() const { return event_count_; }
  bool truncated() const { return event_count_ > trace_.size(); }
  std::string to_string(size_t max_lines = SIZE_MAX) const {
    return format_trace(trace_, max_lines);
  }

  // Adds a task-less kNote event with `text` at the run's current time (or the last recorded
  // time outside a run), e.g. the outcome of the run.
  void note(std::string text);
  // Forgets everything recorded.
  void clear();

  void before_run() override;
  void task_spawned(lowlevel::TaskRecord& task) override;
  void task_scheduled(lowlevel::TaskRecord& task) override;
  void before_task_step(lowlevel::TaskRecord& task) override;
  void after_task_step(lowlevel::TaskRecord& task) override;
  void task_exited(lowlevel::TaskRecord& task) override;
  void before_io_wait(Duration timeout) override;

 protected:
  // Called for every event, stored or not, after it was hashed. Subclasses (perfetto.h) may
  // look at it; the default does nothing.
  virtual void on_event(const TraceEvent& event) { (void)event; }

 private:
  struct TaskInfo {
    uint64_t id;
    std::string name;
    const char* waiting_on = nullptr;  // the last wait, to name what a wake-up ended
  };
  TaskInfo& info(lowlevel::TaskRecord& task);
  void add(TraceEventKind kind, const TaskInfo* task, std::string detail,
           uint64_t parent_id = kNoTask);
  int64_t now_ns();

  size_t max_events_;
  Trace trace_;
  uint64_t hash_ = kFnvOffset;
  uint64_t event_count_ = 0;
  int64_t last_time_ns_ = 0;
  // Live tasks by record address. Only used to find a task's info during a hook; addresses are
  // never recorded, and an entry is dropped when its task's last step ends.
  std::unordered_map<const lowlevel::TaskRecord*, TaskInfo> tasks_;
};

}  // namespace trio::testing

#endif  // TRIO_TESTING_TRACE_H_
