// SPDX-License-Identifier: Apache-2.0 OR MIT
#include "runtime/net/socket_stream.h"

#include <cerrno>
#include <string>
#include <system_error>
#include <utility>

#include "runtime/errors.h"
#include "runtime/lowlevel.h"

namespace trio {

namespace net_internal {

void rethrow_as_stream_error() {
  try {
    throw;
  } catch (const std::system_error& e) {
    // Trio's _closed_stream_errnos: the fd is gone, which only our own close() does.
    if (e.code() == std::errc::bad_file_descriptor || e.code() == std::errc::not_a_socket)
      throw ClosedResourceError("this socket was already closed");
    throw BrokenResourceError(std::string("socket connection broken: ") + e.what(), e.code());
  }
}

}  // namespace net_internal

namespace {

// Sets an option that may not apply to this socket; the OS saying so (ENOPROTOOPT, EOPNOTSUPP,
// or anything else it reports) is ignored, as Trio ignores OSError here. Other errors propagate.
void set_option_if_supported(socket::Socket& s, int level, int option, int value) {
  try {
    s.setsockopt(level, option, value);
  } catch (const std::system_error&) {
  }
}

}  // namespace

SocketStream::SocketStream(std::unique_ptr<socket::Socket> socket) : socket_(std::move(socket)) {
  if (!socket_) throw ValueError("SocketStream requires a socket, got null");
  if (socket_->type() != SOCK_STREAM)
    throw ValueError("SocketStream requires a SOCK_STREAM socket");
  // TCP options mean nothing to AF_UNIX stream sockets: do not even ask.
  const int family = socket_->family();
  if (family != AF_INET && family != AF_INET6) return;
  // Small writes go out at once: a stream user decides when to batch, not Nagle's algorithm.
  set_option_if_supported(*socket_, IPPROTO_TCP, TCP_NODELAY, 1);
#ifdef TCP_NOTSENT_LOWAT
  set_option_if_supported(*socket_, IPPROTO_TCP, TCP_NOTSENT_LOWAT, kNotSentLowWaterBytes);
#endif
}

SocketStream::~SocketStream() = default;

Task<> SocketStream::send_all(ConstBytes data) {
  if (socket_->did_shutdown_write()) throw ClosedResourceError("can't send data after sending EOF");
  auto guard = send_conflict_.enter();
  try {
    if (data.empty()) {
      if (socket_->is_closed()) throw ClosedResourceError("socket was already closed");
      co_await checkpoint();
      co_return;
    }
    size_t total_sent = 0;
    while (total_sent < data.size()) total_sent += co_await socket_->send(data.subspan(total_sent));
  } catch (const std::system_error&) {
    net_internal::rethrow_as_stream_error();
  }
}

Task<> SocketStream::wait_send_all_might_not_block() {
  auto guard = send_conflict_.enter();
  if (socket_->is_closed()) throw ClosedResourceError("socket was already closed");
  try {
    co_await socket_->wait_writable();
  } catch (const std::system_error&) {
    net_internal::rethrow_as_stream_error();
  }
}

Task<> SocketStream::send_eof() {
  auto guard = send_conflict_.enter();
  co_await checkpoint();
  // Idempotent: some systems (macOS) raise ENOTCONN on a second shutdown.
  if (socket_->did_shutdown_write()) co_return;
  try {
    socket_->shutdown(SHUT_WR);
  } catch (const std::system_error&) {
    net_internal::rethrow_as_stream_error();
  }
}

Task<size_t> SocketStream::receive_some_impl(MutableBytes buffer) {
  try {
    co_return co_await socket_->recv(buffer);
  } catch (const std::system_error&) {
    net_internal::rethrow_as_stream_error();
  }
}

Task<> SocketStream::aclose() {
  socket_->close();
  co_await checkpoint();
}

void SocketStream::setsockopt(int level, int option, int value) {
  socket_->setsockopt(level, option, value);
}

int SocketStream::getsockopt(int level, int option) const {
  return socket_->getsockopt(level, option);
}

}  // namespace trio
