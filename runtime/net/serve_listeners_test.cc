// SPDX-License-Identifier: Apache-2.0 OR MIT
//
// serve_listeners, ported from Trio's test_highlevel_serve_listeners.py with a scripted listener
// (any Listener<S> works, which this also proves): each connection runs the handler and is then
// closed, started() hands back the listeners, listeners are closed when serving ends, unknown
// accept errors propagate, EMFILE is logged and retried every 100 ms (instant on a MockClock),
// and connections can run in a caller's nursery.
#include "runtime/net/serve_listeners.h"

#include <gtest/gtest.h>

#include <cerrno>
#include <deque>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <system_error>
#include <vector>

#include "runtime/net/socket_stream.h"
#include "runtime/net/testing/fake_socket.h"
#include "runtime/trio.h"
#include "simclock/mock_clock.h"

using namespace std::chrono_literals;

namespace {

using trio::Task;
using trio::net_testing::FakeSocket;
using trio::net_testing::os_error;

// A Listener<SocketStream> that accepts scripted connections (fake sockets) or raises scripted
// errors; blocks when the script is empty.
class ScriptedListener final : public trio::Listener<trio::SocketStream> {
 public:
  // Each entry: a connection to hand out, or an exception to raise.
  std::deque<std::variant<std::unique_ptr<FakeSocket>, std::exception_ptr>> script;
  // When set, raised on every accept (after the script is used up).
  std::exception_ptr always_raise;
  int accept_calls = 0;
  bool closed = false;
  // Also set by aclose(), for tests that outlive the listener (serve_listeners owns it).
  bool* closed_out = nullptr;

