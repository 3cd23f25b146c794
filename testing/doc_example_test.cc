// SPDX-License-Identifier: Apache-2.0 OR MIT
// The code of docs/testing.md, compiled and run: each "// [START name]" region is a snippet of
// the guide (//testing:doc_snippets_test checks that the doc and these regions are identical).
// A retrying fetcher with per-attempt timeouts is tested in virtual time, with a fixture, a
// Sequencer, the checkpoint assertions and the exception matchers.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <stdexcept>
#include <string>
#include <vector>

#include "runtime/trio.h"
#include "testing/testing.h"

using namespace std::chrono_literals;

// [START first_test]
TRIO_TEST(Timeouts, MoveOnAfterCancelsASleeper) {
  bool moved_on = co_await trio::move_on_after(5s, [&]() -> trio::Task<> {
    co_await trio::sleep(1h);  // virtual time: returns at once
  });
  EXPECT_TRUE(moved_on);
  EXPECT_EQ(trio::current_time(), trio::time_point_from_ns(5'000'000'000));
}
// [END first_test]

// [START component]
// The code under test: calls `attempt` up to `tries` times, giving each call `timeout`, and
// returns the first result. Raises TooSlowError when every attempt timed out.
trio::Task<std::string> fetch_with_retry(std::function<trio::Task<std::string>()> attempt,
                                         int tries, trio::Duration timeout) {
  co_await trio::checkpoint();  // async functions checkpoint on every path (Trio's rule)
  for (int i = 0; i < tries; ++i) {
    std::optional<std::string> result = co_await trio::move_on_after(
        timeout, [&]() -> trio::Task<std::string> { co_return co_await attempt(); });
    if (result) co_return *result;
  }
  throw trio::TooSlowError("all " + std::to_string(tries) + " attempts timed out");
}
// [END component]

// [START fixture]
class FetchTest : public ::testing::Test {
 protected:
  // A fake server: the first `slow_calls` calls hang, later ones answer after 10 ms.
  trio::Task<std::string> server() {
    ++calls_;
    if (calls_ <= slow_calls_) co_await trio::sleep_forever();
    co_await trio::sleep(10ms);
    co_return "reply " + std::to_string(calls_);
  }
  std::function<trio::Task<std::string>()> attempt() {
    return [this] { return server(); };
  }

  int calls_ = 0;
  int slow_calls_ = 2;
};

TRIO_TEST_F(FetchTest, RetriesUntilAnAttemptAnswers) {
  std::string reply = co_await fetch_with_retry(attempt(), 5, 1s);
  EXPECT_EQ(reply, "reply 3");
  EXPECT_EQ(calls_, 3);
  // Two timeouts of 1 s, then a 10 ms answer: exact, because the clock is virtual.
  EXPECT_EQ(trio::current_time(), trio::time_point_from_ns(2'010'000'000));
}
// [END fixture]

// [START matchers]
using ::testing::HasSubstr;
using trio::testing::capture_exception;
using trio::testing::HoldsException;
using trio::testing::IsExceptionGroup;

TRIO_TEST_F(FetchTest, GivesUpWithTooSlowError) {
  slow_calls_ = 100;
  std::exception_ptr error = co_await capture_exception(fetch_with_retry(attempt(), 3, 1s));
  EXPECT_THAT(error, HoldsException<trio::TooSlowError>("all 3 attempts timed out"));
}

// Two fetches in a nursery: the first TooSlowError cancels the other fetch, and the nursery
// raises a group holding that one error (the other's Cancelled is not reported).
TRIO_TEST_F(FetchTest, FailureOfAConcurrentFetchComesInAGroup) {
  slow_calls_ = 100;
  std::exception_ptr error = co_await capture_exception([&]() -> trio::Task<> {
    co_await trio::open_nursery([&](trio::Nursery& n) -> trio::Task<> {
      for (int i = 0; i < 2; ++i) {
        n.start_soon([this]() -> trio::Task<> { co_await fetch_with_retry(attempt(), 2, 1s); });
      }
      co_return;
    });
  });
  EXPECT_THAT(error, IsExceptionGroup(::testing::ElementsAre(
                         HoldsException<trio::TooSlowError>(HasSubstr("timed out")))));
}
// [END matchers]

// [START sequencer]
TRIO_TEST(Sequencer, ForcesAnInterleaving) {
  trio::testing::Sequencer seq;
  std::vector<std::string> log;
  co_await trio::open_nursery([&](trio::Nursery& n) -> trio::Task<> {
    n.start_soon([&]() -> trio::Task<> {
      co_await seq.run(1, [&]() -> trio::Task<> {
        log.push_back("B runs second");
        co_return;
      });
    });
    n.start_soon([&]() -> trio::Task<> {
      co_await seq.run(0, [&]() -> trio::Task<> {
        log.push_back("A runs first");
        co_return;
      });
      co_await seq.run(2, [&]() -> trio::Task<> {
        log.push_back("A runs third");
        co_return;
      });
    });
    co_return;
  });
  EXPECT_THAT(log, ::testing::ElementsAre("A runs first", "B runs second", "A runs third"));
}
// [END sequencer]

// [START checkpoints]
TRIO_TEST(Checkpoints, FetchIsACheckpointEvenWhenTheAnswerIsImmediate) {
  co_await trio::testing::assert_checkpoints([&]() -> trio::Task<> {
    co_await fetch_with_retry([]() -> trio::Task<std::string> { co_return "at once"; }, 1, 1s);
  });
  co_await trio::open_nursery([&](trio::Nursery& n) -> trio::Task<> {
    co_await trio::testing::assert_no_checkpoints([&]() -> trio::Task<> {
      n.start_soon([]() -> trio::Task<> { co_await trio::sleep(1s); });
      co_return;
    });
  });
}
// [END checkpoints]
