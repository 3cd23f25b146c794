// SPDX-License-Identifier: Apache-2.0 OR MIT
//
// The socket layer (Trio's `trio.socket`) and the socket seam.
//
// `Socket` is an interface: the OS implementation (a non-blocking fd on the run's IoBackend)
// is what production uses; io_fake/'s simulated network implements the same interface with
// no fd at all. Everything above it — SocketStream, SocketListener, open_tcp_stream (Happy
// Eyeballs), serve_tcp, user protocols — is the same code in production and in simulation.
// Which implementation a run gets is chosen by the run's `SocketFactory` and
// `HostnameResolver` (RunOptions::socket_factory / hostname_resolver, or
// set_custom_socket_factory / set_custom_hostname_resolver inside the run; default: the OS).
//
// Every blocking method follows Trio's pattern (spec §1.10): check for cancellation, try the
// operation once, and on success yield (a cancel-shielded schedule point); if it would block,
// wait for readiness and retry. So each one is a checkpoint, and Cancelled means the operation
// did not happen — except connect(): a cancelled connect closes the socket.
//
// Errors: operating-system errors are `std::system_error` with the errno in `code()` (Trio's
// OSError); a closed socket raises std::system_error(EBADF) here (SocketStream turns that into
// ClosedResourceError); misuse (bad arguments) raises ValueError. Name resolution failures
// raise `GaiError`.
//
// Example (a UDP round trip on loopback):
//   auto a = trio::socket::socket(AF_INET, SOCK_DGRAM);
//   auto b = trio::socket::socket(AF_INET, SOCK_DGRAM);
//   a->bind(trio::socket::Address::parse("127.0.0.1", 0));
//   co_await b->sendto("ping", a->getsockname());
//   std::array<std::byte, 64> buf;
//   auto [n, from] = co_await a->recvfrom(buf);
#ifndef TRIO_RUNTIME_NET_SOCKET_H_
#define TRIO_RUNTIME_NET_SOCKET_H_

#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <cstddef>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "runtime/net/address.h"
#include "runtime/net/bytes.h"
#include "runtime/task.h"

namespace trio::socket {

class Socket;

struct AcceptResult {
  std::unique_ptr<Socket> socket;
  Address address;  // the peer's
};

struct RecvFromResult {
  size_t size = 0;         // bytes stored in the buffer
  Address address;         // the sender's
  bool truncated = false;  // the datagram was longer than the buffer (MSG_TRUNC)
};

class Socket {
 public:
  // Closes the socket if it is still open.
  virtual ~Socket() = default;

  virtual int family() const = 0;  // AF_INET, AF_INET6, AF_UNIX
  virtual int type() const = 0;    // SOCK_STREAM, SOCK_DGRAM (without SOCK_NONBLOCK/CLOEXEC)
  virtual int protocol() const = 0;
  // The OS file descriptor, or -1 for a socket that has none (simulated) or is closed.
  virtual int fileno() const { return -1; }

  // Closes now. Tasks blocked on this socket wake with ClosedResourceError. Idempotent; not a
  // checkpoint.
  virtual void close() = 0;
  virtual bool is_closed() const = 0;

  // Not checkpoints (they never block): bind to a numeric address; start listening.
  virtual void bind(const Address& address) = 0;
  virtual void listen(int backlog) = 0;

  // Checkpoints (see the file comment).
  virtual Task<AcceptResult> accept() = 0;
  // Connects. If cancelled, the socket is closed before Cancelled propagates (a half-made
  // connection cannot be resumed). A refused or unreachable connection raises
  // std::system_error(ECONNREFUSED / ENETUNREACH / ...).
  virtual Task<> connect(const Address& address) = 0;
  // Sends some of `data` (at least one byte unless `data` is empty); returns how many. Never
  // raises SIGPIPE: a broken connection is std::system_error(EPIPE).
  virtual Task<size_t> send(ConstBytes data) = 0;
  // Receives into `buffer`; returns the count, 0 at EOF (stream sockets).
  virtual Task<size_t> recv(MutableBytes buffer) = 0;
  virtual Task<size_t> sendto(ConstBytes data, const Address& address) = 0;
  virtual Task<RecvFromResult> recvfrom(MutableBytes buffer) = 0;
  // Blocks until the socket is writable (SocketStream::wait_send_all_might_not_block).
  virtual Task<> wait_writable() = 0;
  // Not a checkpoint: true if recv would not block now.
  virtual bool is_readable() const = 0;

