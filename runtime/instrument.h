// SPDX-License-Identifier: Apache-2.0 OR MIT
//
// Instruments: tracing hooks into the run loop (Trio's `trio.abc.Instrument`).
//
// Subclass `trio::Instrument` and override the hooks you need; pass instruments in
// `RunOptions::instruments` or add and remove them during a run with
// `trio::lowlevel::add_instrument` / `remove_instrument`. The hooks run on the run's thread, in
// Trio's order (spec §1.18):
//
//   before_run()              first thing in the run, before the clock starts
//   task_spawned(task)        a task joined its nursery (before its first task_scheduled)
//   task_scheduled(task)      a task became runnable (spawn, wake-up, checkpoint, abort)
//   before_task_step(task)    just before a task resumes (it is current)
//   after_task_step(task)     after the step, after any task_scheduled / task_exited it caused
//   task_exited(task)         the task finished (inside its last step)
//   before_io_wait(timeout)   before waiting for I/O; `timeout` is the final wait time
//   after_io_wait(timeout)    after I/O events were processed, before deadlines expire
//   after_run()               last thing in the run
//
// A hook that throws is removed, and the error is reported on stderr; the run goes on.
// The `TaskRecord&` passed to a hook is valid only during the call (and while the task lives).
//
// Example:
//   struct Tracer : trio::Instrument {
//     void before_task_step(trio::lowlevel::TaskRecord& t) override {
//       std::cout << "about to run one step of task: " << t.name() << "\n";
//     }
//   };
//   Tracer tracer;
//   trio::run(trio::RunOptions{.instruments = {&tracer}}, parent);
#ifndef TRIO_RUNTIME_INSTRUMENT_H_
#define TRIO_RUNTIME_INSTRUMENT_H_

#include "runtime/internal/task_record.h"
#include "runtime/time.h"

namespace trio {

namespace lowlevel {
using TaskRecord = internal::TaskRec;
}

class Instrument {
 public:
  virtual ~Instrument() = default;
  virtual void before_run() {}
  virtual void after_run() {}
  virtual void task_spawned(lowlevel::TaskRecord& task) { (void)task; }
  virtual void task_scheduled(lowlevel::TaskRecord& task) { (void)task; }
  virtual void before_task_step(lowlevel::TaskRecord& task) { (void)task; }
  virtual void after_task_step(lowlevel::TaskRecord& task) { (void)task; }
  virtual void task_exited(lowlevel::TaskRecord& task) { (void)task; }
  virtual void before_io_wait(Duration timeout) { (void)timeout; }
  virtual void after_io_wait(Duration timeout) { (void)timeout; }
};

}  // namespace trio

#endif  // TRIO_RUNTIME_INSTRUMENT_H_
