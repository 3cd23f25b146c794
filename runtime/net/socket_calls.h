// SPDX-License-Identifier: Apache-2.0 OR MIT
//
// Internal: the only two doors from the high-level networking code (open_tcp_stream,
// open_tcp_listeners) to the socket layer — making a socket and resolving a name. They call
// `trio::socket::socket()` and `trio::socket::getaddrinfo()`, so the run's SocketFactory and
// HostnameResolver (RunOptions, or io_fake/'s simulated network) decide what happens. Kept in
// one file so that //tools:seams_test's rule ("only runtime/net/socket*.cc may name the OS's
// socket functions") holds for the rest of the high-level code.
#ifndef TRIO_RUNTIME_NET_SOCKET_CALLS_H_
#define TRIO_RUNTIME_NET_SOCKET_CALLS_H_

#include <cstdint>
#include <memory>
#include <string_view>
#include <vector>

#include "runtime/net/socket.h"
#include "runtime/task.h"

namespace trio::net_internal {

// trio::socket::socket(family, type, protocol). Not a checkpoint.
std::unique_ptr<socket::Socket> new_socket(int family, int type, int protocol);

// trio::socket::getaddrinfo(host, port, family, type, protocol, flags). A checkpoint.
Task<std::vector<socket::AddrInfo>> resolve(std::string_view host, uint16_t port, int family,
                                            int type, int protocol, int flags);

}  // namespace trio::net_internal

#endif  // TRIO_RUNTIME_NET_SOCKET_CALLS_H_