  // SHUT_RD, SHUT_WR or SHUT_RDWR. Not a checkpoint.
  virtual void shutdown(int how) = 0;
  // True once shutdown(SHUT_WR or SHUT_RDWR) succeeded (Trio's did_shutdown_SHUT_WR).
  virtual bool did_shutdown_write() const = 0;

  // Integer-valued socket options (TCP_NODELAY, SO_REUSEADDR, IPV6_V6ONLY, SO_ERROR,
  // SO_ACCEPTCONN, ...). A simulated socket rejects options it does not model with
  // std::system_error(ENOPROTOOPT).
  virtual void setsockopt(int level, int option, int value) = 0;
  virtual int getsockopt(int level, int option) const = 0;

  virtual Address getsockname() const = 0;
  // std::system_error(ENOTCONN) if not connected.
  virtual Address getpeername() const = 0;
};

// ---- the seam -----------------------------------------------------------------------------

// Makes the sockets of a run (Trio's trio.abc.SocketFactory).
class SocketFactory {
 public:
  virtual ~SocketFactory() = default;
  // std::system_error(EAFNOSUPPORT) for a family it does not support.
  virtual std::unique_ptr<Socket> socket(int family, int type, int protocol) = 0;
};

struct AddrInfo {
  int family = 0;
  int type = 0;
  int protocol = 0;
  std::string canonical_name;
  Address address;
};

struct NameInfo {
  std::string host;
  std::string service;
};

// A name-resolution failure (Trio's socket.gaierror): `code()` is the EAI_* value.
class GaiError : public std::runtime_error {
 public:
  GaiError(int code, const std::string& message) : std::runtime_error(message), code_(code) {}
  int code() const { return code_; }

 private:
  int code_;
};

// Resolves names for a run (Trio's trio.abc.HostnameResolver). Called only for what the numeric
// fast path could not do; `host` is never empty.
class HostnameResolver {
 public:
  virtual ~HostnameResolver() = default;
  virtual Task<std::vector<AddrInfo>> getaddrinfo(std::string host, std::string port, int family,
                                                  int type, int protocol, int flags) = 0;
  virtual Task<NameInfo> getnameinfo(Address address, int flags) = 0;
};

// Replaces the current run's socket factory / resolver (null = the default: RunOptions', else
// the OS); returns the previous one. Per run (a RunVar), as in Trio.
SocketFactory* set_custom_socket_factory(SocketFactory* factory);
HostnameResolver* set_custom_hostname_resolver(HostnameResolver* resolver);

// ---- functions ----------------------------------------------------------------------------

// A new socket from the run's factory. Not a checkpoint.
std::unique_ptr<Socket> socket(int family = AF_INET, int type = SOCK_STREAM, int protocol = 0);
// A connected pair of OS sockets (never from the factory, as in Trio).
std::pair<std::unique_ptr<Socket>, std::unique_ptr<Socket>> socketpair(int family = AF_UNIX,
                                                                       int type = SOCK_STREAM,
                                                                       int protocol = 0);
// Adopts an open OS socket fd (made non-blocking; closed with the Socket). ValueError if `fd`
// is not a socket.
std::unique_ptr<Socket> from_fd(int fd);

// Name resolution. Numeric hosts and ports resolve inline (a checkpoint); anything else goes
// to the run's resolver — by default the OS's getaddrinfo in a worker thread, abandoned (its
// result dropped) if the caller is cancelled. `host` "" means the wildcard with AI_PASSIVE,
// else loopback; `port` may be a number or a service name. GaiError on failure.
Task<std::vector<AddrInfo>> getaddrinfo(std::string_view host, std::string_view port,
                                        int family = 0, int type = 0, int protocol = 0,
                                        int flags = 0);
Task<std::vector<AddrInfo>> getaddrinfo(std::string_view host, uint16_t port, int family = 0,
                                        int type = 0, int protocol = 0, int flags = 0);
Task<NameInfo> getnameinfo(const Address& address, int flags = 0);

}  // namespace trio::socket

#endif  // TRIO_RUNTIME_NET_SOCKET_H_
