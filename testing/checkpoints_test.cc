// SPDX-License-Identifier: Apache-2.0 OR MIT
// assert_checkpoints / assert_no_checkpoints (Trio's test_checkpoints.py, rewritten) and
// wait_all_tasks_blocked (Trio's test_wait_all_tasks_blocked). A full checkpoint satisfies
// assert_checkpoints; nothing, checkpoint_if_cancelled alone and cancel_shielded_checkpoint alone
// fail it (both counters must move); both together pass; a raising body is not checked.
// assert_no_checkpoints fails on any of them, also when the body raises. Failures are gtest
// non-fatal failures at the caller's line with Trio's message, captured and inspected here.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <stdexcept>
#include <string>
#include <vector>

#include "runtime/trio.h"
#include "testing/failure_capture.h"
#include "testing/testing.h"

using namespace std::chrono_literals;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::TestPartResult;
using trio::Task;
using trio::testing::assert_checkpoints;
using trio::testing::assert_no_checkpoints;
using trio::testing::capture_exception;
using trio::testing::FailureCapture;
using trio::testing::HoldsException;
using trio::testing::messages;

namespace {

Task<> partial_cancel_point() { co_await trio::checkpoint_if_cancelled(); }
Task<> partial_schedule_point() { co_await trio::cancel_shielded_checkpoint(); }
Task<> full_checkpoint() { co_await trio::sleep(0s); }
Task<> both_partials() {
  co_await trio::checkpoint_if_cancelled();
  co_await trio::cancel_shielded_checkpoint();
}
Task<> nothing() { co_return; }

using Block = Task<> (*)();

// The failures assert_checkpoints(block) reports, and the line of the call.
Task<std::vector<TestPartResult>> checkpoints_failures(Block block, int* line) {
  FailureCapture capture;
  *line = __LINE__ + 1;
  co_await assert_checkpoints([&]() -> Task<> { co_await block(); });
  co_return capture.stop();
}

Task<std::vector<TestPartResult>> no_checkpoints_failures(Block block) {
  FailureCapture capture;
  co_await assert_no_checkpoints([&]() -> Task<> { co_await block(); });
  co_return capture.stop();
}

}  // namespace

// ---- assert_checkpoints -----------------------------------------------------------------------

TRIO_TEST(AssertCheckpoints, PassesOnAFullCheckpoint) {
  int line = 0;
  EXPECT_THAT(co_await checkpoints_failures(full_checkpoint, &line), ::testing::IsEmpty());
  EXPECT_THAT(co_await checkpoints_failures(both_partials, &line), ::testing::IsEmpty());
}

TRIO_TEST(AssertCheckpoints, FailsAtTheCallersLineWhenTheBlockDoesNotYield) {
  int line = 0;
  std::vector<TestPartResult> failures = co_await checkpoints_failures(nothing, &line);
  CO_ASSERT_EQ(failures.size(), 1u);
  EXPECT_FALSE(failures[0].fatally_failed());
  EXPECT_THAT(failures[0].message(),
              HasSubstr("assert_checkpoints block did not yield! (cancel points: +0, "
                        "schedule points: +0)"));
  EXPECT_STREQ(failures[0].file_name(), __FILE__);
  EXPECT_EQ(failures[0].line_number(), line);
}

TRIO_TEST(AssertCheckpoints, CheckpointIfCancelledAloneIsNotACheckpoint) {
  int line = 0;
  std::vector<TestPartResult> failures = co_await checkpoints_failures(partial_cancel_point, &line);
  CO_ASSERT_EQ(failures.size(), 1u);
  EXPECT_THAT(failures[0].message(), HasSubstr("(cancel points: +1, schedule points: +0)"));
}

TRIO_TEST(AssertCheckpoints, CancelShieldedCheckpointAloneIsNotACheckpoint) {
  int line = 0;
  std::vector<TestPartResult> failures =
      co_await checkpoints_failures(partial_schedule_point, &line);
  CO_ASSERT_EQ(failures.size(), 1u);
  EXPECT_THAT(failures[0].message(), HasSubstr("(cancel points: +0, schedule points: +1)"));
}

