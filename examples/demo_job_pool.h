// SPDX-License-Identifier: Apache-2.0 OR MIT
//
// The main demo (`./bazelw run //examples:demo`): a small job pool with a cancellation bug, and
// the testing layer finding it.
//
// A JobQueue (a deque plus a trio::lowlevel::ParkingLot) feeds a pool of workers. Each worker
// takes a job, works on it (a sleep), writes a log line, and records the job as done. The pool
// shuts down gracefully: after a deadline it cancels its workers, and every job that was not
// done must still be in the queue for the next start. A worker cancelled while working puts its
// job back.
//
// The bug: the buggy worker writes its log line (a cancel point) *between* finishing the job and
// recording it. A shutdown that lands exactly there — the job finished at the very instant of the
// shutdown — loses the job: it is in neither the queue nor the done list. The fixed worker
// records the job before the log line.
//
// job_pool_scenario() is one simulated run: jobs with random costs, a shutdown at a random time
// (both drawn from the run's seed), then the invariant "submitted == done + queued, each job
// once". The seed sweep and the cancellation exploration both find the bug.
#ifndef TRIO_EXAMPLES_DEMO_JOB_POOL_H_
#define TRIO_EXAMPLES_DEMO_JOB_POOL_H_

#include <cstddef>
#include <deque>
#include <string>
#include <vector>

#include "runtime/trio.h"

namespace examples {

// A FIFO of job ids; get() waits while it is empty.
class JobQueue {
 public:
  void put(int job);
  // Puts a job back at the front (it is retried first).
  void put_back(int job);
  // Takes the oldest job, waiting for one. A cancel point.
  trio::Task<int> get();
  const std::deque<int>& jobs() const { return jobs_; }

 private:
  std::deque<int> jobs_;
  trio::lowlevel::ParkingLot lot_;
};

struct JobPoolStats {
  std::vector<int> done;  // jobs recorded as done, in order
  std::vector<std::string> log;
};

// One worker: takes jobs until cancelled. `fixed` selects the version.
trio::Task<> worker(JobQueue& queue, JobPoolStats& stats, bool fixed);

struct ScenarioConfig {
  bool fixed = false;
  int workers = 3;
  int jobs = 12;
};

// One simulated run (see the file comment). Raises std::logic_error when a job was lost or
// done twice.
trio::Task<> job_pool_scenario(ScenarioConfig config);

}  // namespace examples

#endif  // TRIO_EXAMPLES_DEMO_JOB_POOL_H_
