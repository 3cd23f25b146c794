// SPDX-License-Identifier: Apache-2.0 OR MIT
#include "runtime/net/socket_calls.h"

namespace trio::net_internal {

std::unique_ptr<socket::Socket> new_socket(int family, int type, int protocol) {
  return socket::socket(family, type, protocol);
}

Task<std::vector<socket::AddrInfo>> resolve(std::string_view host, uint16_t port, int family,
                                            int type, int protocol, int flags) {
  // Not a coroutine: getaddrinfo's Task is the only frame. `host` is borrowed until that Task
  // completes, as with any `co_await f(view)`.
  return socket::getaddrinfo(host, port, family, type, protocol, flags);
}

}  // namespace trio::net_internal