TRIO_TEST(AssertCheckpoints, RaisingBlockIsNotCheckedAndItsErrorPropagates) {
  FailureCapture capture;
  std::exception_ptr e = co_await capture_exception(assert_checkpoints([&]() -> Task<> {
    throw std::runtime_error("raised before yielding");
    co_return;
  }));
  EXPECT_THAT(capture.stop(), ::testing::IsEmpty());
  EXPECT_THAT(e, HoldsException<std::runtime_error>("raised before yielding"));
}

TRIO_TEST(AssertCheckpoints, PassesTheBodysValueThrough) {
  int v = co_await assert_checkpoints([&]() -> Task<int> {
    co_await trio::checkpoint();
    co_return 42;
  });
  EXPECT_EQ(v, 42);
}

// ---- assert_no_checkpoints --------------------------------------------------------------------

TRIO_TEST(AssertNoCheckpoints, PassesOnASynchronousBlock) {
  EXPECT_THAT(co_await no_checkpoints_failures(nothing), ::testing::IsEmpty());
  int v = co_await assert_no_checkpoints([&]() -> Task<int> { co_return 5; });
  EXPECT_EQ(v, 5);
}

TRIO_TEST(AssertNoCheckpoints, FailsOnAnyKindOfYield) {
  for (Block block :
       {full_checkpoint, partial_cancel_point, partial_schedule_point, both_partials}) {
    EXPECT_THAT(messages(co_await no_checkpoints_failures(block)),
                ElementsAre(HasSubstr("assert_no_checkpoints block yielded!")));
  }
}

TRIO_TEST(AssertNoCheckpoints, ChecksEvenWhenTheBlockRaises) {
  FailureCapture capture;
  std::exception_ptr e = co_await capture_exception(assert_no_checkpoints([&]() -> Task<> {
    co_await trio::checkpoint();
    throw std::runtime_error("raised after yielding");
  }));
  EXPECT_THAT(messages(capture.stop()),
              ElementsAre(HasSubstr("assert_no_checkpoints block yielded!")));
  EXPECT_THAT(e, HoldsException<std::runtime_error>("raised after yielding"));
}

// ---- wait_all_tasks_blocked --------------------------------------------------------------------

TRIO_TEST(WaitAllTasksBlocked, WakesWhenEveryOtherTaskIsBlocked) {
  std::vector<std::string> record;
  co_await trio::open_nursery([&](trio::Nursery& n) -> Task<> {
    n.start_soon([&]() -> Task<> {
      for (int i = 0; i < 10; ++i) co_await trio::checkpoint();
      record.push_back("busy bee exhausted");
    });
    for (int i = 0; i < 2; ++i) {
      n.start_soon([&]() -> Task<> {
        co_await trio::testing::wait_all_tasks_blocked();
        record.push_back("quiet at last!");
      });
    }
    co_return;
  });
  EXPECT_THAT(record, ElementsAre("busy bee exhausted", "quiet at last!", "quiet at last!"));
}

TRIO_TEST(WaitAllTasksBlocked, IsCancellable) {
  std::vector<std::string> record;
  co_await trio::open_nursery([&](trio::Nursery& n) -> Task<> {
    n.start_soon([&]() -> Task<> {
      try {
        co_await trio::testing::wait_all_tasks_blocked();
      } catch (const trio::Cancelled&) {
        record.push_back("ok");
        throw;
      }
    });
    n.cancel_scope().cancel();
    co_return;
  });
  EXPECT_THAT(record, ElementsAre("ok"));
}

TRIO_TEST(WaitAllTasksBlocked, TakesPriorityOverAutojumpAndAcceptsAnyDuration) {
  std::vector<std::string> record;
  co_await trio::open_nursery([&](trio::Nursery& n) -> Task<> {
    n.start_soon([&]() -> Task<> {
      co_await trio::sleep(1s);
      record.push_back("slept");
    });
    co_await trio::testing::wait_all_tasks_blocked(std::chrono::microseconds(100));
    record.push_back("blocked");  // before the clock jumped to the sleeper's deadline
    EXPECT_EQ(trio::current_time(), trio::time_point_from_ns(0));
  });
  EXPECT_THAT(record, ElementsAre("blocked", "slept"));
  std::exception_ptr e = co_await capture_exception(trio::testing::wait_all_tasks_blocked(-1s));
  EXPECT_THAT(e, HoldsException<trio::ValueError>());
}
