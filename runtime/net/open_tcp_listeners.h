// SPDX-License-Identifier: Apache-2.0 OR MIT
//
// `open_tcp_listeners`: one listening SocketListener per local address a host and port resolve
// to (Trio's `trio.open_tcp_listeners`, `_highlevel_open_tcp_listeners.py`) — typically one for
// IPv4 and one for IPv6 when `host` is "" (every interface).
//
// Example:
//   auto listeners = co_await trio::open_tcp_listeners(0, "127.0.0.1");  // port 0: any free
//   uint16_t port = listeners[0]->socket().getsockname().port();
//
// For each result of getaddrinfo(host, port, SOCK_STREAM, AI_PASSIVE): make a socket, set
// SO_REUSEADDR (a restarted server can rebind while old connections linger in TIME_WAIT) and,
// for IPv6, IPV6_V6ONLY (so the IPv6 socket does not also claim the IPv4 port the IPv4 socket
// wants), bind, listen(backlog). A family the system does not support (socket() fails with
// EAFNOSUPPORT) is skipped — unless every one is, then std::system_error(EAFNOSUPPORT, "This
// system doesn't support any of the kinds of socket that that address could use"), nested
// (std::nested_exception) over an ExceptionGroup of the individual errors, as Trio's `from`.
// Any other error closes every socket opened so far and propagates.
//
// Checkpoints: a checkpoint (the lookup).
#ifndef TRIO_RUNTIME_NET_OPEN_TCP_LISTENERS_H_
#define TRIO_RUNTIME_NET_OPEN_TCP_LISTENERS_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string_view>
#include <vector>

#include "runtime/net/socket_listener.h"
#include "runtime/task.h"

namespace trio {

// The largest listen() backlog we ask for, and the default: the kernel caps it at somaxconn.
inline constexpr int kMaxListenBacklog = 0xFFFF;

// `host` "" = every local interface (the wildcard addresses); `backlog` nullopt = the maximum,
// larger values are capped at kMaxListenBacklog; ValueError if negative.
Task<std::vector<std::unique_ptr<SocketListener>>> open_tcp_listeners(
    uint16_t port, std::string_view host = "", std::optional<int> backlog = std::nullopt);

}  // namespace trio

#endif  // TRIO_RUNTIME_NET_OPEN_TCP_LISTENERS_H_
