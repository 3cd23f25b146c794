// SPDX-License-Identifier: Apache-2.0 OR MIT
// StapledStream (spec §1.9; Trio's test_highlevel_generic.py): every method goes to the right
// half, send_eof prefers the send half's send_eof and falls back to its aclose, and aclose
// closes both halves even when the first close raises. Recording fake halves on MockClock.
#include "runtime/net/stapled_stream.h"

#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "runtime/errors.h"
#include "runtime/trio.h"
#include "simclock/mock_clock.h"

using trio::Task;

namespace {

template <class F>
void sim_run(F fn) {
  trio::MockClock clock;
  clock.set_autojump_threshold(std::chrono::seconds(0));
  trio::run(trio::RunOptions{.clock = &clock, .seed = 1}, std::move(fn));
  EXPECT_EQ(trio::lowlevel::live_frames(), 0);
}

using Record = std::vector<std::string>;

class RecordSendStream : public trio::SendStream {
 public:
  explicit RecordSendStream(Record* record, bool fail_close = false)
      : record_(record), fail_close_(fail_close) {}
  Task<> send_all(trio::ConstBytes data) override {
    record_->push_back("send_all " + std::string(data.as_string_view()));
    co_return;
  }
  Task<> wait_send_all_might_not_block() override {
    record_->push_back("wait_send_all_might_not_block");
    co_return;
  }
  Task<> aclose() override {
    record_->push_back("aclose");
    if (fail_close_) throw trio::ValueError("send close failed");
    co_return;
  }

 private:
  Record* record_;
  bool fail_close_;
};

// A send half that can half-close.
class RecordHalfCloseable : public trio::HalfCloseableStream {
 public:
  explicit RecordHalfCloseable(Record* record) : record_(record) {}
  Task<> send_all(trio::ConstBytes) override { co_return; }
  Task<> wait_send_all_might_not_block() override { co_return; }
  Task<> send_eof() override {
    record_->push_back("send_eof");
    co_return;
  }
  Task<> aclose() override {
    record_->push_back("aclose");
    co_return;
  }

 protected:
  Task<size_t> receive_some_impl(trio::MutableBytes) override { co_return 0; }

 private:
  Record* record_;
};

class RecordReceiveStream : public trio::ReceiveStream {
 public:
  explicit RecordReceiveStream(Record* record, bool fail_close = false)
      : record_(record), fail_close_(fail_close) {}
  Task<> aclose() override {
    record_->push_back("aclose");
    if (fail_close_) throw trio::ValueError("receive close failed");
    co_return;
  }

 protected:
  Task<size_t> receive_some_impl(trio::MutableBytes buffer) override {
    record_->push_back("receive_some " + std::to_string(buffer.size()));
    buffer.data()[0] = std::byte{'x'};
    co_return 1;
  }

 private:
  Record* record_;
  bool fail_close_;
};

}  // namespace

TEST(StapledStream, DelegatesEachMethodToItsHalf) {
  sim_run([]() -> Task<> {
    Record sends, receives;
    auto send = std::make_unique<RecordSendStream>(&sends);
    auto receive = std::make_unique<RecordReceiveStream>(&receives);
    trio::SendStream* send_ptr = send.get();
    trio::ReceiveStream* receive_ptr = receive.get();
    trio::StapledStream stapled(std::move(send), std::move(receive));
    EXPECT_EQ(&stapled.send_stream(), send_ptr);
    EXPECT_EQ(&stapled.receive_stream(), receive_ptr);

    co_await stapled.send_all("foo");
    co_await stapled.wait_send_all_might_not_block();
    EXPECT_EQ(sends, (Record{"send_all foo", "wait_send_all_might_not_block"}));
    sends.clear();

    std::string got = co_await stapled.receive_some(1234);
    EXPECT_EQ(got, "x");
    EXPECT_EQ(receives, (Record{"receive_some 1234"}));
    EXPECT_TRUE(sends.empty());
    receives.clear();

    co_await stapled.aclose();
    EXPECT_EQ(sends, (Record{"aclose"}));
    EXPECT_EQ(receives, (Record{"aclose"}));
  });
}

TEST(StapledStream, SendEofClosesASendHalfThatCannotHalfClose) {
  sim_run([]() -> Task<> {
    Record sends, receives;
    trio::StapledStream stapled(std::make_unique<RecordSendStream>(&sends),
                                std::make_unique<RecordReceiveStream>(&receives));
    co_await stapled.send_eof();
    EXPECT_EQ(sends, (Record{"aclose"}));
    EXPECT_TRUE(receives.empty());
  });
}

TEST(StapledStream, SendEofCallsTheSendHalfsSendEofWhenItHasOne) {
  sim_run([]() -> Task<> {
    Record sends, receives;
    trio::StapledStream stapled(std::make_unique<RecordHalfCloseable>(&sends),
                                std::make_unique<RecordReceiveStream>(&receives));
    co_await stapled.send_eof();
    EXPECT_EQ(sends, (Record{"send_eof"}));
  });
}

TEST(StapledStream, AcloseClosesBothHalvesWhenBothCloseRaise) {
  sim_run([]() -> Task<> {
    Record sends, receives;
    trio::StapledStream stapled(std::make_unique<RecordSendStream>(&sends, true),
                                std::make_unique<RecordReceiveStream>(&receives, true));
    // As in Python's try/finally, the receive half's error is the one that propagates.
    try {
      co_await stapled.aclose();
      ADD_FAILURE() << "aclose did not raise";
    } catch (const trio::ValueError& e) {
      EXPECT_STREQ(e.what(), "receive close failed");
    }
    EXPECT_EQ(sends, (Record{"aclose"}));
    EXPECT_EQ(receives, (Record{"aclose"}));
  });
}

TEST(StapledStream, AcloseClosesTheReceiveHalfAndRaisesWhenOnlyTheSendCloseRaises) {
  sim_run([]() -> Task<> {
    Record sends, receives;
    trio::StapledStream stapled(std::make_unique<RecordSendStream>(&sends, true),
                                std::make_unique<RecordReceiveStream>(&receives));
    EXPECT_THROW(co_await stapled.aclose(), trio::ValueError);
    EXPECT_EQ(receives, (Record{"aclose"}));
  });
}
