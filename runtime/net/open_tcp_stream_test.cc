// SPDX-License-Identifier: Apache-2.0 OR MIT
//
// open_tcp_stream's Happy Eyeballs, ported from Trio's test_highlevel_open_tcp_stream.py: a
// scripted Scenario is both the run's HostnameResolver (it returns the scripted addresses, in
// order) and its SocketFactory (each socket's connect() sleeps a scripted delay, then succeeds
// or fails). On a MockClock with autojump threshold 0, the sleeps take no real time and the
// test can assert the exact virtual instants at which each attempt started (t = 0, 0.25, 0.5 s
// with the default delay), which attempt won, and that every other socket was closed.
#include "runtime/net/open_tcp_stream.h"

#include <gtest/gtest.h>

#include <chrono>
#include <map>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include "runtime/net/testing/fake_socket.h"
#include "runtime/trio.h"
#include "simclock/mock_clock.h"

using namespace std::chrono_literals;

namespace {

using trio::Duration;
using trio::Task;
using trio::net_testing::FakeSocket;
using trio::net_testing::os_error;
namespace socket = trio::socket;

enum class Result { kError, kSuccess, kPostconnectFail };

struct Target {
  std::string ip;
  Duration delay;
  Result result;
};

class Scenario;

class ScenarioSocket final : public FakeSocket {
 public:
  ScenarioSocket(Scenario* scenario, int family, int type, int protocol)
      : FakeSocket(family, type, protocol), scenario_(scenario) {}
  Task<> connect(const socket::Address& address) override;
  void setsockopt(int level, int option, int value) override {
    // Called by SocketStream's constructor: a non-OS error here must propagate (Trio raises
    // KeyboardInterrupt, which SocketStream does not swallow).
    if (failing_) throw std::logic_error("failing after connect");
    FakeSocket::setsockopt(level, option, value);
  }

 private:
  Scenario* scenario_;
  bool failing_ = false;
};

class Scenario final : public socket::SocketFactory, public socket::HostnameResolver {
 public:
  Scenario(uint16_t port, std::vector<Target> targets, std::set<int> families = {AF_INET, AF_INET6})
      : port(port), targets(std::move(targets)), families(std::move(families)) {}

  std::unique_ptr<socket::Socket> socket(int family, int type, int protocol) override {
    if (!families.count(family))
      throw os_error(EAFNOSUPPORT, "pretending not to support this family");
    ++socket_count;
    return std::make_unique<ScenarioSocket>(this, family, type, protocol);
  }

