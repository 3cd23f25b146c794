// SPDX-License-Identifier: Apache-2.0 OR MIT
#include "runtime/net/open_tcp_listeners.h"

#include <algorithm>
#include <exception>
#include <string>
#include <system_error>
#include <utility>

#include "runtime/errors.h"
#include "runtime/net/socket_calls.h"

namespace trio {

namespace {

// Makes, configures, binds and starts one listening socket. Closes it if any step fails.
std::unique_ptr<SocketListener> listen_on(const socket::AddrInfo& ai,
                                          std::unique_ptr<socket::Socket> sock, int backlog) {
  try {
    sock->setsockopt(SOL_SOCKET, SO_REUSEADDR, 1);
    if (ai.family == AF_INET6) sock->setsockopt(IPPROTO_IPV6, IPV6_V6ONLY, 1);
    sock->bind(ai.address);
    sock->listen(backlog);
  } catch (...) {
    sock->close();
    throw;
  }
  // If the constructor raises, the socket it took is closed with it.
  return std::make_unique<SocketListener>(std::move(sock));
}

}  // namespace

Task<std::vector<std::unique_ptr<SocketListener>>> open_tcp_listeners(uint16_t port,
                                                                      std::string_view host,
                                                                      std::optional<int> backlog) {
  if (backlog && *backlog < 0) throw ValueError("backlog must be non-negative");
  const int listen_backlog = std::min(backlog.value_or(kMaxListenBacklog), kMaxListenBacklog);
  const std::string host_copy(host);
  std::vector<socket::AddrInfo> addresses =
      co_await net_internal::resolve(host_copy, port, AF_UNSPEC, SOCK_STREAM, 0, AI_PASSIVE);

  // From here on nothing suspends: the sockets are made, bound and listening synchronously.
  std::vector<std::unique_ptr<SocketListener>> listeners;
  std::vector<std::exception_ptr> unsupported_families;
  try {
    for (const socket::AddrInfo& ai : addresses) {
      std::unique_ptr<socket::Socket> sock;
      try {
        sock = net_internal::new_socket(ai.family, ai.type, ai.protocol);
      } catch (const std::system_error& e) {
        if (e.code() != std::errc::address_family_not_supported) throw;
        unsupported_families.push_back(std::current_exception());
        continue;
      }
      listeners.push_back(listen_on(ai, std::move(sock), listen_backlog));
    }
  } catch (...) {
    for (auto& listener : listeners) listener->socket().close();
    throw;
  }
  if (!unsupported_families.empty() && listeners.empty()) {
    const std::string message =
        "This system doesn't support any of the kinds of socket that that address could use";
    try {
      std::rethrow_exception(make_exception_group(message, std::move(unsupported_families)));
    } catch (...) {
      std::throw_with_nested(std::system_error(
          std::make_error_code(std::errc::address_family_not_supported), message));
    }
  }
  co_return listeners;
}

}  // namespace trio
