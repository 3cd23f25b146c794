// SPDX-License-Identifier: Apache-2.0 OR MIT
// Smoke test: a run with a nursery, a timeout and a start() handshake completes on a MockClock.
#include <gtest/gtest.h>

#include "runtime/trio.h"
#include "simclock/mock_clock.h"

using namespace std::chrono_literals;

TEST(Smoke, NurseryTimeoutAndStart) {
  trio::MockClock clock;
  clock.set_autojump_threshold(0s);
  int r = trio::run(trio::RunOptions{.clock = &clock, .seed = 1}, []() -> trio::Task<int> {
    co_await trio::open_nursery([&](trio::Nursery& n) -> trio::Task<> {
      n.start_soon([]() -> trio::Task<> { co_await trio::sleep(1s); });
      co_return;
    });
    EXPECT_EQ(trio::current_time(), trio::time_point_from_ns(1000000000));
    bool moved =
        co_await trio::move_on_after(5s, [&]() -> trio::Task<> { co_await trio::sleep_forever(); });
    EXPECT_TRUE(moved);
    co_return 7;
  });
  EXPECT_EQ(r, 7);
  EXPECT_EQ(trio::lowlevel::live_frames(), 0);
}
