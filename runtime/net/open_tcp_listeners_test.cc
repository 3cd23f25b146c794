// SPDX-License-Identifier: Apache-2.0 OR MIT
//
// open_tcp_listeners and serve_tcp over a fake socket factory, ported from Trio's
// test_highlevel_open_tcp_listeners.py: which sockets are made for which resolved addresses,
// the options they get (SO_REUSEADDR, IPV6_V6ONLY), the backlog rules, skipping families the
// system does not support (and failing when none is supported), closing everything on an error,
// and serve_tcp handing back its listeners through Nursery::start. MockClock, no network.
#include "runtime/net/open_tcp_listeners.h"

#include <gtest/gtest.h>

#include <cerrno>
#include <map>
#include <memory>
#include <string>
#include <system_error>
#include <vector>

#include "runtime/net/serve_tcp.h"
#include "runtime/net/testing/fake_socket.h"
#include "runtime/trio.h"
#include "simclock/mock_clock.h"

using namespace std::chrono_literals;

namespace {

using trio::Task;
using trio::net_testing::FakeSocket;
using trio::net_testing::os_error;
namespace socket = trio::socket;

// Makes FakeSockets and remembers their states; can refuse families or fail a bind.
class FakeSocketFactory final : public socket::SocketFactory {
 public:
  std::unique_ptr<socket::Socket> socket(int family, int type, int protocol) override {
    if (auto it = raise_on_family.find(family); it != raise_on_family.end())
      throw os_error(it->second, "nope");
    auto sock = std::make_unique<FakeSocket>(family, type, protocol);
    states.push_back(sock->state());
    return sock;
  }
  std::map<int, int> raise_on_family;  // family -> errno
  std::vector<std::shared_ptr<FakeSocket::State>> states;
};

// A socket whose bind fails, for the cleanup test.
class BindFailsSocket final : public FakeSocket {
 public:
  using FakeSocket::FakeSocket;
  void bind(const socket::Address&) override { throw os_error(EADDRINUSE, "bind"); }
};

class FailingThirdFactory final : public socket::SocketFactory {
 public:
  std::unique_ptr<socket::Socket> socket(int family, int type, int protocol) override {
    std::unique_ptr<FakeSocket> sock =
        states.size() == 2 ? std::make_unique<BindFailsSocket>(family, type, protocol)
                           : std::make_unique<FakeSocket>(family, type, protocol);
    states.push_back(sock->state());
    return sock;
  }
  std::vector<std::shared_ptr<FakeSocket::State>> states;
};

// Resolves every name to a fixed list of addresses.
class FixedResolver final : public socket::HostnameResolver {
 public:
  explicit FixedResolver(std::vector<std::string> ips) : ips_(std::move(ips)) {}
  Task<std::vector<socket::AddrInfo>> getaddrinfo(std::string, std::string port, int, int type, int,
                                                  int flags) override {
    EXPECT_EQ(type, SOCK_STREAM);
    EXPECT_TRUE(flags & AI_PASSIVE);
    std::vector<socket::AddrInfo> out;
    for (const auto& ip : ips_) {
      socket::AddrInfo ai;
      ai.address = socket::Address::parse(ip, static_cast<uint16_t>(std::stoi(port)));
      ai.family = ai.address.family();
      ai.type = SOCK_STREAM;
      ai.protocol = IPPROTO_TCP;
      out.push_back(ai);
    }
    co_return out;
  }
  Task<socket::NameInfo> getnameinfo(socket::Address, int) override {
    throw std::logic_error("not used");
  }

