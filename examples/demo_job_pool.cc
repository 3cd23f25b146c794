// SPDX-License-Identifier: Apache-2.0 OR MIT
#include "examples/demo_job_pool.h"

#include <algorithm>
#include <chrono>
#include <stdexcept>
#include <string>

#include "absl/strings/str_cat.h"

namespace examples {

void JobQueue::put(int job) {
  jobs_.push_back(job);
  lot_.unpark();
}

void JobQueue::put_back(int job) {
  jobs_.push_front(job);
  lot_.unpark();
}

trio::Task<int> JobQueue::get() {
  if (!jobs_.empty()) co_await trio::checkpoint();  // a cancel point even when not waiting
  while (jobs_.empty()) co_await lot_.park("JobQueue.get");
  const int job = jobs_.front();
  jobs_.pop_front();
  co_return job;
}

namespace {

// The job's cost, 0.1..40 ms in steps of 0.1 ms, from the run's seed.
std::chrono::microseconds cost() {
  return std::chrono::microseconds(100 * (1 + trio::lowlevel::random_choice(400)));
}

// Writing a log line: a cancel point (it would be I/O).
trio::Task<> write_log(JobPoolStats& stats, int job) {
  stats.log.push_back(absl::StrCat("job ", job, " done"));
  co_await trio::checkpoint();
}

}  // namespace

trio::Task<> worker(JobQueue& queue, JobPoolStats& stats, bool fixed) {
  for (;;) {
    const int job = co_await queue.get();
    try {
      co_await trio::sleep(cost());  // the work
    } catch (const trio::Cancelled&) {
      queue.put_back(job);  // cancelled while working: someone else will do it
      throw;
    }
    if (fixed) {
      stats.done.push_back(job);
      co_await write_log(stats, job);
    } else {
      co_await write_log(stats, job);  // BUG: cancelled here, the job is lost
      stats.done.push_back(job);
    }
  }
}

trio::Task<> job_pool_scenario(ScenarioConfig config) {
  JobQueue queue;
  JobPoolStats stats;
  for (int j = 0; j < config.jobs; ++j) queue.put(j);
  // An operator asks for a graceful shutdown after 20..119 ms: the pool cancels its workers.
  const auto shutdown_after = std::chrono::milliseconds(20 + trio::lowlevel::random_choice(100));
  co_await trio::open_nursery([&](trio::Nursery& n) -> trio::Task<> {
    for (int w = 0; w < config.workers; ++w) {
      n.start_soon(trio::TaskName(absl::StrCat("worker", w + 1)),
                   [&]() -> trio::Task<> { co_await worker(queue, stats, config.fixed); });
    }
    n.start_soon(trio::TaskName("operator"), [&]() -> trio::Task<> {
      co_await trio::sleep(shutdown_after);
      n.cancel_scope().cancel("shutdown");
    });
    co_return;
  });
  std::vector<int> seen = stats.done;
  seen.insert(seen.end(), queue.jobs().begin(), queue.jobs().end());
  std::sort(seen.begin(), seen.end());
  std::vector<int> expected(static_cast<size_t>(config.jobs));
  for (int j = 0; j < config.jobs; ++j) expected[static_cast<size_t>(j)] = j;
  if (seen != expected) {
    throw std::logic_error(absl::StrCat("jobs lost or duplicated: ", config.jobs, " submitted, ",
                                        stats.done.size(), " done + ", queue.jobs().size(),
                                        " queued"));
  }
}

}  // namespace examples