  Task<std::unique_ptr<trio::SocketStream>> accept() override {
    ++accept_calls;
    if (closed) throw trio::ClosedResourceError();
    co_await trio::checkpoint();
    if (!script.empty()) {
      auto next = std::move(script.front());
      script.pop_front();
      if (auto* e = std::get_if<std::exception_ptr>(&next)) std::rethrow_exception(*e);
      co_return std::make_unique<trio::SocketStream>(std::move(std::get<0>(next)));
    }
    if (always_raise) std::rethrow_exception(always_raise);
    co_await trio::sleep_forever();
    throw std::logic_error("unreachable");
  }
  Task<> aclose() override {
    closed = true;
    if (closed_out) *closed_out = true;
    co_await trio::checkpoint();
  }
};

std::unique_ptr<FakeSocket> connection(std::string incoming,
                                       std::vector<std::shared_ptr<FakeSocket::State>>* states) {
  auto sock = std::make_unique<FakeSocket>(AF_INET, SOCK_STREAM);
  sock->state()->incoming = std::move(incoming);
  states->push_back(sock->state());
  return sock;
}

template <class F>
void run_test(F body) {
  trio::MockClock clock;
  clock.set_autojump_threshold(0s);
  trio::run(trio::RunOptions{.clock = &clock}, body);
}

TEST(ServeListeners, RunsTheHandlerPerConnectionAndClosesStreamsAndListeners) {
  std::vector<std::shared_ptr<FakeSocket::State>> conns;
  std::vector<std::unique_ptr<ScriptedListener>> listeners;
  std::vector<ScriptedListener*> raw;
  bool closed[2] = {false, false};
  for (int i = 0; i < 2; ++i) {
    auto l = std::make_unique<ScriptedListener>();
    l->closed_out = &closed[i];
    for (int j = 0; j < 3; ++j) l->script.emplace_back(connection("123", &conns));
    raw.push_back(l.get());
    listeners.push_back(std::move(l));
  }
  int handled = 0;
  std::vector<ScriptedListener*> started;
  run_test([&]() -> Task<> {
    auto handler = [&handled](trio::SocketStream& s) -> Task<> {
      std::string got = co_await s.receive_some(10);
      EXPECT_EQ(got, "123");
      co_await s.send_all("456");
      ++handled;
    };
    co_await trio::open_nursery([&](trio::Nursery& n) -> Task<> {
      started = co_await n.start<std::vector<ScriptedListener*>>(trio::serve_listeners, handler,
                                                                 std::move(listeners), nullptr);
      co_await trio::lowlevel::wait_all_tasks_blocked();
      n.cancel_scope().cancel();
    });
  });
  EXPECT_EQ(started, raw);
  EXPECT_EQ(handled, 6);
  ASSERT_EQ(conns.size(), 6u);
  for (const auto& c : conns) {
    EXPECT_EQ(c->sent, "456");
    EXPECT_TRUE(c->closed);
  }
  EXPECT_TRUE(closed[0]);  // serve_listeners closes its listeners when it ends
  EXPECT_TRUE(closed[1]);
}

TEST(ServeListeners, UnrecognizedAcceptErrorsPropagate) {
  std::vector<std::exception_ptr> errors = {
      std::make_exception_ptr(std::out_of_range("KeyError")),
      std::make_exception_ptr(os_error(ECONNABORTED, "ECONNABORTED"))};
  for (const auto& error : errors) {
    std::vector<std::unique_ptr<ScriptedListener>> listeners;
    listeners.push_back(std::make_unique<ScriptedListener>());
    listeners[0]->always_raise = error;
    std::exception_ptr caught;
    run_test([&]() -> Task<> {
      auto handler = [](trio::SocketStream&) -> Task<> { co_return; };
      try {
        co_await trio::serve_listeners(handler, std::move(listeners));
      } catch (...) {
        caught = std::current_exception();
      }
    });
    ASSERT_TRUE(trio::holds<trio::ExceptionGroup>(caught)) << trio::describe(caught);
    try {
      std::rethrow_exception(caught);
    } catch (const trio::ExceptionGroup& g) {
      auto leaves = g.leaves();
      ASSERT_EQ(leaves.size(), 1u);
      EXPECT_EQ(trio::describe(leaves[0]), trio::describe(error));
    }
  }
}

TEST(ServeListeners, CapacityErrorsAreLoggedAndRetriedEvery100ms) {
  std::vector<std::unique_ptr<ScriptedListener>> listeners;
  listeners.push_back(std::make_unique<ScriptedListener>());
  ScriptedListener* listener = listeners[0].get();
  listener->always_raise = std::make_exception_ptr(os_error(EMFILE, "out of file descriptors"));
  int accept_calls = 0;
  testing::internal::CaptureStderr();
  run_test([&]() -> Task<> {
    auto handler = [](trio::SocketStream&) -> Task<> { co_return; };
    // Retries at 0, 100, ..., 900 ms: 10 attempts in 950 ms.
    co_await trio::move_on_after(950ms, [&]() -> Task<> {
      co_await trio::open_nursery([&](trio::Nursery& n) -> Task<> {
        n.start_soon(
            [&]() -> Task<> { co_await trio::serve_listeners(handler, std::move(listeners)); });
        co_await trio::sleep(949ms);
        accept_calls = listener->accept_calls;  // still alive: serve_listeners owns it
      });
    });
  });
  const std::string log = testing::internal::GetCapturedStderr();
  EXPECT_EQ(accept_calls, 10);
  size_t lines = 0;
  for (size_t pos = 0; (pos = log.find("retrying", pos)) != std::string::npos; ++pos) ++lines;
  EXPECT_EQ(lines, 10u) << log;
  EXPECT_NE(log.find("accept returned EMFILE"), std::string::npos) << log;
}

TEST(ServeListeners, ConnectionsRunInTheGivenHandlerNursery) {
  std::vector<std::shared_ptr<FakeSocket::State>> conns;
  std::vector<std::unique_ptr<ScriptedListener>> listeners;
  listeners.push_back(std::make_unique<ScriptedListener>());
  for (int i = 0; i < 10; ++i) listeners[0]->script.emplace_back(connection("", &conns));
  size_t handler_children = 0;
  size_t serving_children = 0;
  run_test([&]() -> Task<> {
    auto handler = [](trio::SocketStream&) -> Task<> { co_await trio::sleep(1s); };
    co_await trio::open_nursery([&](trio::Nursery& handler_nursery) -> Task<> {
      co_await trio::open_nursery([&](trio::Nursery& n) -> Task<> {
        co_await n.start<std::vector<ScriptedListener*>>(trio::serve_listeners, handler,
                                                         std::move(listeners), &handler_nursery);
        co_await trio::lowlevel::wait_all_tasks_blocked();
        handler_children = handler_nursery.child_count();
        serving_children = n.child_count();  // serve_listeners itself
        n.cancel_scope().cancel();
      });
      // serve_listeners is gone; its connections live on in handler_nursery until they finish.
      EXPECT_EQ(handler_nursery.child_count(), 10u);
    });
  });
  EXPECT_EQ(handler_children, 10u);
  EXPECT_EQ(serving_children, 1u);
  for (const auto& c : conns) EXPECT_TRUE(c->closed);
}

TEST(ServeListeners, TwoServersWithoutTaskStatusRunSideBySide) {
  std::vector<std::shared_ptr<FakeSocket::State>> conns;
  std::vector<std::unique_ptr<ScriptedListener>> a, b;
  a.push_back(std::make_unique<ScriptedListener>());
  b.push_back(std::make_unique<ScriptedListener>());
  a[0]->script.emplace_back(connection("x", &conns));
  b[0]->script.emplace_back(connection("y", &conns));
  int handled = 0;
  run_test([&]() -> Task<> {
    auto handler = [&handled](trio::SocketStream&) -> Task<> {
      ++handled;
      co_return;
    };
    co_await trio::open_nursery([&](trio::Nursery& n) -> Task<> {
      n.start_soon(trio::serve_listeners, handler, std::move(a), nullptr);
      n.start_soon(trio::serve_listeners, handler, std::move(b), nullptr);
      co_await trio::lowlevel::wait_all_tasks_blocked();
      n.cancel_scope().cancel();
    });
  });
  EXPECT_EQ(handled, 2);
  for (const auto& c : conns) EXPECT_TRUE(c->closed);
}

}  // namespace
