// SPDX-License-Identifier: Apache-2.0 OR MIT
// The stream conformance suites (testing/check_streams.h) on the in-memory streams, as Trio's
// test_testing.py runs them (memory streams without a clogged maker, lockstep streams as their
// own clogged maker), and on deliberately broken streams, to prove a violation fails the suite
// with a message naming the property. Each run is on MockClock with autojump threshold 0.
#include "testing/check_streams.h"

#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <string>
#include <utility>

#include "io_fake/memory_stream.h"
#include "runtime/errors.h"
#include "runtime/trio.h"
#include "simclock/mock_clock.h"

using trio::Task;
using trio::testing::HalfCloseablePair;
using trio::testing::OneWayPair;
using trio::testing::TwoWayPair;

namespace {

template <class F>
void sim_run(F fn) {
  trio::MockClock clock;
  clock.set_autojump_threshold(std::chrono::seconds(0));
  trio::run(trio::RunOptions{.clock = &clock, .seed = 5}, std::move(fn));
  EXPECT_EQ(trio::lowlevel::live_frames(), 0);
}

Task<OneWayPair> memory_one_way() { co_return trio::testing::memory_stream_one_way_pair(); }
Task<HalfCloseablePair> memory_two_way() { co_return trio::testing::memory_stream_pair(); }
Task<OneWayPair> lockstep_one_way() { co_return trio::testing::lockstep_stream_one_way_pair(); }
Task<TwoWayPair> lockstep_two_way() { co_return trio::testing::lockstep_stream_pair(); }

// A receive half that forgets it was closed: after aclose it returns EOF instead of raising
// ClosedResourceError.
class ForgetfulReceiveStream final : public trio::ReceiveStream {
 public:
  explicit ForgetfulReceiveStream(std::unique_ptr<trio::ReceiveStream> inner)
      : inner_(std::move(inner)) {}
  Task<> aclose() override {
    closed_ = true;
    co_await inner_->aclose();
  }

 protected:
  Task<size_t> receive_some_impl(trio::MutableBytes buffer) override {
    if (closed_) {
      co_await trio::checkpoint();
      co_await trio::checkpoint();
      co_return 0;
    }
    co_return co_await inner_->receive_some(buffer);
  }

 private:
  std::unique_ptr<trio::ReceiveStream> inner_;
  bool closed_ = false;
};

// A send half whose send_all of no bytes returns at once: not a checkpoint.
class LazySendStream final : public trio::SendStream {
 public:
  explicit LazySendStream(std::unique_ptr<trio::SendStream> inner) : inner_(std::move(inner)) {}
  Task<> send_all(trio::ConstBytes data) override {
    if (data.empty()) co_return;
    co_await inner_->send_all(data);
  }
  Task<> wait_send_all_might_not_block() override {
    co_await inner_->wait_send_all_might_not_block();
  }
  Task<> aclose() override { co_await inner_->aclose(); }

 private:
  std::unique_ptr<trio::SendStream> inner_;
};

Task<OneWayPair> forgetful_one_way() {
  auto [s, r] = trio::testing::memory_stream_one_way_pair();
  co_return OneWayPair(std::move(s), std::make_unique<ForgetfulReceiveStream>(std::move(r)));
}

Task<OneWayPair> lazy_one_way() {
  auto [s, r] = trio::testing::memory_stream_one_way_pair();
  co_return OneWayPair(std::make_unique<LazySendStream>(std::move(s)), std::move(r));
}

// Runs the one-way suite over `maker` and returns the failure message ("" if it passed).
std::string one_way_failure(trio::testing::OneWayStreamMaker maker) {
  std::string message;
  sim_run([&]() -> Task<> {
    try {
      co_await trio::testing::check_one_way_stream(maker, nullptr);
    } catch (const trio::testing::StreamCheckFailure& e) {
      message = e.what();
    }
  });
  return message;
}

}  // namespace

TEST(CheckStreams, MemoryOneWayPairPassesTheOneWaySuite) {
  sim_run(
      []() -> Task<> { co_await trio::testing::check_one_way_stream(memory_one_way, nullptr); });
}

TEST(CheckStreams, MemoryStreamPairPassesTheHalfCloseableSuite) {
  sim_run([]() -> Task<> {
    co_await trio::testing::check_half_closeable_stream(memory_two_way, nullptr);
  });
}

TEST(CheckStreams, LockstepOneWayPairPassesTheOneWaySuiteAsItsOwnCloggedStream) {
  sim_run([]() -> Task<> {
    co_await trio::testing::check_one_way_stream(lockstep_one_way, lockstep_one_way);
  });
}

TEST(CheckStreams, LockstepStreamPairPassesTheTwoWaySuiteAsItsOwnCloggedStream) {
  sim_run([]() -> Task<> {
    co_await trio::testing::check_two_way_stream(lockstep_two_way, lockstep_two_way);
  });
}

TEST(CheckStreams, AReceiverThatIgnoresCloseFailsNamingThatProperty) {
  const std::string message = one_way_failure(forgetful_one_way);
  EXPECT_EQ(message,
            "check_one_way_stream: receive_some on a closed receiver raises "
            "ClosedResourceError: it raised nothing");
}

TEST(CheckStreams, AnEmptySendThatIsNotACheckpointFailsNamingThatProperty) {
  const std::string message = one_way_failure(lazy_one_way);
  EXPECT_EQ(message,
            "check_one_way_stream: send_all is a checkpoint: it returned without yielding");
}
