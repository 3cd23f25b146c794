// SPDX-License-Identifier: Apache-2.0 OR MIT
#include "runtime/net/socket_listener.h"

#include <cerrno>
#include <exception>
#include <system_error>
#include <utility>

#include "runtime/errors.h"
#include "runtime/lowlevel.h"

namespace trio {

namespace net_internal {

bool is_ignorable_accept_errno(int error) {
  switch (error) {
    // A connection reset or aborted before we accepted it; a firewall (EPERM); Linux reporting
    // the new connection's pending network errors on accept (the rest) — see accept(2).
    case ECONNABORTED:
    case EPERM:
    case EPROTO:
    case ENETDOWN:
    case ENOPROTOOPT:
    case EHOSTDOWN:
#ifdef ENONET
    case ENONET:
#endif
    case EHOSTUNREACH:
    case EOPNOTSUPP:
    case ENETUNREACH:
      return true;
    default:
      return false;
  }
}

}  // namespace net_internal

SocketListener::SocketListener(std::unique_ptr<socket::Socket> socket)
    : socket_(std::move(socket)) {
  if (!socket_) throw ValueError("SocketListener requires a socket, got null");
  if (socket_->type() != SOCK_STREAM)
    throw ValueError("SocketListener requires a SOCK_STREAM socket");
  bool listening = true;
  try {
    listening = socket_->getsockopt(SOL_SOCKET, SO_ACCEPTCONN) != 0;
  } catch (const std::system_error&) {
    // The socket cannot tell (some systems, some simulated sockets): trust the caller, as Trio.
  }
  if (!listening) throw ValueError("SocketListener requires a listening socket");
}

SocketListener::~SocketListener() = default;

Task<std::unique_ptr<SocketStream>> SocketListener::accept() {
  while (true) {
    std::unique_ptr<socket::Socket> accepted;
    try {
      socket::AcceptResult result = co_await socket_->accept();
      accepted = std::move(result.socket);
    } catch (const std::system_error& e) {
      const int error = e.code().value();
      if (e.code() == std::errc::bad_file_descriptor || e.code() == std::errc::not_a_socket)
        throw ClosedResourceError("this socket was already closed");
      if (!net_internal::is_ignorable_accept_errno(error)) throw;
    }
    if (accepted) co_return std::make_unique<SocketStream>(std::move(accepted));
  }
}

Task<> SocketListener::aclose() {
  socket_->close();
  co_await checkpoint();
}

}  // namespace trio
