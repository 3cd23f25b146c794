// SPDX-License-Identifier: Apache-2.0 OR MIT
// The OS socket layer (Trio's test_socket.py, the parts C++ can express): name resolution's
// numeric fast path and the resolver seam (custom, RunOptions, the OS's worker thread on
// "localhost" only), the socket-factory seam, socketpair, from_fd, socket options, shutdown,
// TCP on 127.0.0.1 and ::1, UDP with truncation, refused connections, and cancellation of each
// blocking call both while blocked and when already cancelled ("Cancelled means it did not
// happen"; a cancelled connect closes the socket). Loopback only — the machine is offline —
// and no real sleeps: tasks are ordered with wait_all_tasks_blocked(). Every test checks that
// no fd leaked (the entries of /proc/self/fd before and after).
#include "runtime/net/socket.h"

#include <dirent.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <chrono>
#include <memory>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

#include "runtime/trio.h"

using trio::Task;
using trio::lowlevel::wait_all_tasks_blocked;
using trio::socket::Address;
using trio::socket::AddrInfo;
using trio::socket::NameInfo;
using trio::socket::Socket;

namespace {

int count_entries(const char* path) {
  DIR* dir = ::opendir(path);
  int n = 0;
  while (::readdir(dir) != nullptr) ++n;
  ::closedir(dir);
  return n;
}
int count_fds() { return count_entries("/proc/self/fd"); }
int count_threads() { return count_entries("/proc/self/task"); }

// Checks that the test closed every fd it opened.
class NoFdLeak : public ::testing::Test {
 protected:
  void SetUp() override { fds_before_ = count_fds(); }
  void TearDown() override { EXPECT_EQ(count_fds(), fds_before_) << "an fd leaked"; }

