// SPDX-License-Identifier: Apache-2.0 OR MIT
//
// `serve_tcp`: a TCP server in one call — open_tcp_listeners + serve_listeners (Trio's
// `trio.serve_tcp`). Run it with Nursery::start to learn the listeners (and so the port, when
// you asked for port 0):
//
//   auto echo = [](trio::SocketStream& s) -> trio::Task<> {
//     std::array<std::byte, 4096> buf;
//     while (size_t n = co_await s.receive_some(buf))
//       co_await s.send_all(trio::ConstBytes(buf.data(), n));
//   };
//   trio::ServeTcpOptions options;
//   options.host = "127.0.0.1";
//   std::vector<trio::SocketListener*> listeners =
//       co_await nursery.start<std::vector<trio::SocketListener*>>(trio::serve_tcp, echo, 0,
//                                                                  options);
//   uint16_t port = listeners[0]->socket().getsockname().port();
//
// Or without start: `co_await trio::serve_tcp(echo, 8080);` — runs until cancelled.
//
// Errors: those of open_tcp_listeners (before started()) and of serve_listeners (after).
// g++ 12: pass options as a named object, not a braced temporary inside a co_await expression.
#ifndef TRIO_RUNTIME_NET_SERVE_TCP_H_
#define TRIO_RUNTIME_NET_SERVE_TCP_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "runtime/net/open_tcp_listeners.h"
#include "runtime/net/serve_listeners.h"
#include "runtime/net/socket_listener.h"
#include "runtime/nursery.h"
#include "runtime/task.h"

namespace trio {

struct ServeTcpOptions {
  // As open_tcp_listeners: "" = every interface; nullopt = the maximum backlog.
  std::string host;
  std::optional<int> backlog;
  // As serve_listeners: null = a nursery of serve_tcp's own.
  Nursery* handler_nursery = nullptr;
};

namespace net_internal {

template <class Handler>
Task<> serve_tcp_impl(Handler handler, uint16_t port, ServeTcpOptions options,
                      TaskStatus<std::vector<SocketListener*>>* status) {
  std::vector<std::unique_ptr<SocketListener>> listeners =
      co_await open_tcp_listeners(port, options.host, options.backlog);
  // `status` null: nobody waits for started() (see serve_listeners_impl).
  co_await serve_listeners_impl<SocketListener, Handler>(std::move(handler), std::move(listeners),
                                                         options.handler_nursery, status);
}

// The function object behind trio::serve_tcp (passable to Nursery::start).
struct ServeTcpFn {
  template <class Handler>
  Task<> operator()(Handler handler, uint16_t port,
                    TaskStatus<std::vector<SocketListener*>>& status) const {
    return serve_tcp_impl<Handler>(std::move(handler), port, ServeTcpOptions(), &status);
  }
  template <class Handler>
  Task<> operator()(Handler handler, uint16_t port, ServeTcpOptions options,
                    TaskStatus<std::vector<SocketListener*>>& status) const {
    return serve_tcp_impl<Handler>(std::move(handler), port, std::move(options), &status);
  }
  template <class Handler>
  Task<> operator()(Handler handler, uint16_t port, ServeTcpOptions options = {}) const {
    return serve_tcp_impl<Handler>(std::move(handler), port, std::move(options), nullptr);
  }
};

}  // namespace net_internal

// serve_tcp(handler, port[, options][, task_status]): see above.
inline constexpr net_internal::ServeTcpFn serve_tcp{};

}  // namespace trio

#endif  // TRIO_RUNTIME_NET_SERVE_TCP_H_
