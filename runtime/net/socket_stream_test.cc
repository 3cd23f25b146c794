// SPDX-License-Identifier: Apache-2.0 OR MIT
//
// SocketStream and SocketListener over scripted fake sockets (testing/fake_socket.h): the
// behaviours of Trio's test_highlevel_socket.py that need no real network — construction checks,
// the options set, send_all's loop and empty-data rule, send_eof's idempotence, Trio's mapping of
// OS errors to ClosedResourceError / BrokenResourceError, BusyResourceError for concurrent use of
// one direction, and the listener's accept retry and error rules. Runs on a MockClock (autojump
// 0), so nothing waits for real.
#include "runtime/net/socket_stream.h"

#include <gtest/gtest.h>

#include <cerrno>
#include <memory>
#include <string>
#include <system_error>

#include "runtime/net/socket.h"
#include "runtime/net/socket_listener.h"
#include "runtime/net/testing/fake_socket.h"
#include "runtime/trio.h"
#include "simclock/mock_clock.h"

using namespace std::chrono_literals;

namespace {

using trio::Task;
using trio::net_testing::FakeSocket;

template <class F>
void run_test(F body) {
  trio::MockClock clock;
  clock.set_autojump_threshold(0s);
  trio::run(trio::RunOptions{.clock = &clock}, body);
}

// A SocketStream over a fresh fake socket, and that socket's state.
struct Fixture {
  Fixture(int family = AF_INET) {
    auto sock = std::make_unique<FakeSocket>(family, SOCK_STREAM);
    state = sock->state();
    stream = std::make_unique<trio::SocketStream>(std::move(sock));
  }
  std::shared_ptr<FakeSocket::State> state;
  std::unique_ptr<trio::SocketStream> stream;
};

template <class E>
std::string error_text(const std::exception_ptr& e) {
  try {
    std::rethrow_exception(e);
  } catch (const E& x) {
    return x.what();
  } catch (...) {
    return "unexpected: " + trio::describe(std::current_exception());
  }
}

// ---- construction ---------------------------------------------------------------------------

TEST(SocketStream, RejectsNullAndNonStreamSockets) {
  EXPECT_THROW(trio::SocketStream(nullptr), trio::ValueError);
  EXPECT_THROW(trio::SocketStream(std::make_unique<FakeSocket>(AF_INET, SOCK_DGRAM)),
               trio::ValueError);
}

TEST(SocketStream, SetsNodelayAndNotSentLowWaterOnTcp) {
  for (int family : {AF_INET, AF_INET6}) {
    Fixture f(family);
    EXPECT_EQ(f.state->options.at({IPPROTO_TCP, TCP_NODELAY}), 1);
#ifdef TCP_NOTSENT_LOWAT
    EXPECT_EQ(f.state->options.at({IPPROTO_TCP, TCP_NOTSENT_LOWAT}), 16384);
#endif
    EXPECT_EQ(f.stream->getsockopt(IPPROTO_TCP, TCP_NODELAY), 1);
  }
}

TEST(SocketStream, SetsNoTcpOptionsOnUnixSockets) {
  Fixture f(AF_UNIX);
  EXPECT_TRUE(f.state->options.empty());
}

TEST(SocketStream, IgnoresOsErrorsFromTheTcpOptions) {
  auto sock = std::make_unique<FakeSocket>(AF_INET, SOCK_STREAM);
  sock->state()->setsockopt_errno = ENOPROTOOPT;
  trio::SocketStream stream(std::move(sock));  // does not throw
  EXPECT_TRUE(stream.socket().family() == AF_INET);
}

TEST(SocketStream, SetsockoptAndGetsockoptPassThrough) {
  Fixture f;
  f.stream->setsockopt(SOL_SOCKET, SO_KEEPALIVE, 1);
  EXPECT_EQ(f.state->options.at({SOL_SOCKET, SO_KEEPALIVE}), 1);
  EXPECT_EQ(f.stream->getsockopt(SOL_SOCKET, SO_KEEPALIVE), 1);
  EXPECT_THROW(f.stream->getsockopt(SOL_SOCKET, SO_RCVBUF), std::system_error);  // unset: raw
}

// ---- sending ------------------------------------------------------------------------------

TEST(SocketStream, SendAllLoopsUntilEveryByteIsSent) {
  Fixture f;
  f.state->send_chunk_bytes = 3;
  run_test([&]() -> Task<> { co_await f.stream->send_all("hello world"); });
  EXPECT_EQ(f.state->sent, "hello world");
  EXPECT_EQ(f.state->send_calls, 4);
}

TEST(SocketStream, SendAllOfNothingIsACheckpoint) {
  Fixture f;
  bool caught = false;
  run_test([&]() -> Task<> {
    trio::CancelScope scope;
    scope.cancel();
    co_await scope.enter([&]() -> Task<> { co_await f.stream->send_all(""); });
    caught = scope.cancelled_caught();
  });
  EXPECT_TRUE(caught);
  EXPECT_EQ(f.state->send_calls, 0);
}

TEST(SocketStream, SendAllOfNothingOnAClosedStreamRaisesClosedResourceError) {
  Fixture f;
  std::exception_ptr error;
  run_test([&]() -> Task<> {
    co_await f.stream->aclose();
    try {
      co_await f.stream->send_all("");
    } catch (...) {
      error = std::current_exception();
    }
  });
  EXPECT_TRUE(trio::holds<trio::ClosedResourceError>(error));
}

TEST(SocketStream, SendAfterSendEofRaisesClosedResourceError) {
  Fixture f;
  std::exception_ptr error;
  run_test([&]() -> Task<> {
    co_await f.stream->send_eof();
    try {
      co_await f.stream->send_all("x");
    } catch (...) {
      error = std::current_exception();
    }
  });
  EXPECT_EQ(error_text<trio::ClosedResourceError>(error), "can't send data after sending EOF");
}

TEST(SocketStream, SendEofIsIdempotent) {
  Fixture f;
  run_test([&]() -> Task<> {
    co_await f.stream->send_eof();
    EXPECT_TRUE(f.state->did_shutdown_write);
    f.state->shutdown_errno = ENOTCONN;  // a second shutdown() would raise (macOS does)
    co_await f.stream->send_eof();
  });
  EXPECT_EQ(f.state->shutdown_errno, ENOTCONN);  // never called again
}

TEST(SocketStream, ReceivingStillWorksAfterSendEof) {
  Fixture f;
  f.state->incoming = "abc";
  std::string got;
  run_test([&]() -> Task<> {
    co_await f.stream->send_eof();
    got = co_await f.stream->receive_some(10);
  });
  EXPECT_EQ(got, "abc");
}

TEST(SocketStream, WaitSendAllMightNotBlockWaitsForWritable) {
  Fixture f;
  f.state->send_blocks = true;
  trio::Duration waited{};
  run_test([&]() -> Task<> {
    const trio::TimePoint t0 = trio::current_time();
    co_await trio::open_nursery([&](trio::Nursery& n) -> Task<> {
      n.start_soon([&]() -> Task<> {
        co_await trio::sleep(3s);
        f.state->send_blocks = false;
        f.state->wake();
      });
      co_await f.stream->wait_send_all_might_not_block();
      waited = trio::current_time() - t0;
    });
  });
  EXPECT_EQ(waited, 3s);
}

// ---- receiving ----------------------------------------------------------------------------

TEST(SocketStream, ReceiveSomeReturnsDataThenEmptyAtEof) {
  Fixture f;
  f.state->incoming = "hello";
  f.state->eof = true;
  std::string a, b, c;
  run_test([&]() -> Task<> {
    a = co_await f.stream->receive_some(3);
    b = co_await f.stream->receive_some();
    c = co_await f.stream->receive_some();
  });
  EXPECT_EQ(a, "hel");
  EXPECT_EQ(b, "lo");
  EXPECT_EQ(c, "");
}

// ---- error mapping ------------------------------------------------------------------------

TEST(SocketStream, OsErrorsBecomeBrokenResourceErrorCarryingTheErrorCode) {
  Fixture f;
  f.state->send_errno = EPIPE;
  f.state->recv_errno = ECONNRESET;
  std::error_code send_code, recv_code;
  run_test([&]() -> Task<> {
    try {
      co_await f.stream->send_all("x");
    } catch (const trio::BrokenResourceError& e) {
      send_code = e.os_error();
    }
    try {
      co_await f.stream->receive_some();
    } catch (const trio::BrokenResourceError& e) {
      recv_code = e.os_error();
    }
  });
  EXPECT_EQ(send_code, std::errc::broken_pipe);
  EXPECT_EQ(recv_code, std::errc::connection_reset);
}

TEST(SocketStream, EbadfBecomesClosedResourceError) {
  Fixture f;
  f.state->send_errno = EBADF;
  std::exception_ptr error;
  run_test([&]() -> Task<> {
    try {
      co_await f.stream->send_all("x");
    } catch (...) {
      error = std::current_exception();
    }
  });
  EXPECT_EQ(error_text<trio::ClosedResourceError>(error), "this socket was already closed");
}

TEST(SocketStream, EveryOperationAfterAcloseRaisesClosedResourceError) {
  Fixture f;
  int closed_errors = 0;
  run_test([&]() -> Task<> {
    co_await f.stream->aclose();
    co_await f.stream->aclose();  // twice is fine
    EXPECT_TRUE(f.state->closed);
    try {
      co_await f.stream->send_all("x");
    } catch (const trio::ClosedResourceError&) {
      ++closed_errors;
    }
    try {
      co_await f.stream->receive_some();
    } catch (const trio::ClosedResourceError&) {
      ++closed_errors;
    }
    try {
      co_await f.stream->wait_send_all_might_not_block();
    } catch (const trio::ClosedResourceError&) {
      ++closed_errors;
    }
    try {
      co_await f.stream->send_eof();
    } catch (const trio::ClosedResourceError&) {
      ++closed_errors;
    }
  });
  EXPECT_EQ(closed_errors, 4);
}

TEST(SocketStream, AcloseClosesEvenWhenCancelled) {
  Fixture f;
  run_test([&]() -> Task<> {
    trio::CancelScope scope;
    scope.cancel();
    co_await scope.enter([&]() -> Task<> { co_await f.stream->aclose(); });
  });
  EXPECT_TRUE(f.state->closed);
}

TEST(SocketStream, ClosingWakesABlockedReceiverWithClosedResourceError) {
  Fixture f;
  bool closed_error = false;
  run_test([&]() -> Task<> {
    co_await trio::open_nursery([&](trio::Nursery& n) -> Task<> {
      n.start_soon([&]() -> Task<> {
        try {
          co_await f.stream->receive_some();
        } catch (const trio::ClosedResourceError&) {
          closed_error = true;
        }
      });
      co_await trio::lowlevel::wait_all_tasks_blocked();
      co_await f.stream->aclose();
    });
  });
  EXPECT_TRUE(closed_error);
}

// ---- conflicts ------------------------------------------------------------------------------

TEST(SocketStream, ConcurrentSendsRaiseBusyResourceError) {
  Fixture f;
  f.state->send_blocks = true;
  int busy = 0;
  run_test([&]() -> Task<> {
    co_await trio::open_nursery([&](trio::Nursery& n) -> Task<> {
      n.start_soon([&]() -> Task<> { co_await f.stream->send_all("first"); });
      co_await trio::lowlevel::wait_all_tasks_blocked();
      try {
        co_await f.stream->send_all("second");
      } catch (const trio::BusyResourceError&) {
        ++busy;
      }
      try {
        co_await f.stream->wait_send_all_might_not_block();
      } catch (const trio::BusyResourceError&) {
        ++busy;
      }
      try {
        co_await f.stream->send_eof();
      } catch (const trio::BusyResourceError&) {
        ++busy;
      }
      f.state->send_blocks = false;
      f.state->wake();
    });
  });
  EXPECT_EQ(busy, 3);
  EXPECT_EQ(f.state->sent, "first");
}

// Trio's SocketStream has no receive-side conflict detector: over a real socketpair, a second
// receive_some while one is blocked gets BusyResourceError from wait_readable's one-waiter rule,
// and sending meanwhile is fine. (The stream corpus pins that two receivers at EOF both get EOF.)
TEST(SocketStream, ConcurrentBlockedReceivesRaiseBusyResourceErrorButSendAndReceiveMayOverlap) {
  bool busy = false;
  std::string got;
  std::string echoed;
  trio::run([&]() -> Task<> {
    auto [sa, sb] = trio::socket::socketpair();
    trio::SocketStream a(std::move(sa));
    trio::SocketStream b(std::move(sb));
    co_await trio::open_nursery([&](trio::Nursery& n) -> Task<> {
      n.start_soon([&]() -> Task<> { got = co_await a.receive_some(); });
      co_await trio::lowlevel::wait_all_tasks_blocked();
      try {
        co_await a.receive_some();
      } catch (const trio::BusyResourceError&) {
        busy = true;
      }
      co_await a.send_all("while receiving");  // the other direction: fine
      echoed = co_await b.receive_some();
      co_await b.send_all("data");
    });
    co_await a.aclose();
    co_await b.aclose();
  });
  EXPECT_TRUE(busy);
  EXPECT_EQ(got, "data");
  EXPECT_EQ(echoed, "while receiving");
}

TEST(ConflictDetector, ReleasesWhenTheGuardDies) {
  trio::ConflictDetector detector("busy!");
  {
    auto guard = detector.enter();
    EXPECT_TRUE(detector.held());
    try {
      auto second = detector.enter();
      FAIL();
    } catch (const trio::BusyResourceError& e) {
      EXPECT_STREQ(e.what(), "busy!");
    }
    EXPECT_TRUE(detector.held());
  }
  EXPECT_FALSE(detector.held());
  auto again = detector.enter();
}

// ---- SocketListener -------------------------------------------------------------------------

std::unique_ptr<FakeSocket> listening_socket() {
  auto sock = std::make_unique<FakeSocket>(AF_INET, SOCK_STREAM);
  sock->listen(128);
  return sock;
}

TEST(SocketListener, RequiresAListeningStreamSocket) {
  EXPECT_THROW(trio::SocketListener(nullptr), trio::ValueError);
  auto not_listening = std::make_unique<FakeSocket>(AF_INET, SOCK_STREAM);
  not_listening->state()->options[{SOL_SOCKET, SO_ACCEPTCONN}] = 0;
  EXPECT_THROW(trio::SocketListener(std::move(not_listening)), trio::ValueError);
  auto dgram = std::make_unique<FakeSocket>(AF_INET, SOCK_DGRAM);
  dgram->listen(1);
  EXPECT_THROW(trio::SocketListener(std::move(dgram)), trio::ValueError);
  // A socket that cannot answer SO_ACCEPTCONN is trusted, as Trio does.
  trio::SocketListener trusted(std::make_unique<FakeSocket>(AF_INET, SOCK_STREAM));
  trio::SocketListener listening(listening_socket());
}

TEST(SocketListener, AcceptReturnsASocketStreamAndRetriesIgnorableErrors) {
  auto sock = listening_socket();
  auto state = sock->state();
  auto conn = std::make_unique<FakeSocket>(AF_INET, SOCK_STREAM);
  auto conn_state = conn->state();
  for (int e : {ECONNABORTED, EPERM, EPROTO, ENETDOWN, ENOPROTOOPT, EHOSTDOWN, EHOSTUNREACH,
                EOPNOTSUPP, ENETUNREACH})
    state->accept_queue.emplace_back(e);
  state->accept_queue.emplace_back(std::move(conn));
  trio::SocketListener listener(std::move(sock));
  bool same = false;
  run_test([&]() -> Task<> {
    auto stream = co_await listener.accept();
    same = dynamic_cast<FakeSocket&>(stream->socket()).state() == conn_state;
    co_await stream->aclose();
  });
  EXPECT_TRUE(same);
  EXPECT_TRUE(state->accept_queue.empty());
  EXPECT_EQ(conn_state->options.at({IPPROTO_TCP, TCP_NODELAY}), 1);  // a real SocketStream
}

TEST(SocketListener, AcceptPropagatesOtherOsErrors) {
  auto sock = listening_socket();
  sock->state()->accept_queue.emplace_back(EMFILE);
  trio::SocketListener listener(std::move(sock));
  std::error_code code;
  run_test([&]() -> Task<> {
    try {
      co_await listener.accept();
    } catch (const std::system_error& e) {
      code = e.code();
    }
  });
  EXPECT_EQ(code, std::errc::too_many_files_open);
}

TEST(SocketListener, AcceptMapsEbadfAndClosingToClosedResourceError) {
  auto sock = listening_socket();
  auto state = sock->state();
  state->accept_queue.emplace_back(EBADF);
  trio::SocketListener listener(std::move(sock));
  int closed_errors = 0;
  run_test([&]() -> Task<> {
    try {
      co_await listener.accept();
    } catch (const trio::ClosedResourceError&) {
      ++closed_errors;
    }
    co_await trio::open_nursery([&](trio::Nursery& n) -> Task<> {
      n.start_soon([&]() -> Task<> {
        try {
          co_await listener.accept();  // blocks: nothing queued
        } catch (const trio::ClosedResourceError&) {
          ++closed_errors;
        }
      });
      co_await trio::lowlevel::wait_all_tasks_blocked();
      co_await listener.aclose();
    });
    try {
      co_await listener.accept();
    } catch (const trio::ClosedResourceError&) {
      ++closed_errors;
    }
  });
  EXPECT_EQ(closed_errors, 3);
  EXPECT_TRUE(state->closed);
}

}  // namespace