 private:
  std::vector<std::string> ips_;
};

template <class F>
void run_with(socket::SocketFactory* factory, socket::HostnameResolver* resolver, F body) {
  trio::MockClock clock;
  clock.set_autojump_threshold(0s);
  trio::run(
      trio::RunOptions{.clock = &clock, .socket_factory = factory, .hostname_resolver = resolver},
      body);
}

TEST(OpenTcpListeners, WildcardHostListensOnEveryFamilyWithTrioOptions) {
  FakeSocketFactory factory;
  std::vector<std::string> bound;
  run_with(&factory, nullptr, [&]() -> Task<> {
    auto listeners = co_await trio::open_tcp_listeners(8080);
    EXPECT_EQ(listeners.size(), 2u);
    for (auto& l : listeners) {
      bound.push_back(l->socket().getsockname().to_string());
      co_await l->aclose();
    }
  });
  EXPECT_EQ(bound, (std::vector<std::string>{"0.0.0.0:8080", "[::]:8080"}));
  ASSERT_EQ(factory.states.size(), 2u);
  for (const auto& st : factory.states) {
    EXPECT_EQ(st->options.at({SOL_SOCKET, SO_REUSEADDR}), 1);
    EXPECT_EQ(st->listen_backlog, trio::kMaxListenBacklog);
    EXPECT_TRUE(st->closed);
  }
  EXPECT_FALSE(factory.states[0]->options.count({IPPROTO_IPV6, IPV6_V6ONLY}));
  EXPECT_EQ(factory.states[1]->options.at({IPPROTO_IPV6, IPV6_V6ONLY}), 1);
}

TEST(OpenTcpListeners, SpecificHostAndPort) {
  FakeSocketFactory factory;
  std::string bound;
  run_with(&factory, nullptr, [&]() -> Task<> {
    auto listeners = co_await trio::open_tcp_listeners(4321, "127.0.0.1");
    EXPECT_EQ(listeners.size(), 1u);
    bound = listeners[0]->socket().getsockname().to_string();
  });
  EXPECT_EQ(bound, "127.0.0.1:4321");
}

TEST(OpenTcpListeners, BacklogDefaultsToAndIsCappedAtTheMaximum) {
  struct Case {
    std::optional<int> requested;
    int expected;
  };
  for (Case c : {Case{std::nullopt, 0xFFFF}, Case{99, 99}, Case{0x10000, 0xFFFF}, Case{0, 0}}) {
    FakeSocketFactory factory;
    run_with(&factory, nullptr, [&]() -> Task<> {
      auto listeners = co_await trio::open_tcp_listeners(0, "127.0.0.1", c.requested);
    });
    EXPECT_EQ(factory.states.at(0)->listen_backlog, c.expected);
  }
  FakeSocketFactory factory;
  bool value_error = false;
  run_with(&factory, nullptr, [&]() -> Task<> {
    try {
      co_await trio::open_tcp_listeners(0, "127.0.0.1", -1);
    } catch (const trio::ValueError&) {
      value_error = true;
    }
  });
  EXPECT_TRUE(value_error);
}

TEST(OpenTcpListeners, AnErrorClosesEverySocketOpenedSoFar) {
  FailingThirdFactory factory;
  FixedResolver resolver({"1.1.1.1", "2.2.2.2", "3.3.3.3"});
  std::error_code code;
  run_with(&factory, &resolver, [&]() -> Task<> {
    try {
      co_await trio::open_tcp_listeners(80, "example.org");
    } catch (const std::system_error& e) {
      code = e.code();
    }
  });
  EXPECT_EQ(code, std::errc::address_in_use);
  ASSERT_EQ(factory.states.size(), 3u);
  for (const auto& st : factory.states) EXPECT_TRUE(st->closed);
}

TEST(OpenTcpListeners, SkipsUnsupportedFamiliesUnlessAllAre) {
  FixedResolver resolver({"1.1.1.1", "::1"});
  for (int missing : {AF_INET, AF_INET6}) {
    FakeSocketFactory factory;
    factory.raise_on_family[missing] = EAFNOSUPPORT;
    int family = 0;
    run_with(&factory, &resolver, [&]() -> Task<> {
      auto listeners = co_await trio::open_tcp_listeners(80, "example.org");
      EXPECT_EQ(listeners.size(), 1u);
      family = listeners[0]->socket().family();
    });
    EXPECT_EQ(family, missing == AF_INET ? AF_INET6 : AF_INET);
  }

  FakeSocketFactory factory;
  factory.raise_on_family = {{AF_INET, EAFNOSUPPORT}, {AF_INET6, EAFNOSUPPORT}};
  std::error_code code;
  size_t nested = 0;
  run_with(&factory, &resolver, [&]() -> Task<> {
    try {
      co_await trio::open_tcp_listeners(80, "example.org");
    } catch (const std::system_error& e) {
      code = e.code();
      try {
        std::rethrow_if_nested(e);
      } catch (const trio::ExceptionGroup& g) {
        nested = g.size();
      }
    }
  });
  EXPECT_EQ(code, std::errc::address_family_not_supported);
  EXPECT_EQ(nested, 2u);
}

TEST(OpenTcpListeners, OtherSocketCreationErrorsPropagate) {
  FixedResolver resolver({"1.1.1.1", "::1"});
  FakeSocketFactory factory;
  factory.raise_on_family = {{AF_INET, EAFNOSUPPORT}, {AF_INET6, EINVAL}};
  std::error_code code;
  run_with(&factory, &resolver, [&]() -> Task<> {
    try {
      co_await trio::open_tcp_listeners(80, "example.org");
    } catch (const std::system_error& e) {
      code = e.code();
    }
  });
  EXPECT_EQ(code, std::errc::invalid_argument);
}

// ---- serve_tcp ------------------------------------------------------------------------------

TEST(ServeTcp, StartHandsBackTheListenersAndConnectionsReachTheHandler) {
  FakeSocketFactory factory;
  std::string received;
  std::shared_ptr<FakeSocket::State> conn_state;
  std::vector<std::string> bound;
  run_with(&factory, nullptr, [&]() -> Task<> {
    auto handler = [&received](trio::SocketStream& s) -> Task<> {
      received = co_await s.receive_some();
      co_await s.send_all("bye");
    };
    co_await trio::open_nursery([&](trio::Nursery& n) -> Task<> {
      trio::ServeTcpOptions options;
      options.host = "127.0.0.1";
      std::vector<trio::SocketListener*> listeners =
          co_await n.start<std::vector<trio::SocketListener*>>(trio::serve_tcp, handler, 0,
                                                               options);
      for (auto* l : listeners) bound.push_back(l->socket().getsockname().to_string());
      // Script one connection on the listening socket.
      auto conn = std::make_unique<FakeSocket>(AF_INET, SOCK_STREAM);
      conn_state = conn->state();
      conn_state->incoming = "hello";
      auto& listening = dynamic_cast<FakeSocket&>(listeners[0]->socket());
      listening.state()->accept_queue.emplace_back(std::move(conn));
      listening.state()->wake();
      co_await trio::lowlevel::wait_all_tasks_blocked();
      n.cancel_scope().cancel();
    });
  });
  EXPECT_EQ(bound, (std::vector<std::string>{"127.0.0.1:0"}));
  EXPECT_EQ(received, "hello");
  EXPECT_EQ(conn_state->sent, "bye");
  EXPECT_TRUE(conn_state->closed);            // aclose_forcefully'ed after the handler
  EXPECT_TRUE(factory.states.at(0)->closed);  // the listener, when serve_tcp was cancelled
}

}  // namespace