 private:
  int fds_before_ = 0;
};

trio::RunOptions options() { return trio::RunOptions{.seed = 11}; }

// The errno of the std::system_error that `task` raises, or 0 if it returns normally.
template <class T>
Task<int> error_of(Task<T> task) {
  try {
    co_await std::move(task);
  } catch (const std::system_error& e) {
    co_return e.code().value();
  }
  co_return 0;
}

std::string text(const std::array<char, 64>& buf, size_t n) { return std::string(buf.data(), n); }

// Records every call and answers with one fixed address.
class RecordingResolver final : public trio::socket::HostnameResolver {
 public:
  Task<std::vector<AddrInfo>> getaddrinfo(std::string host, std::string port, int family, int type,
                                          int protocol, int flags) override {
    calls.push_back(host + " " + port + " " + std::to_string(family) + " " + std::to_string(type) +
                    " " + std::to_string(protocol) + " " + std::to_string(flags));
    co_await trio::checkpoint();
    AddrInfo info;
    info.family = AF_INET;
    info.type = SOCK_STREAM;
    info.address = Address::parse("10.9.8.7", 53);
    co_return std::vector<AddrInfo>{info};
  }
  Task<NameInfo> getnameinfo(Address address, int flags) override {
    calls.push_back("nameinfo " + address.to_string() + " " + std::to_string(flags));
    co_await trio::checkpoint();
    co_return NameInfo{"resolved.example", "http"};
  }
  std::vector<std::string> calls;
};

// Makes OS sockets (through from_fd, so it never re-enters socket()) and counts them.
class CountingFactory final : public trio::socket::SocketFactory {
 public:
  std::unique_ptr<Socket> socket(int family, int type, int protocol) override {
    ++made;
    return trio::socket::from_fd(::socket(family, type, protocol));
  }
  int made = 0;
};

// ---- name resolution ------------------------------------------------------------------------

TEST_F(NoFdLeak, GetAddrInfoResolvesNumericHostsInlineWithoutTheResolver) {
  RecordingResolver resolver;
  trio::RunOptions opts = options();
  opts.hostname_resolver = &resolver;
  trio::run(opts, [&]() -> Task<> {
    auto v4 = co_await trio::socket::getaddrinfo("127.0.0.1", 80, AF_INET, SOCK_STREAM);
    EXPECT_EQ(v4.size(), 1u);
    EXPECT_EQ(v4.at(0).address, Address::parse("127.0.0.1", 80));
    EXPECT_EQ(v4.at(0).type, SOCK_STREAM);
    auto v6 = co_await trio::socket::getaddrinfo("::1", "443", AF_INET6, SOCK_DGRAM);
    EXPECT_EQ(v6.at(0).address, Address::parse("::1", 443));
    // "": the wildcard with AI_PASSIVE, else loopback.
    auto passive = co_await trio::socket::getaddrinfo("", 8, AF_INET, SOCK_STREAM, 0, AI_PASSIVE);
    EXPECT_TRUE(passive.at(0).address.is_wildcard());
    auto loop = co_await trio::socket::getaddrinfo("", 8, AF_INET, SOCK_STREAM);
    EXPECT_EQ(loop.at(0).address, Address::parse("127.0.0.1", 8));
    auto numeric = co_await trio::socket::getnameinfo(Address::parse("127.0.0.1", 80),
                                                      NI_NUMERICHOST | NI_NUMERICSERV);
    EXPECT_EQ(numeric.host, "127.0.0.1");
    EXPECT_EQ(numeric.service, "80");
  });
  EXPECT_TRUE(resolver.calls.empty());
}

TEST_F(NoFdLeak, GetAddrInfoFastPathIsACheckpoint) {
  bool cancelled = false;
  trio::run(options(), [&]() -> Task<> {
    trio::CancelScope scope;
    scope.cancel();
    co_await scope.enter([&]() -> Task<> {
      co_await trio::socket::getaddrinfo("127.0.0.1", 80);
      ADD_FAILURE() << "not cancelled";
    });
    cancelled = scope.cancelled_caught();
  });
  EXPECT_TRUE(cancelled);
}

TEST_F(NoFdLeak, NamesGoToTheCustomResolverAndSetReturnsThePrevious) {
  RecordingResolver first;
  RecordingResolver second;
  trio::run(options(), [&]() -> Task<> {
    EXPECT_EQ(trio::socket::set_custom_hostname_resolver(&first), nullptr);
    auto r = co_await trio::socket::getaddrinfo("some.name", "http", AF_INET, SOCK_STREAM,
                                                IPPROTO_TCP, AI_CANONNAME);
    EXPECT_EQ(r.at(0).address, Address::parse("10.9.8.7", 53));
    EXPECT_EQ(trio::socket::set_custom_hostname_resolver(&second), &first);
    auto n = co_await trio::socket::getnameinfo(Address::parse("1.2.3.4", 80), 0);
    EXPECT_EQ(n.host, "resolved.example");
    EXPECT_EQ(trio::socket::set_custom_hostname_resolver(nullptr), &second);
  });
  EXPECT_EQ(first.calls,
            (std::vector<std::string>{"some.name http 2 1 6 " + std::to_string(AI_CANONNAME)}));
  EXPECT_EQ(second.calls, (std::vector<std::string>{"nameinfo 1.2.3.4:80 0"}));
}

TEST_F(NoFdLeak, RunOptionsResolverServesWhenNoCustomOneIsSet) {
  RecordingResolver from_options;
  RecordingResolver custom;
  trio::RunOptions opts = options();
  opts.hostname_resolver = &from_options;
  trio::run(opts, [&]() -> Task<> {
    co_await trio::socket::getaddrinfo("a.name", 1);
    trio::socket::set_custom_hostname_resolver(&custom);
    co_await trio::socket::getaddrinfo("b.name", 2);
    trio::socket::set_custom_hostname_resolver(nullptr);
    co_await trio::socket::getaddrinfo("c.name", 3);
  });
  EXPECT_EQ(from_options.calls, (std::vector<std::string>{"a.name 1 0 0 0 0", "c.name 3 0 0 0 0"}));
  EXPECT_EQ(custom.calls, (std::vector<std::string>{"b.name 2 0 0 0 0"}));
}

TEST_F(NoFdLeak, CustomResolverIsPerRun) {
  RecordingResolver resolver;
  trio::run(options(), [&]() -> Task<> {
    trio::socket::set_custom_hostname_resolver(&resolver);
    co_return;
  });
  trio::run(options(), [&]() -> Task<> {
    EXPECT_EQ(trio::socket::set_custom_hostname_resolver(nullptr), nullptr);
    co_return;
  });
}

TEST_F(NoFdLeak, LocalhostResolvesThroughTheOsResolverThread) {
  std::vector<AddrInfo> result;
  trio::run(options(), [&]() -> Task<> {
    result = co_await trio::socket::getaddrinfo("localhost", 80, AF_INET, SOCK_STREAM);
  });
  ASSERT_FALSE(result.empty());
  EXPECT_EQ(result[0].address, Address::parse("127.0.0.1", 80));
}

TEST_F(NoFdLeak, OsResolverLookupIsAbandonedWhenCancelled) {
  // Whether the thread answers before the cancellation is a race; either way the task must
  // finish at once and the late answer must be dropped without touching the run.
  const int threads_before = count_threads();
  int abandoned = 0;
  for (int i = 0; i < 20; ++i) {
    bool got_result = false;
    bool cancelled = false;
    trio::run(options(), [&]() -> Task<> {
      trio::CancelScope scope;
      co_await trio::open_nursery([&](trio::Nursery& n) -> Task<> {
        n.start_soon([&]() -> Task<> {
          co_await scope.enter([&]() -> Task<> {
            co_await trio::socket::getaddrinfo("localhost", 80, AF_INET, SOCK_STREAM);
            got_result = true;
          });
          cancelled = scope.cancelled_caught();
        });
        co_await trio::checkpoint();
        scope.cancel();
      });
    });
    EXPECT_NE(got_result, cancelled);
    abandoned += cancelled ? 1 : 0;
  }
  RecordProperty("abandoned_lookups", abandoned);
  // The abandoned threads finish on their own; wait for them (a bounded real-time poll, the
  // one in this file) so that none holds /etc/hosts open while a later test counts fds.
  for (int i = 0; i < 500 && count_threads() > threads_before; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  EXPECT_LE(count_threads(), threads_before) << "a resolver thread never finished";
}

TEST_F(NoFdLeak, AServiceNameGoesToTheOsResolverThread) {
  if (::access("/etc/services", R_OK) != 0) GTEST_SKIP() << "no /etc/services";
  std::vector<AddrInfo> with_host;
  std::vector<AddrInfo> without_host;
  RecordingResolver custom;
  trio::run(options(), [&]() -> Task<> {
    with_host = co_await trio::socket::getaddrinfo("127.0.0.1", "http", AF_INET, SOCK_STREAM);
    // A resolver never sees an empty host: that goes to the OS even with a custom resolver.
    trio::socket::set_custom_hostname_resolver(&custom);
    without_host = co_await trio::socket::getaddrinfo("", "http", AF_INET, SOCK_STREAM);
  });
  ASSERT_FALSE(with_host.empty());
  EXPECT_EQ(with_host[0].address, Address::parse("127.0.0.1", 80));
  ASSERT_FALSE(without_host.empty());
  EXPECT_EQ(without_host[0].address, Address::parse("127.0.0.1", 80));
  EXPECT_TRUE(custom.calls.empty());
}

TEST_F(NoFdLeak, ResolutionFailuresAreGaiError) {
  int code = 0;
  trio::run(options(), [&]() -> Task<> {
    try {
      co_await trio::socket::getaddrinfo("127.0.0.1", "no-such-service-xyz", AF_INET, SOCK_STREAM);
      ADD_FAILURE() << "no error";
    } catch (const trio::socket::GaiError& e) {
      code = e.code();
      EXPECT_NE(std::string(e.what()).find("127.0.0.1:no-such-service-xyz"), std::string::npos)
          << e.what();
    }
  });
  EXPECT_NE(code, 0);
}

// ---- the socket factory ---------------------------------------------------------------------

TEST_F(NoFdLeak, SocketComesFromTheCustomFactoryThenRunOptionsThenTheOs) {
  CountingFactory from_options;
  CountingFactory custom;
  trio::RunOptions opts = options();
  opts.socket_factory = &from_options;
  trio::run(opts, [&]() -> Task<> {
    auto a = trio::socket::socket();
    EXPECT_EQ(from_options.made, 1);
    EXPECT_EQ(trio::socket::set_custom_socket_factory(&custom), nullptr);
    auto b = trio::socket::socket(AF_INET, SOCK_DGRAM);
    EXPECT_EQ(custom.made, 1);
    EXPECT_EQ(b->type(), SOCK_DGRAM);
    // socketpair and from_fd never ask a factory.
    auto pair = trio::socket::socketpair();
    EXPECT_EQ(custom.made, 1);
    EXPECT_EQ(trio::socket::set_custom_socket_factory(nullptr), &custom);
    auto e = trio::socket::socket();
    EXPECT_EQ(from_options.made, 2);
    co_return;
  });
  trio::run(options(), [&]() -> Task<> {
    auto s = trio::socket::socket(AF_INET6, SOCK_STREAM);
    EXPECT_EQ(s->family(), AF_INET6);
    EXPECT_EQ(s->type(), SOCK_STREAM);
    EXPECT_GE(s->fileno(), 0);
    EXPECT_NE(::fcntl(s->fileno(), F_GETFL) & O_NONBLOCK, 0);
    EXPECT_NE(::fcntl(s->fileno(), F_GETFD) & FD_CLOEXEC, 0);
    co_return;
  });
  EXPECT_EQ(from_options.made, 2);
}

TEST_F(NoFdLeak, AnUnsupportedFamilyIsSystemError) {
  try {
    trio::socket::socket(12345, SOCK_STREAM);
    ADD_FAILURE();
  } catch (const std::system_error& e) {
    EXPECT_EQ(e.code().value(), EAFNOSUPPORT);
  }
}

// ---- basic operations -----------------------------------------------------------------------

TEST_F(NoFdLeak, SocketpairRoundTrip) {
  std::string got_a, got_b;
  trio::run(options(), [&]() -> Task<> {
    auto pair = trio::socket::socketpair();
    Socket* a = pair.first.get();
    Socket* b = pair.second.get();
    EXPECT_EQ(a->family(), AF_UNIX);
    EXPECT_EQ(a->type(), SOCK_STREAM);
    std::array<char, 64> buf;
    EXPECT_EQ(co_await a->send("ping"), 4u);
    EXPECT_TRUE(b->is_readable());
    got_b = text(buf, co_await b->recv(buf));
    EXPECT_FALSE(b->is_readable());
    EXPECT_EQ(co_await b->send("pong"), 4u);
    got_a = text(buf, co_await a->recv(buf));
  });
  EXPECT_EQ(got_b, "ping");
  EXPECT_EQ(got_a, "pong");
}

TEST_F(NoFdLeak, FromFdDetectsFamilyTypeAndProtocolAndMakesTheFdNonBlocking) {
  const int fd = ::socket(AF_INET, SOCK_DGRAM, 0);
  ASSERT_GE(fd, 0);
  auto s = trio::socket::from_fd(fd);
  EXPECT_EQ(s->family(), AF_INET);
  EXPECT_EQ(s->type(), SOCK_DGRAM);
  EXPECT_EQ(s->protocol(), IPPROTO_UDP);
  EXPECT_EQ(s->fileno(), fd);
  EXPECT_NE(::fcntl(fd, F_GETFL) & O_NONBLOCK, 0);
  s.reset();  // closes the fd
  EXPECT_EQ(::fcntl(fd, F_GETFD), -1);
}

TEST_F(NoFdLeak, FromFdOfANonSocketIsValueError) {
  int p[2];
  ASSERT_EQ(::pipe2(p, O_CLOEXEC), 0);
  EXPECT_THROW(trio::socket::from_fd(p[0]), trio::ValueError);
  ::close(p[0]);
  ::close(p[1]);
}

TEST_F(NoFdLeak, SetsockoptAndGetsockoptRoundTrip) {
  auto s = trio::socket::socket(AF_INET, SOCK_STREAM);
  EXPECT_EQ(s->getsockopt(IPPROTO_TCP, TCP_NODELAY), 0);
  s->setsockopt(IPPROTO_TCP, TCP_NODELAY, 1);
  EXPECT_NE(s->getsockopt(IPPROTO_TCP, TCP_NODELAY), 0);
  s->setsockopt(SOL_SOCKET, SO_REUSEADDR, 1);
  EXPECT_NE(s->getsockopt(SOL_SOCKET, SO_REUSEADDR), 0);
  EXPECT_EQ(s->getsockopt(SOL_SOCKET, SO_ACCEPTCONN), 0);
  try {
    s->getsockopt(SOL_SOCKET, 987654);
    ADD_FAILURE();
  } catch (const std::system_error& e) {
    EXPECT_EQ(e.code().value(), ENOPROTOOPT);
  }
}

TEST_F(NoFdLeak, ShutdownWriteGivesThePeerEofAndIsRecorded) {
  size_t n = 99;
  trio::run(options(), [&]() -> Task<> {
    auto pair = trio::socket::socketpair();
    Socket* a = pair.first.get();
    Socket* b = pair.second.get();
    a->shutdown(SHUT_RD);
    EXPECT_FALSE(a->did_shutdown_write());
    a->shutdown(SHUT_WR);
    EXPECT_TRUE(a->did_shutdown_write());
    std::array<char, 8> buf;
    n = co_await b->recv(buf);
    EXPECT_EQ(co_await error_of(a->send("x")), EPIPE);  // and no SIGPIPE
  });
  EXPECT_EQ(n, 0u);
}

// ---- TCP and UDP on loopback ----------------------------------------------------------------

// A listening socket of `family` on the loopback address, on a port the OS chose.
std::unique_ptr<Socket> listener(int family) {
  auto s = trio::socket::socket(family, SOCK_STREAM);
  s->bind(Address::loopback(family, 0));
  s->listen(8);
  return s;
}

Task<> tcp_round_trip(int family) {
  auto server = listener(family);
  EXPECT_NE(server->getsockname().port(), 0);
  EXPECT_NE(server->getsockopt(SOL_SOCKET, SO_ACCEPTCONN), 0);
  auto client = trio::socket::socket(family, SOCK_STREAM);
  trio::socket::AcceptResult accepted;
  co_await trio::open_nursery([&](trio::Nursery& n) -> Task<> {
    n.start_soon([&]() -> Task<> { accepted = co_await server->accept(); });
    co_await client->connect(server->getsockname());
  });
  EXPECT_EQ(accepted.address, client->getsockname());
  EXPECT_EQ(client->getpeername(), server->getsockname());
  EXPECT_EQ(accepted.socket->family(), family);
  EXPECT_EQ(accepted.socket->type(), SOCK_STREAM);
  EXPECT_NE(::fcntl(accepted.socket->fileno(), F_GETFL) & O_NONBLOCK, 0);
  std::array<char, 64> buf;
  EXPECT_EQ(co_await client->send("hello"), 5u);
  EXPECT_EQ(text(buf, co_await accepted.socket->recv(buf)), "hello");
  EXPECT_EQ(co_await accepted.socket->send("back"), 4u);
  EXPECT_EQ(text(buf, co_await client->recv(buf)), "back");
  client->close();
  EXPECT_EQ(co_await accepted.socket->recv(buf), 0u);  // EOF
}

TEST_F(NoFdLeak, TcpServerOnIpv4Loopback) {
  trio::run(options(), [&]() -> Task<> { co_await tcp_round_trip(AF_INET); });
}

bool have_ipv6_loopback() {
  const int fd = ::socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  const Address a = Address::loopback(AF_INET6, 0);
  const bool ok = ::bind(fd, a.sockaddr_ptr(), a.size()) == 0;
  ::close(fd);
  return ok;
}

TEST_F(NoFdLeak, TcpServerOnIpv6Loopback) {
  if (!have_ipv6_loopback()) GTEST_SKIP() << "no IPv6 loopback on this machine";
  trio::run(options(), [&]() -> Task<> { co_await tcp_round_trip(AF_INET6); });
}

TEST_F(NoFdLeak, UnixStreamServerOnAnAbstractAddress) {
  std::string got;
  trio::run(options(), [&]() -> Task<> {
    const std::string name = "\0trio-socket-test-" + std::to_string(::getpid());
    const Address address = Address::unix_path(name);
    auto server = trio::socket::socket(AF_UNIX, SOCK_STREAM);
    server->bind(address);
    server->listen(1);
    EXPECT_EQ(server->getsockname(), address);
    auto client = trio::socket::socket(AF_UNIX, SOCK_STREAM);
    co_await client->connect(address);
    auto accepted = co_await server->accept();
    EXPECT_EQ(accepted.socket->family(), AF_UNIX);
    co_await client->send("unix");
    std::array<char, 64> buf;
    got = text(buf, co_await accepted.socket->recv(buf));
  });
  EXPECT_EQ(got, "unix");
}

TEST_F(NoFdLeak, UdpSendtoRecvfromReportsTheSenderAndTruncation) {
  trio::run(options(), [&]() -> Task<> {
    auto a = trio::socket::socket(AF_INET, SOCK_DGRAM);
    auto b = trio::socket::socket(AF_INET, SOCK_DGRAM);
    a->bind(Address::loopback(AF_INET, 0));
    b->bind(Address::loopback(AF_INET, 0));
    EXPECT_EQ(co_await a->sendto("hello world", b->getsockname()), 11u);
    std::array<char, 4> small;
    auto r = co_await b->recvfrom(small);
    EXPECT_EQ(r.size, 4u);
    EXPECT_TRUE(r.truncated);
    EXPECT_EQ(std::string(small.data(), 4), "hell");
    EXPECT_EQ(r.address, a->getsockname());
    EXPECT_EQ(co_await a->sendto("hi", b->getsockname()), 2u);
    std::array<char, 64> buf;
    auto r2 = co_await b->recvfrom(buf);
    EXPECT_EQ(text(buf, r2.size), "hi");
    EXPECT_FALSE(r2.truncated);
  });
}

TEST_F(NoFdLeak, ConnectToAClosedPortIsConnectionRefused) {
  int error = 0;
  std::string what;
  trio::run(options(), [&]() -> Task<> {
    Address target;
    {
      auto unused = trio::socket::socket();
      unused->bind(Address::loopback(AF_INET, 0));
      target = unused->getsockname();
    }  // closed: nothing listens there
    auto client = trio::socket::socket();
    try {
      co_await client->connect(target);
    } catch (const std::system_error& e) {
      error = e.code().value();
      what = e.what();
    }
    EXPECT_FALSE(client->is_closed());
  });
  EXPECT_EQ(error, ECONNREFUSED);
  EXPECT_NE(what.find("connect: 127.0.0.1:"), std::string::npos) << what;
}

// ---- cancellation ---------------------------------------------------------------------------

TEST_F(NoFdLeak, AcceptCancelledWhileBlockedLeavesTheListenerUsable) {
  trio::run(options(), [&]() -> Task<> {
    auto server = listener(AF_INET);
    trio::CancelScope scope;
    co_await trio::open_nursery([&](trio::Nursery& n) -> Task<> {
      n.start_soon([&]() -> Task<> {
        co_await scope.enter([&]() -> Task<> {
          co_await server->accept();
          ADD_FAILURE() << "accepted";
        });
      });
      co_await wait_all_tasks_blocked();
      scope.cancel();
    });
    EXPECT_TRUE(scope.cancelled_caught());
    EXPECT_FALSE(server->is_closed());
  });
}

TEST_F(NoFdLeak, AcceptWhenAlreadyCancelledLeavesThePendingConnection) {
  trio::run(options(), [&]() -> Task<> {
    auto server = listener(AF_INET);
    auto client = trio::socket::socket();
    co_await client->connect(server->getsockname());  // completes: the backlog holds it
    trio::CancelScope scope;
    scope.cancel();
    co_await scope.enter([&]() -> Task<> {
      co_await server->accept();
      ADD_FAILURE() << "accepted";
    });
    EXPECT_TRUE(scope.cancelled_caught());
    auto accepted = co_await server->accept();  // still there: the cancelled call did nothing
    EXPECT_EQ(accepted.address, client->getsockname());
  });
}

TEST_F(NoFdLeak, RecvCancelledWhileBlockedAndWhenAlreadyCancelled) {
  std::string got;
  trio::run(options(), [&]() -> Task<> {
    auto pair = trio::socket::socketpair();
    Socket* a = pair.first.get();
    Socket* b = pair.second.get();
    std::array<char, 64> buf;
    trio::CancelScope blocked;
    co_await trio::open_nursery([&](trio::Nursery& n) -> Task<> {
      n.start_soon(
          [&]() -> Task<> { co_await blocked.enter([&]() -> Task<> { co_await b->recv(buf); }); });
      co_await wait_all_tasks_blocked();
      blocked.cancel();
    });
    EXPECT_TRUE(blocked.cancelled_caught());
    co_await a->send("data");
    trio::CancelScope already;
    already.cancel();
    co_await already.enter([&]() -> Task<> { co_await b->recv(buf); });
    EXPECT_TRUE(already.cancelled_caught());
    got = text(buf, co_await b->recv(buf));  // the data was not consumed
  });
  EXPECT_EQ(got, "data");
}

TEST_F(NoFdLeak, ConnectWhenAlreadyCancelledClosesTheSocket) {
  trio::run(options(), [&]() -> Task<> {
    auto server = listener(AF_INET);
    auto client = trio::socket::socket();
    trio::CancelScope scope;
    scope.cancel();
    co_await scope.enter([&]() -> Task<> { co_await client->connect(server->getsockname()); });
    EXPECT_TRUE(scope.cancelled_caught());
    EXPECT_TRUE(client->is_closed());
    EXPECT_EQ(client->fileno(), -1);
  });
}

TEST_F(NoFdLeak, ConnectCancelledWhileBlockedClosesTheSocket) {
  // A listener with a full accept queue drops further SYNs, so a connect to it stays in
  // progress. Which client is the first to block depends on the kernel; try a few.
  bool saw_blocked_connect = false;
  trio::run(options(), [&]() -> Task<> {
    auto server = trio::socket::socket();
    server->bind(Address::loopback(AF_INET, 0));
    server->listen(0);
    std::vector<std::unique_ptr<Socket>> clients;
    for (int i = 0; i < 8 && !saw_blocked_connect; ++i) {
      clients.push_back(trio::socket::socket());
      Socket& client = *clients.back();
      bool done = false;
      trio::CancelScope scope;
      co_await trio::open_nursery([&](trio::Nursery& n) -> Task<> {
        n.start_soon([&]() -> Task<> {
          co_await scope.enter([&]() -> Task<> { co_await client.connect(server->getsockname()); });
          done = !scope.cancelled_caught();
        });
        co_await wait_all_tasks_blocked();
        if (!done) scope.cancel();
      });
      if (scope.cancelled_caught()) {
        saw_blocked_connect = true;
        EXPECT_TRUE(client.is_closed());
      }
    }
  });
  EXPECT_TRUE(saw_blocked_connect) << "no connect blocked; the kernel accepted every SYN";
}

// ---- closing --------------------------------------------------------------------------------

TEST_F(NoFdLeak, CloseFromAnotherTaskWakesABlockedRecvWithClosedResourceError) {
  std::string error;
  trio::run(options(), [&]() -> Task<> {
    auto pair = trio::socket::socketpair();
    Socket* b = pair.second.get();
    co_await trio::open_nursery([&](trio::Nursery& n) -> Task<> {
      n.start_soon([&]() -> Task<> {
        std::array<char, 8> buf;
        try {
          co_await b->recv(buf);
        } catch (const trio::ClosedResourceError& e) {
          error = e.what();
        }
      });
      co_await wait_all_tasks_blocked();
      b->close();
    });
  });
  EXPECT_EQ(error, "another task closed this fd");
}

TEST_F(NoFdLeak, OperationsAfterCloseAreEbadf) {
  trio::run(options(), [&]() -> Task<> {
    auto s = trio::socket::socket();
    s->close();
    s->close();  // idempotent
    EXPECT_TRUE(s->is_closed());
    EXPECT_EQ(s->fileno(), -1);
    std::array<char, 8> buf;
    EXPECT_EQ(co_await error_of(s->recv(buf)), EBADF);
    EXPECT_EQ(co_await error_of(s->send("x")), EBADF);
    EXPECT_EQ(co_await error_of(s->connect(Address::loopback(AF_INET, 1))), EBADF);
    EXPECT_EQ(co_await error_of(s->accept()), EBADF);
    EXPECT_EQ(co_await error_of(s->wait_writable()), EBADF);
    try {
      s->bind(Address::loopback(AF_INET, 0));
      ADD_FAILURE();
    } catch (const std::system_error& e) {
      EXPECT_EQ(e.code().value(), EBADF);
      EXPECT_NE(std::string(e.what()).find("socket was already closed"), std::string::npos);
    }
    EXPECT_THROW(s->getsockopt(SOL_SOCKET, SO_TYPE), std::system_error);
    EXPECT_THROW(s->getsockname(), std::system_error);
  });
}

TEST_F(NoFdLeak, BadAddressesAreValueErrorAndWrongFamiliesSystemError) {
  EXPECT_THROW(Address::parse("not-an-ip", 80), trio::ValueError);
  auto s = trio::socket::socket(AF_INET, SOCK_STREAM);
  EXPECT_THROW(s->bind(Address::loopback(AF_INET6, 0)), std::system_error);
  EXPECT_THROW(s->getpeername(), std::system_error);  // ENOTCONN
}

}  // namespace
