// SPDX-License-Identifier: Apache-2.0 OR MIT
//
// Schedule exploration: the scheduling policies of the testing layer in one enum, and a
// PCT-style scheduler (Burckhardt, Kothari, Musuvathi, Nagarakatte: "A Randomized Scheduler with
// Probabilistic Guarantees of Finding Bugs", ASPLOS 2010) adapted to Trio's batches.
//
// PCT. Each task gets a priority when the scheduler first sees it in a batch; every batch then
// runs in priority order (highest first). At `depth - 1` change points — step numbers drawn at
// the start of the run — the task about to take that step has its priority dropped below every
// other task's. A bug that needs d ordering constraints to show is found by one run with
// probability at least 1 / (n * k^(d-1)) for n tasks and k steps, instead of depending on a long
// run of lucky coin flips. Unlike the original (which runs only the highest-priority task), the
// whole batch still runs — Trio's rule that every runnable task runs once per batch is kept — so
// priorities decide the order inside batches, and change points move a task to the back.
//
// Every decision is drawn from the run's ChoiceSource, so PCT runs are recorded, replayed and
// shrunk like any other (choices.h). Tasks are identified by TaskRecord::counter (spawn order),
// never by address. Drawn, in order: at the start of the run `depth - 1` change points
// (kUser, n = max_steps + 1: the step number, 0 = no change point), then for each task on first
// sight its rank (kUser, n = tasks ranked so far + 1: 0 = below every ranked task, so all-zero
// choices give the FIFO order).
//
//   trio::testing::RecordingChoiceSource choices(seed);
//   trio::testing::ScheduleSetup setup(trio::testing::Schedule::kPct, choices, {.depth = 3});
//   trio::RunOptions options{.clock = &clock, .choices = &choices};
//   setup.apply(options);   // scheduling = kCustom, batch_orderer and instrument = the PCT
//   scheduler trio::run(options, body);
#ifndef TRIO_TESTING_PCT_H_
#define TRIO_TESTING_PCT_H_

#include <cstdint>
#include <memory>
#include <vector>

#include "runtime/choice.h"
#include "runtime/instrument.h"
#include "runtime/run_options.h"

namespace trio::testing {

struct PctOptions {
  // The bug depth d: d - 1 priority change points per run.
  int depth = 3;
  // Change points are drawn among the first max_steps task steps (an estimate of a run's
  // length: too small explores only the start, too large wastes change points after the end).
  uint64_t max_steps = 100;
  bool operator==(const PctOptions&) const = default;
};

// A BatchOrderer (for SchedulingPolicy::kCustom) and an Instrument (counts steps, applies the
// change points). Install it as both; reusable across runs (before_run resets it).
class PctScheduler final : public BatchOrderer, public Instrument {
 public:
  PctScheduler(ChoiceSource& choices, PctOptions options = {})
      : choices_(choices), options_(options) {}

  void order_batch(std::vector<::trio::internal::TaskRec*>& batch) override;
  void before_run() override;
  void before_task_step(lowlevel::TaskRecord& task) override;

  // The change points of the current run (step numbers, 1-based; 0 = unused), and how many
  // steps ran so far.
  const std::vector<uint64_t>& change_points() const { return change_points_; }
  uint64_t steps() const { return steps_; }

 private:
  // Ranks tasks it has not seen yet, in the batch's order.
  void rank(uint64_t counter);
  size_t position(uint64_t counter) const;

  ChoiceSource& choices_;
  PctOptions options_;
  std::vector<uint64_t> change_points_;
  uint64_t steps_ = 0;
  // Task counters by decreasing priority: [0, normal_) never demoted, then demoted ones (each
  // demotion appends: lower than everything before).
  std::vector<uint64_t> order_;
  size_t normal_ = 0;
};

// The scheduling policies of the testing layer.
enum class Schedule : uint8_t {
  kFifo,      // SchedulingPolicy::kFifo: no choices at all
  kCoinFlip,  // Trio's: each batch FIFO or reversed
  kShuffle,   // a random permutation of each batch
  kPct,       // PctScheduler
  kLifo,      // SchedulingPolicy::kLifo: every batch reversed, no choices
};
const char* schedule_name(Schedule schedule);

// Configures RunOptions for a Schedule (owns the PctScheduler when there is one). Must outlive
// the run.
class ScheduleSetup {
 public:
  ScheduleSetup(Schedule schedule, ChoiceSource& choices, PctOptions pct = {});
  // Sets options.scheduling, .choices and, for kPct, .batch_orderer and an instrument.
  void apply(RunOptions& options);
  PctScheduler* pct() { return pct_.get(); }

 private:
  Schedule schedule_;
  ChoiceSource& choices_;
  std::unique_ptr<PctScheduler> pct_;
};

}  // namespace trio::testing

#endif  // TRIO_TESTING_PCT_H_
