// SPDX-License-Identifier: Apache-2.0 OR MIT
// TRIO_TEST_F: the fixture is constructed and set up before the run and torn down after it, on
// the test's thread outside any run; the body (inside the run) reads and writes fixture members;
// TEST_F and TRIO_TEST_F share a fixture; the real-clock fixture form runs on the real clock.
#include <gtest/gtest.h>

#include <chrono>
#include <vector>

#include "runtime/trio.h"
#include "simclock/mock_clock.h"
#include "testing/testing.h"

using namespace std::chrono_literals;
using trio::Task;

namespace {

class Counter : public ::testing::Test {
 protected:
  void SetUp() override {
    events_.push_back(trio::lowlevel::in_trio_run() ? "SetUp inside a run" : "SetUp");
    value_ = 10;
  }
  void TearDown() override {
    events_.push_back(trio::lowlevel::in_trio_run() ? "TearDown inside a run" : "TearDown");
    EXPECT_EQ(events_, expected_events_);
    EXPECT_EQ(value_, expected_value_);
  }
  // A fixture helper that is itself async.
  Task<> add_later(int amount) {
    co_await trio::sleep(1s);
    value_ += amount;
  }

  int value_ = 0;
  int expected_value_ = 0;
  std::vector<std::string> events_;
  std::vector<std::string> expected_events_{"SetUp", "body", "TearDown"};
};

}  // namespace

TRIO_TEST_F(Counter, BodyRunsBetweenSetUpAndTearDownAndUsesMembers) {
  events_.push_back(trio::lowlevel::in_trio_run() ? "body" : "body outside a run");
  EXPECT_EQ(value_, 10);
  co_await trio::open_nursery([&](trio::Nursery& n) -> Task<> {
    n.start_soon([this]() { return add_later(1); });
    n.start_soon([this]() { return add_later(2); });
    co_return;
  });
  EXPECT_EQ(trio::current_time(), trio::time_point_from_ns(1'000'000'000));
  expected_value_ = 13;  // TearDown checks it after the run
}

TEST_F(Counter, PlainTestFSharesTheFixture) {
  events_.push_back("body");
  expected_value_ = 10;
}

TRIO_TEST_F_REALTIME(Counter, RealtimeFormRunsOnTheRealClock) {
  events_.push_back("body");
  EXPECT_EQ(dynamic_cast<trio::MockClock*>(&trio::lowlevel::current_clock()), nullptr);
  const trio::TimePoint start = trio::current_time();
  co_await trio::sleep(1ms);
  EXPECT_GE(trio::current_time() - start, 1ms);
  expected_value_ = 10;
}

TRIO_TEST_F_WITH(Counter, OptionsFormTakesTestOptions,
                 {.real_clock = false, .scheduling = trio::SchedulingPolicy::kLifo}) {
  events_.push_back("body");
  std::vector<int> order;
  co_await trio::open_nursery([&](trio::Nursery& n) -> Task<> {
    for (int i = 0; i < 3; ++i) {
      n.start_soon([&order, i]() -> Task<> {
        order.push_back(i);  // in the first batch, which kLifo runs in reverse spawn order
        co_return;
      });
    }
    co_return;
  });
  EXPECT_EQ(order, (std::vector<int>{2, 1, 0}));
  expected_value_ = 10;
}
