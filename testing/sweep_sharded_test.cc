// SPDX-License-Identifier: Apache-2.0 OR MIT
// A seed sweep split across Bazel test shards (shard_count = 4): 2,000 seeds of a correct
// scenario (three workers sharing a queue under a timeout), a quarter per shard.
#include <gtest/gtest.h>

#include <cstdlib>
#include <deque>
#include <stdexcept>

#include "runtime/trio.h"
#include "testing/sweep.h"

namespace {

using namespace std::chrono_literals;

trio::Task<> workers_drain_a_queue() {
  std::deque<int> queue{1, 2, 3, 4, 5, 6, 7, 8};
  int done = 0;
  co_await trio::move_on_after(30ms, [&]() -> trio::Task<> {
    co_await trio::open_nursery([&](trio::Nursery& n) -> trio::Task<> {
      for (int w = 0; w < 3; ++w) {
        n.start_soon([&]() -> trio::Task<> {
          while (!queue.empty()) {
            const int job = queue.front();
            queue.pop_front();
            try {
              co_await trio::sleep(std::chrono::milliseconds(job * 2));
            } catch (const trio::Cancelled&) {
              queue.push_front(job);
              throw;
            }
            ++done;
          }
        });
      }
      co_return;
    });
  });
  if (done + static_cast<int>(queue.size()) != 8) throw std::logic_error("a job was lost");
}

// [START sweep_use]
TEST(ShardedSweep, WorkersNeverLoseAJobOver2000Seeds) {
  auto report = trio::testing::sweep(workers_drain_a_queue, {.seeds = 2000});
  EXPECT_TRUE(report.ok()) << report.to_string();
  // [END sweep_use]
  if (std::getenv("TRIO_SWEEP_SEED") != nullptr) return;  // reproducing one seed
  const char* shards = std::getenv("TEST_TOTAL_SHARDS");
  const uint64_t total = shards != nullptr ? std::strtoull(shards, nullptr, 10) : 1;
  EXPECT_EQ(report.total_shards, total);
  EXPECT_EQ(report.seeds_run, 2000 / total);
}

}  // namespace
