// SPDX-License-Identifier: Apache-2.0 OR MIT
//
// `SocketListener`: a Listener<SocketStream> over a listening SOCK_STREAM socket (Trio's
// `trio.SocketListener`). open_tcp_listeners makes these; serve_listeners runs them.
//
// Example:
//   auto sock = trio::socket::socket(AF_INET, SOCK_STREAM);
//   sock->bind(trio::socket::Address::parse("127.0.0.1", 0));
//   sock->listen(128);
//   trio::SocketListener listener(std::move(sock));
//   std::unique_ptr<trio::SocketStream> conn = co_await listener.accept();
//
// accept() retries silently when the OS reports a connection that died before it was accepted,
// or a firewall refusal (ECONNABORTED, EPERM, EPROTO, ENETDOWN, ENOPROTOOPT, EHOSTDOWN, ENONET,
// EHOSTUNREACH, EOPNOTSUPP, ENETUNREACH: Trio's list). It does *not* handle running out of
// descriptors (EMFILE, ENFILE, ENOMEM, ENOBUFS): those propagate as std::system_error, and
// serve_listeners retries them after a pause. As in Trio, several tasks may accept at once.
#ifndef TRIO_RUNTIME_NET_SOCKET_LISTENER_H_
#define TRIO_RUNTIME_NET_SOCKET_LISTENER_H_

#include <memory>

#include "runtime/net/socket.h"
#include "runtime/net/socket_stream.h"
#include "runtime/net/stream.h"
#include "runtime/task.h"

namespace trio {

class SocketListener final : public Listener<SocketStream> {
 public:
  // Takes ownership of a listening stream socket. ValueError if `socket` is null, not
  // SOCK_STREAM, or not listening (SO_ACCEPTCONN is 0; a socket that cannot answer that
  // question is trusted). Not a checkpoint.
  explicit SocketListener(std::unique_ptr<socket::Socket> socket);
  ~SocketListener() override;

  // Waits for and returns the next connection, as a SocketStream. A checkpoint.
  // Errors: ClosedResourceError (the listener was closed: EBADF/ENOTSOCK, or closed while
  // waiting); other std::system_error (EMFILE, ...) propagate; Cancelled.
  Task<std::unique_ptr<SocketStream>> accept() override;
  // Closes the socket, then checkpoints.
  Task<> aclose() override;

  socket::Socket& socket() { return *socket_; }
  const socket::Socket& socket() const { return *socket_; }

 private:
  // Invariant: never null.
  std::unique_ptr<socket::Socket> socket_;
};

namespace net_internal {
// True for the accept() errnos that mean "that one connection failed, try the next".
bool is_ignorable_accept_errno(int error);
}  // namespace net_internal

}  // namespace trio

#endif  // TRIO_RUNTIME_NET_SOCKET_LISTENER_H_
