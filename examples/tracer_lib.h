// SPDX-License-Identifier: Apache-2.0 OR MIT
//
// The Tracer instrument of Trio's tutorial ("Task switching illustrated"): it prints every step
// of the run loop, so you can watch trio::run switch between tasks.
//
//   examples::Tracer tracer(std::cout);
//   trio::run(trio::RunOptions{.instruments = {&tracer}}, examples::parent, std::ref(std::cout));
//
// prints, among other lines:
//
//   !!! run started
//   ### new task spawned: <init>
//   ### task scheduled: <init>
//   ### doing a quick check for I/O
//   ### finished I/O check (took 1.3e-05 seconds)
//   >>> about to run one step of task: <init>
//   ...
//   >>> about to run one step of task: main
//   parent: started!
//   ...
//   ### waiting for I/O for up to 0.999875 seconds
//   ### finished I/O check (took 1.000129 seconds)
//   ### task scheduled: child1
//   ...
//   !!! run finished
//
// Durations are printed as Python prints a float (shortest round-trip form), so the lines read
// like the tutorial's. Differences from Trio's trace: the main task is called "main" (Trio:
// "__main__.parent") and the children "child1"/"child2" (Trio: "__main__.child1"); trio-cpp has
// no "<TrioToken.run_sync_soon task>" system task (cross-thread calls are drained by the run
// loop itself), so neither its steps nor the extra wake-ups of <init> it causes appear.
#ifndef TRIO_EXAMPLES_TRACER_LIB_H_
#define TRIO_EXAMPLES_TRACER_LIB_H_

#include <ostream>
#include <string>

#include "runtime/trio.h"

namespace examples {

// Formats a duration in seconds as Python's repr(float) does: "1.0", "0.5", "1.5e-05", "inf".
std::string format_seconds(trio::Duration duration);

// [START tracer]
class Tracer final : public trio::Instrument {
 public:
  explicit Tracer(std::ostream& out) : out_(out) {}

  void before_run() override { out_ << "!!! run started\n"; }

  void task_spawned(trio::lowlevel::TaskRecord& task) override {
    print_with_task("### new task spawned", task);
  }
  void task_scheduled(trio::lowlevel::TaskRecord& task) override {
    print_with_task("### task scheduled", task);
  }
  void before_task_step(trio::lowlevel::TaskRecord& task) override {
    print_with_task(">>> about to run one step of task", task);
  }
  void after_task_step(trio::lowlevel::TaskRecord& task) override {
    print_with_task("<<< task step finished", task);
  }
  void task_exited(trio::lowlevel::TaskRecord& task) override {
    print_with_task("### task exited", task);
  }

  void before_io_wait(trio::Duration timeout) override {
    if (timeout > trio::Duration(0)) {
      out_ << "### waiting for I/O for up to " << format_seconds(timeout) << " seconds\n";
    } else {
      out_ << "### doing a quick check for I/O\n";
    }
    sleep_time_ = trio::current_time();
  }
  void after_io_wait(trio::Duration /*timeout*/) override {
    const trio::Duration duration = trio::current_time() - sleep_time_;
    out_ << "### finished I/O check (took " << format_seconds(duration) << " seconds)\n";
  }

  void after_run() override { out_ << "!!! run finished\n"; }

 private:
  void print_with_task(const char* message, trio::lowlevel::TaskRecord& task) {
    out_ << message << ": " << trio::lowlevel::task_name(task) << "\n";
  }

  std::ostream& out_;
  trio::TimePoint sleep_time_{};
};
// [END tracer]

}  // namespace examples

#endif  // TRIO_EXAMPLES_TRACER_LIB_H_
