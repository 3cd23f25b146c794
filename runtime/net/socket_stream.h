// SPDX-License-Identifier: Apache-2.0 OR MIT
//
// `SocketStream`: a HalfCloseableStream over a connected SOCK_STREAM socket (Trio's
// `trio.SocketStream`, `_highlevel_socket.py`). What open_tcp_stream returns and what
// SocketListener / serve_tcp hand to handlers.
//
// Example:
//   auto stream = co_await trio::open_tcp_stream("example.com", 80);
//   co_await stream->send_all("GET / HTTP/1.0\r\n\r\n");
//   std::string reply = co_await stream->receive_some();
//   co_await stream->aclose();
//
// Errors (Trio's mapping of the socket's OS errors):
//   std::system_error(EBADF or ENOTSOCK)  -> ClosedResourceError("this socket was already closed")
//   any other std::system_error           -> BrokenResourceError("socket connection broken: ...")
//                                            whose os_error() is the original error code
// Errors the socket raises itself (ClosedResourceError when closed while blocked, Cancelled) pass
// through unchanged. Concurrent use of one direction — two send_all/wait_send_all_might_not_block
// /send_eof at once, or two receive_some at once — raises BusyResourceError.
//
// Checkpoints: every Task-returning method is a checkpoint (a cancel point and a schedule point),
// as the stream interfaces say. Construction and the option calls are not.
#ifndef TRIO_RUNTIME_NET_SOCKET_STREAM_H_
#define TRIO_RUNTIME_NET_SOCKET_STREAM_H_

#include <cstddef>
#include <memory>

#include "runtime/net/conflict_detector.h"
#include "runtime/net/socket.h"
#include "runtime/net/stream.h"
#include "runtime/task.h"

namespace trio {

class SocketStream final : public HalfCloseableStream {
 public:
  // What TCP_NOTSENT_LOWAT is set to: keeps the kernel's unsent backlog small, so
  // wait_send_all_might_not_block is meaningful (as Trio).
  static constexpr int kNotSentLowWaterBytes = 16 * 1024;

  // Takes ownership of a connected stream socket. ValueError if `socket` is null or not
  // SOCK_STREAM. Sets TCP_NODELAY and TCP_NOTSENT_LOWAT on TCP sockets; as Trio, an OS error from
  // either is ignored (the option may not apply), any other error propagates (and the socket
  // is closed, being owned by then). Not a checkpoint.
  explicit SocketStream(std::unique_ptr<socket::Socket> socket);
  // Closes the socket (without grace) if aclose() was not called.
  ~SocketStream() override;

  // SendStream. send_all: ClosedResourceError("can't send data after sending EOF") after
  // send_eof(); empty `data` is one checkpoint (ClosedResourceError if the socket is closed);
  // otherwise calls socket.send until every byte went.
  Task<> send_all(ConstBytes data) override;
  // Waits until the socket is writable. ClosedResourceError if closed.
  Task<> wait_send_all_might_not_block() override;
  // A checkpoint, then shutdown(SHUT_WR) unless that was done already (idempotent).
  Task<> send_eof() override;
  // Closes the socket, then checkpoints: closed even if the checkpoint raises Cancelled.
  Task<> aclose() override;

  // Socket options, passed straight to the socket (its std::system_error unmapped, as Trio).
  // Not checkpoints.
  void setsockopt(int level, int option, int value);
  int getsockopt(int level, int option) const;

  // The underlying socket (Trio's `.socket`).
  socket::Socket& socket() { return *socket_; }
  const socket::Socket& socket() const { return *socket_; }

 protected:
  Task<size_t> receive_some_impl(MutableBytes buffer) override;

 private:
  // Invariant: never null.
  std::unique_ptr<socket::Socket> socket_;
  // Held by send_all, wait_send_all_might_not_block and send_eof.
  ConflictDetector send_conflict_{"another task is using this stream for send"};
  // No receive-side detector, as in Trio: two receive_some calls that both find data (or EOF)
  // both succeed; two that both block get BusyResourceError from the IO backend's one-waiter
  // rule (lowlevel::wait_readable).
};

namespace net_internal {
// Rethrows the current exception (call only inside a catch block) with Trio's stream mapping:
// EBADF/ENOTSOCK -> ClosedResourceError, other std::system_error -> BrokenResourceError; any
// other exception unchanged.
[[noreturn]] void rethrow_as_stream_error();
}  // namespace net_internal

}  // namespace trio

#endif  // TRIO_RUNTIME_NET_SOCKET_STREAM_H_