  Task<std::vector<socket::AddrInfo>> getaddrinfo(std::string host, std::string port_string,
                                                  int family, int type, int protocol,
                                                  int flags) override {
    EXPECT_EQ(host, "test.example.com");
    EXPECT_EQ(port_string, std::to_string(port));
    EXPECT_EQ(family, AF_UNSPEC);
    EXPECT_EQ(type, SOCK_STREAM);
    EXPECT_EQ(protocol, 0);
    EXPECT_EQ(flags, 0);
    std::vector<socket::AddrInfo> out;
    for (const Target& t : targets) {
      socket::AddrInfo ai;
      ai.address = socket::Address::parse(t.ip, port);
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

  const Target& target(const std::string& ip) const {
    for (const Target& t : targets)
      if (t.ip == ip) return t;
    throw std::logic_error("unknown ip " + ip);
  }

  // Trio's Scenario.check: every socket made was connected, and all but the winner are closed.
  void check(const FakeSocket::State* winner) const {
    if (every_socket_connects) {
      EXPECT_EQ(static_cast<size_t>(socket_count), sockets.size());
    }
    for (const auto& [ip, state] : sockets) {
      if (state.get() != winner) {
        EXPECT_TRUE(state->closed) << ip << " was left open";
      }
      EXPECT_EQ(state->peer.port(), port);
    }
  }

  uint16_t port;
  std::vector<Target> targets;
  std::set<int> families;
  int socket_count = 0;
  // False when an attempt is meant to fail between socket() and connect().
  bool every_socket_connects = true;
  std::map<std::string, std::shared_ptr<FakeSocket::State>> sockets;  // by the ip connected to
  std::map<std::string, Duration> connect_times;                      // since the run began
  std::set<std::string> succeeded;
  trio::TimePoint start{};
};

Task<> ScenarioSocket::connect(const socket::Address& address) {
  const std::string ip = address.host();
  EXPECT_FALSE(scenario_->sockets.count(ip));
  state()->peer = address;
  scenario_->sockets[ip] = state();
  scenario_->connect_times[ip] = trio::current_time() - scenario_->start;
  const Target& t = scenario_->target(ip);
  co_await trio::sleep(t.delay);
  if (t.result == Result::kError) throw os_error(ECONNREFUSED, "sorry");
  if (t.result == Result::kPostconnectFail) failing_ = true;
  scenario_->succeeded.insert(ip);
}

struct Outcome {
  std::string winner_ip;  // "" if it failed
  std::exception_ptr error;
  Duration elapsed{};
};

Outcome run_scenario(Scenario& scenario,
                     trio::OpenTcpStreamOptions options = trio::OpenTcpStreamOptions()) {
  trio::MockClock clock;
  clock.set_autojump_threshold(0s);
  Outcome out;
  trio::run(
      trio::RunOptions{
          .clock = &clock, .socket_factory = &scenario, .hostname_resolver = &scenario},
      [&]() -> Task<> {
        scenario.start = trio::current_time();
        std::unique_ptr<trio::SocketStream> stream;
        try {
          stream = co_await trio::open_tcp_stream("test.example.com", scenario.port, options);
        } catch (...) {
          out.error = std::current_exception();
        }
        out.elapsed = trio::current_time() - scenario.start;
        if (stream) {
          out.winner_ip = stream->socket().getpeername().host();
          auto* fake = dynamic_cast<FakeSocket*>(&stream->socket());
          scenario.check(fake->state().get());
          EXPECT_FALSE(fake->state()->closed);
          co_await stream->aclose();
        } else {
          scenario.check(nullptr);
        }
      });
  return out;
}

std::map<std::string, Duration> times(
    std::initializer_list<std::pair<const std::string, Duration>> entries) {
  return std::map<std::string, Duration>(entries);
}

// ---- one host ---------------------------------------------------------------------------

TEST(OpenTcpStream, OneHostQuickSuccess) {
  Scenario s(80, {{"1.2.3.4", 123ms, Result::kSuccess}});
  Outcome out = run_scenario(s);
  EXPECT_EQ(out.winner_ip, "1.2.3.4");
  EXPECT_EQ(out.elapsed, 123ms);
}

TEST(OpenTcpStream, OneHostSlowSuccess) {
  Scenario s(81, {{"1.2.3.4", 100s, Result::kSuccess}});
  Outcome out = run_scenario(s);
  EXPECT_EQ(out.winner_ip, "1.2.3.4");
  EXPECT_EQ(out.elapsed, 100s);
}

TEST(OpenTcpStream, OneHostQuickFailRaisesAllAttemptsFailed) {
  Scenario s(82, {{"1.2.3.4", 123ms, Result::kError}});
  Outcome out = run_scenario(s);
  ASSERT_TRUE(trio::holds<trio::OpenTcpStreamError>(out.error));
  EXPECT_EQ(out.elapsed, 123ms);
}

TEST(OpenTcpStream, OneHostSlowFail) {
  Scenario s(83, {{"1.2.3.4", 100s, Result::kError}});
  Outcome out = run_scenario(s);
  ASSERT_TRUE(trio::holds<trio::OpenTcpStreamError>(out.error));
  EXPECT_EQ(out.elapsed, 100s);
}

TEST(OpenTcpStream, NonOsErrorAfterConnectPropagatesAndClosesTheSocket) {
  Scenario s(83, {{"1.2.3.4", 1s, Result::kPostconnectFail}});
  Outcome out = run_scenario(s);  // check(nullptr): the winner's socket was closed too
  ASSERT_TRUE(out.error);
  EXPECT_TRUE(trio::holds<std::logic_error>(out.error)) << trio::describe(out.error);
  EXPECT_TRUE(s.sockets.at("1.2.3.4")->closed);
}

// ---- timing -----------------------------------------------------------------------------

TEST(OpenTcpStream, BasicFallthroughStartsAttemptsEveryDelay) {
  Scenario s(80, {{"1.1.1.1", 1s, Result::kSuccess},
                  {"2.2.2.2", 1s, Result::kSuccess},
                  {"3.3.3.3", 200ms, Result::kSuccess}});
  Outcome out = run_scenario(s);
  EXPECT_EQ(out.winner_ip, "3.3.3.3");
  EXPECT_EQ(out.elapsed, 250ms + 250ms + 200ms);
  EXPECT_EQ(s.connect_times, times({{"1.1.1.1", 0ms}, {"2.2.2.2", 250ms}, {"3.3.3.3", 500ms}}));
}

TEST(OpenTcpStream, EarlySuccessNeverStartsLaterAttempts) {
  Scenario s(80, {{"1.1.1.1", 1s, Result::kSuccess},
                  {"2.2.2.2", 100ms, Result::kSuccess},
                  {"3.3.3.3", 200ms, Result::kSuccess}});
  Outcome out = run_scenario(s);
  EXPECT_EQ(out.winner_ip, "2.2.2.2");
  EXPECT_EQ(out.elapsed, 250ms + 100ms);
  EXPECT_EQ(s.connect_times, times({{"1.1.1.1", 0ms}, {"2.2.2.2", 250ms}}));
}

TEST(OpenTcpStream, CustomDelay) {
  Scenario s(80, {{"1.1.1.1", 1s, Result::kSuccess},
                  {"2.2.2.2", 1s, Result::kSuccess},
                  {"3.3.3.3", 200ms, Result::kSuccess}});
  trio::OpenTcpStreamOptions options;
  options.happy_eyeballs_delay = 450ms;
  Outcome out = run_scenario(s, options);
  EXPECT_EQ(out.winner_ip, "1.1.1.1");
  EXPECT_EQ(out.elapsed, 1s);
  EXPECT_EQ(s.connect_times, times({{"1.1.1.1", 0ms}, {"2.2.2.2", 450ms}, {"3.3.3.3", 900ms}}));
}

TEST(OpenTcpStream, DefaultDelayIs250ms) {
  EXPECT_EQ(trio::OpenTcpStreamOptions().happy_eyeballs_delay, 250ms);
  EXPECT_EQ(trio::kDefaultHappyEyeballsDelay, 250ms);
}

TEST(OpenTcpStream, InfiniteDelayTriesOneAtATime) {
  Scenario s(80, {{"1.1.1.1", 10s, Result::kError}, {"2.2.2.2", 1s, Result::kSuccess}});
  trio::OpenTcpStreamOptions options;
  options.happy_eyeballs_delay = trio::kInfDuration;
  Outcome out = run_scenario(s, options);
  EXPECT_EQ(out.winner_ip, "2.2.2.2");
  EXPECT_EQ(s.connect_times, times({{"1.1.1.1", 0ms}, {"2.2.2.2", 10s}}));
}

TEST(OpenTcpStream, ErrorsExpediteTheNextAttempt) {
  Scenario s(80, {{"1.1.1.1", 100ms, Result::kError},
                  {"2.2.2.2", 200ms, Result::kError},
                  {"3.3.3.3", 10s, Result::kSuccess},
                  {"4.4.4.4", 250ms, Result::kSuccess}});
  Outcome out = run_scenario(s);
  EXPECT_EQ(out.winner_ip, "4.4.4.4");
  EXPECT_EQ(out.elapsed, 100ms + 200ms + 250ms + 250ms);
  EXPECT_EQ(s.connect_times, times({{"1.1.1.1", 0ms},
                                    {"2.2.2.2", 100ms},
                                    {"3.3.3.3", 100ms + 200ms},
                                    {"4.4.4.4", 100ms + 200ms + 250ms}}));
}

TEST(OpenTcpStream, AllFailRaisesOneErrorHoldingEveryAttemptsError) {
  Scenario s(80, {{"1.1.1.1", 100ms, Result::kError},
                  {"2.2.2.2", 200ms, Result::kError},
                  {"3.3.3.3", 10s, Result::kError},
                  {"4.4.4.4", 250ms, Result::kError}});
  Outcome out = run_scenario(s);
  try {
    std::rethrow_exception(out.error);
  } catch (const trio::OpenTcpStreamError& e) {
    EXPECT_STREQ(e.what(), "all attempts to connect to test.example.com:80 failed");
    ASSERT_EQ(e.attempts().size(), 4u);
    for (const auto& attempt : e.attempts()) {
      try {
        std::rethrow_exception(attempt);
      } catch (const std::system_error& se) {
        EXPECT_EQ(se.code(), std::errc::connection_refused);
      }
    }
    ASSERT_TRUE(trio::holds<trio::ExceptionGroup>(e.cause()));
    try {
      std::rethrow_exception(e.cause());
    } catch (const trio::ExceptionGroup& g) {
      EXPECT_EQ(g.size(), 4u);
      EXPECT_EQ(g.message(), e.what());
    }
  } catch (...) {
    FAIL() << trio::describe(std::current_exception());
  }
  EXPECT_EQ(out.elapsed, 100ms + 200ms + 10s);
  EXPECT_EQ(s.connect_times, times({{"1.1.1.1", 0ms},
                                    {"2.2.2.2", 100ms},
                                    {"3.3.3.3", 100ms + 200ms},
                                    {"4.4.4.4", 100ms + 200ms + 250ms}}));
}

TEST(OpenTcpStream, MultipleSuccessesKeepOneAndCloseTheRest) {
  Scenario s(80, {{"1.1.1.1", 500ms, Result::kError},
                  {"2.2.2.2", 10s, Result::kSuccess},
                  {"3.3.3.3", 10s - 1s, Result::kSuccess},
                  {"4.4.4.4", 10s - 2s, Result::kSuccess},
                  {"5.5.5.5", 500ms, Result::kError}});
  trio::OpenTcpStreamOptions options;
  options.happy_eyeballs_delay = 1s;
  Outcome out = run_scenario(s, options);  // check(): every loser closed
  EXPECT_FALSE(s.succeeded.count("1.1.1.1"));
  EXPECT_FALSE(s.succeeded.count("5.5.5.5"));
  EXPECT_TRUE(out.winner_ip == "2.2.2.2" || out.winner_ip == "3.3.3.3" ||
              out.winner_ip == "4.4.4.4")
      << out.winner_ip;
  EXPECT_EQ(out.elapsed, 500ms + 10s);
  EXPECT_EQ(s.connect_times, times({{"1.1.1.1", 0ms},
                                    {"2.2.2.2", 500ms},
                                    {"3.3.3.3", 1500ms},
                                    {"4.4.4.4", 2500ms},
                                    {"5.5.5.5", 3500ms}}));
}

// ---- ordering and families ----------------------------------------------------------------

TEST(OpenTcpStream, ReordersSoTheSecondAttemptUsesTheOtherFamily) {
  Scenario s(80, {{"1.1.1.1", 10s, Result::kError},
                  {"2.2.2.2", 1s, Result::kSuccess},   // would win if tried second...
                  {"::3", 500ms, Result::kSuccess}});  // ...but RFC 6555 §5.4 puts this second
  trio::OpenTcpStreamOptions options;
  options.happy_eyeballs_delay = 1s;
  Outcome out = run_scenario(s, options);
  EXPECT_EQ(out.winner_ip, "::3");
  EXPECT_EQ(out.elapsed, 1s + 500ms);
  EXPECT_EQ(s.connect_times, times({{"1.1.1.1", 0ms}, {"::3", 1s}}));
}

TEST(OpenTcpStream, HandlesNoIpv4) {
  Scenario s(80,
             {{"::1", 10s, Result::kSuccess},
              {"2.2.2.2", 0ms, Result::kSuccess},
              {"::3", 100ms, Result::kSuccess},
              {"4.4.4.4", 0ms, Result::kSuccess}},
             {AF_INET6});
  trio::OpenTcpStreamOptions options;
  options.happy_eyeballs_delay = 1s;
  Outcome out = run_scenario(s, options);
  EXPECT_EQ(out.winner_ip, "::3");
  EXPECT_EQ(out.elapsed, 1s + 100ms);
  EXPECT_EQ(s.connect_times, times({{"::1", 0ms}, {"::3", 1s}}));
}

TEST(OpenTcpStream, HandlesNoIpv6) {
  Scenario s(80,
             {{"::1", 0ms, Result::kSuccess},
              {"2.2.2.2", 10s, Result::kSuccess},
              {"::3", 0ms, Result::kSuccess},
              {"4.4.4.4", 100ms, Result::kSuccess}},
             {AF_INET});
  trio::OpenTcpStreamOptions options;
  options.happy_eyeballs_delay = 1s;
  Outcome out = run_scenario(s, options);
  EXPECT_EQ(out.winner_ip, "4.4.4.4");
  EXPECT_EQ(out.elapsed, 1s + 100ms);
  EXPECT_EQ(s.connect_times, times({{"2.2.2.2", 0ms}, {"4.4.4.4", 1s}}));
}

TEST(OpenTcpStream, NoHostsRaisesNoResultsFound) {
  Scenario s(80, {});
  Outcome out = run_scenario(s);
  ASSERT_TRUE(trio::holds<trio::OpenTcpStreamError>(out.error));
  EXPECT_EQ(trio::describe(out.error), "no results found for hostname lookup: test.example.com:80");
}

TEST(OpenTcpStream, CancellationClosesEverySocket) {
  Scenario s(80, {{"1.1.1.1", 10s, Result::kSuccess},
                  {"2.2.2.2", 10s, Result::kSuccess},
                  {"3.3.3.3", 10s, Result::kSuccess},
                  {"4.4.4.4", 10s, Result::kSuccess}});
  trio::MockClock clock;
  clock.set_autojump_threshold(0s);
  bool caught = false;
  bool returned = false;
  Duration elapsed{};
  trio::run(trio::RunOptions{.clock = &clock, .socket_factory = &s, .hostname_resolver = &s},
            [&]() -> Task<> {
              s.start = trio::current_time();
              trio::CancelScope scope(trio::current_time() + 5s);
              co_await scope.enter([&]() -> Task<> {
                auto stream = co_await trio::open_tcp_stream("test.example.com", 80);
                returned = true;
              });
              caught = scope.cancelled_caught();
              elapsed = trio::current_time() - s.start;
            });
  EXPECT_TRUE(caught);
  EXPECT_FALSE(returned);
  EXPECT_EQ(elapsed, 5s);
  EXPECT_EQ(s.sockets.size(), 4u);
  s.check(nullptr);
}

// ---- local_address ------------------------------------------------------------------------

TEST(OpenTcpStream, LocalAddressBindsEachSocketWithPortZero) {
  Scenario s(80, {{"1.1.1.1", 10ms, Result::kSuccess}});
  trio::OpenTcpStreamOptions options;
  options.local_address = "10.0.0.7";
  Outcome out = run_scenario(s, options);
  EXPECT_EQ(out.winner_ip, "1.1.1.1");
  const auto& state = *s.sockets.at("1.1.1.1");
  EXPECT_EQ(state.bound.to_string(), "10.0.0.7:0");
#ifdef IP_BIND_ADDRESS_NO_PORT
  EXPECT_EQ(state.options.at({IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT}), 1);
#endif
}

TEST(OpenTcpStream, LocalAddressOfTheOtherFamilyFailsThatAttempt) {
  Scenario s(80, {{"::1", 10ms, Result::kSuccess}, {"1.1.1.1", 10ms, Result::kSuccess}});
  trio::OpenTcpStreamOptions options;
  options.local_address = "0.0.0.0";  // forces IPv4
  s.every_socket_connects = false;
  Outcome out = run_scenario(s, options);
  EXPECT_EQ(out.winner_ip, "1.1.1.1");
  EXPECT_EQ(s.socket_count, 2);
  EXPECT_FALSE(s.sockets.count("::1"));  // failed before connecting
  EXPECT_EQ(s.connect_times, times({{"1.1.1.1", 0ms}}));
}

TEST(OpenTcpStream, NegativeDelayIsAValueError) {
  Scenario s(80, {{"1.1.1.1", 10ms, Result::kSuccess}});
  trio::OpenTcpStreamOptions options;
  options.happy_eyeballs_delay = -1ms;
  Outcome out = run_scenario(s, options);
  EXPECT_TRUE(trio::holds<trio::ValueError>(out.error));
  EXPECT_EQ(s.socket_count, 0);
}

TEST(OpenTcpStream, NonNumericLocalAddressIsAValueError) {
  Scenario s(80, {{"1.1.1.1", 10ms, Result::kSuccess}});
  trio::OpenTcpStreamOptions options;
  options.local_address = "localhost";
  Outcome out = run_scenario(s, options);
  EXPECT_TRUE(trio::holds<trio::ValueError>(out.error));
}

// ---- helpers --------------------------------------------------------------------------------

TEST(OpenTcpStream, FormatHostPortBracketsIpv6) {
  EXPECT_EQ(trio::net_internal::format_host_port("example.com", 80), "example.com:80");
  EXPECT_EQ(trio::net_internal::format_host_port("::1", 443), "[::1]:443");
}

TEST(OpenTcpStream, Rfc6555ReorderMovesTheFirstOtherFamilySecond) {
  auto entry = [](int family) {
    socket::AddrInfo ai;
    ai.family = family;
    return ai;
  };
  auto families = [](const std::vector<socket::AddrInfo>& v) {
    std::vector<int> out;
    for (const auto& ai : v) out.push_back(ai.family);
    return out;
  };
  std::vector<socket::AddrInfo> v = {entry(AF_INET), entry(AF_INET), entry(AF_INET),
                                     entry(AF_INET6), entry(AF_INET6)};
  trio::net_internal::reorder_for_rfc_6555_section_5_4(v);
  EXPECT_EQ(families(v), (std::vector<int>{AF_INET, AF_INET6, AF_INET, AF_INET, AF_INET6}));
  std::vector<socket::AddrInfo> same = {entry(AF_INET6), entry(AF_INET6)};
  trio::net_internal::reorder_for_rfc_6555_section_5_4(same);
  EXPECT_EQ(families(same), (std::vector<int>{AF_INET6, AF_INET6}));
}

}  // namespace
