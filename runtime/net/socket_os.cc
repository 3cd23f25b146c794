// SPDX-License-Identifier: Apache-2.0 OR MIT
//
// The operating system's sockets: `OsSocket` (a non-blocking, close-on-exec fd waited on through
// the run's IoBackend), the default SocketFactory, and the factory seam (`socket()`,
// set_custom_socket_factory). socketpair() and from_fd() always make OS sockets, as in Trio.
//
// Every blocking method is Trio's `_nonblocking_helper` (trio/_socket.py): checkpoint_if_cancelled,
// try the call once, and on success a cancel-shielded checkpoint; when it would block, wait for
// readiness and try again. So a Cancelled always means the call did not happen, and an
// operation that succeeds at once is still a schedule point.
#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <memory>
#include <string>
#include <system_error>
#include <utility>

#include "absl/functional/function_ref.h"
#include "absl/strings/str_cat.h"
#include "runtime/errors.h"
#include "runtime/lowlevel.h"
#include "runtime/net/socket.h"

namespace trio::socket {
namespace {

constexpr int kTypeFlags = SOCK_NONBLOCK | SOCK_CLOEXEC;

[[noreturn]] void throw_os_error(int error, std::string_view call, const Address* address) {
  std::string what(call);
  if (address) absl::StrAppend(&what, ": ", address->to_string());
  throw std::system_error(error, std::generic_category(), what);
}

[[noreturn]] void throw_closed() {
  throw std::system_error(EBADF, std::generic_category(), "socket was already closed");
}

class OsSocket final : public Socket {
 public:
  // Takes ownership of `fd` (already non-blocking and close-on-exec).
  OsSocket(int fd, int family, int type, int protocol)
      : fd_(fd), family_(family), type_(type & ~kTypeFlags), protocol_(protocol) {}
  OsSocket(const OsSocket&) = delete;
  OsSocket& operator=(const OsSocket&) = delete;
  ~OsSocket() override { close(); }

  int family() const override { return family_; }
  int type() const override { return type_; }
  int protocol() const override { return protocol_; }
  int fileno() const override { return fd_; }

  void close() override {
    if (fd_ < 0) return;
    const int fd = std::exchange(fd_, -1);
    // Wake the tasks waiting on the fd before it goes away (its number may be reused at once).
    // Outside a run (a socket destroyed after its run) nobody can be waiting.
    if (lowlevel::in_trio_run()) lowlevel::notify_closing(fd);
    ::close(fd);
  }
  bool is_closed() const override { return fd_ < 0; }

  void bind(const Address& address) override {
    if (::bind(open_fd(), address.sockaddr_ptr(), address.size()) < 0)
      throw_os_error(errno, "bind", &address);
  }
  void listen(int backlog) override {
    if (::listen(open_fd(), backlog) < 0) throw_os_error(errno, "listen", nullptr);
  }

  Task<AcceptResult> accept() override;
  Task<> connect(const Address& address) override;
  Task<size_t> send(ConstBytes data) override;
  Task<size_t> recv(MutableBytes buffer) override;
  Task<size_t> sendto(ConstBytes data, const Address& address) override;
  Task<RecvFromResult> recvfrom(MutableBytes buffer) override;
  Task<> wait_writable() override;

  bool is_readable() const override {
    pollfd p{open_fd(), POLLIN, 0};
    const int n = ::poll(&p, 1, 0);
    if (n < 0) throw_os_error(errno, "poll", nullptr);
    return n > 0;
  }

  void shutdown(int how) override {
    if (::shutdown(open_fd(), how) < 0) throw_os_error(errno, "shutdown", nullptr);
    if (how == SHUT_WR || how == SHUT_RDWR) did_shutdown_write_ = true;
  }
  bool did_shutdown_write() const override { return did_shutdown_write_; }

  void setsockopt(int level, int option, int value) override {
    if (::setsockopt(open_fd(), level, option, &value, sizeof value) < 0)
      throw_os_error(errno, "setsockopt", nullptr);
  }
  int getsockopt(int level, int option) const override {
    int value = 0;
    socklen_t size = sizeof value;
    if (::getsockopt(open_fd(), level, option, &value, &size) < 0)
      throw_os_error(errno, "getsockopt", nullptr);
    return value;
  }

  Address getsockname() const override {
    Address a;
    socklen_t size = Address::capacity();
    if (::getsockname(open_fd(), a.sockaddr_ptr(), &size) < 0)
      throw_os_error(errno, "getsockname", nullptr);
    a.set_size(size);
    return a;
  }
  Address getpeername() const override {
    Address a;
    socklen_t size = Address::capacity();
    if (::getpeername(open_fd(), a.sockaddr_ptr(), &size) < 0)
      throw_os_error(errno, "getpeername", nullptr);
    a.set_size(size);
    return a;
  }

 private:
  int open_fd() const {
    if (fd_ < 0) throw_closed();
    return fd_;
  }

  // The nonblocking helper: `attempt` is one non-blocking syscall returning -1 with errno set
  // on failure. `write` chooses the readiness to wait for. Returns the syscall's result.
  Task<ssize_t> nonblocking(bool write, const char* call, const Address* address,
                            absl::FunctionRef<ssize_t(int fd)> attempt);

  // Invariant: -1 once closed, never reopened.
  int fd_;
  int family_;
  int type_;  // without SOCK_NONBLOCK / SOCK_CLOEXEC
  int protocol_;
  // Set by a successful shutdown(SHUT_WR or SHUT_RDWR); never reset.
  bool did_shutdown_write_ = false;
};

Task<ssize_t> OsSocket::nonblocking(bool write, const char* call, const Address* address,
                                    absl::FunctionRef<ssize_t(int fd)> attempt) {
  co_await checkpoint_if_cancelled();
  for (;;) {
    const ssize_t result = attempt(open_fd());
    if (result >= 0) {
      co_await cancel_shielded_checkpoint();
      co_return result;
    }
    const int error = errno;
    if (error == EINTR) continue;
    if (error != EAGAIN && error != EWOULDBLOCK) throw_os_error(error, call, address);
    if (write) {
      co_await lowlevel::wait_writable(fd_);
    } else {
      co_await lowlevel::wait_readable(fd_);
    }
  }
}

Task<AcceptResult> OsSocket::accept() {
  AcceptResult result;
  socklen_t size = 0;
  auto attempt = [&](int fd) -> ssize_t {
    size = Address::capacity();
    return ::accept4(fd, result.address.sockaddr_ptr(), &size, kTypeFlags);
  };
  const int fd = static_cast<int>(co_await nonblocking(false, "accept", nullptr, attempt));
  result.socket = std::make_unique<OsSocket>(fd, family_, type_, protocol_);
  result.address.set_size(size);
  co_return result;
}

Task<> OsSocket::connect(const Address& address_ref) {
  const Address address = address_ref;  // the caller's may not outlive the first suspension
  // A connection cannot be abandoned half-made and resumed later, so a cancellation — even one
  // that arrives before the call, as in Trio — closes the socket.
  try {
    co_await checkpoint_if_cancelled();
    if (::connect(open_fd(), address.sockaddr_ptr(), address.size()) == 0) {
      co_await cancel_shielded_checkpoint();
      co_return;
    }
    if (errno != EINPROGRESS) throw_os_error(errno, "connect", &address);
    // Under way: the socket becomes writable when the attempt has finished, either way.
    co_await lowlevel::wait_writable(fd_);
  } catch (const Cancelled&) {
    close();
    throw;
  }
  const int error = getsockopt(SOL_SOCKET, SO_ERROR);
  if (error != 0) throw_os_error(error, "connect", &address);
}

Task<size_t> OsSocket::send(ConstBytes data) {
  auto attempt = [&](int fd) { return ::send(fd, data.data(), data.size(), MSG_NOSIGNAL); };
  co_return static_cast<size_t>(co_await nonblocking(true, "send", nullptr, attempt));
}

Task<size_t> OsSocket::recv(MutableBytes buffer) {
  auto attempt = [&](int fd) { return ::recv(fd, buffer.data(), buffer.size(), 0); };
  co_return static_cast<size_t>(co_await nonblocking(false, "recv", nullptr, attempt));
}

Task<size_t> OsSocket::sendto(ConstBytes data, const Address& address_ref) {
  const Address address = address_ref;
  auto attempt = [&](int fd) {
    return ::sendto(fd, data.data(), data.size(), MSG_NOSIGNAL, address.sockaddr_ptr(),
                    address.size());
  };
  co_return static_cast<size_t>(co_await nonblocking(true, "sendto", &address, attempt));
}

Task<RecvFromResult> OsSocket::recvfrom(MutableBytes buffer) {
  RecvFromResult result;
  iovec iov{buffer.data(), buffer.size()};
  msghdr msg{};
  auto attempt = [&](int fd) {
    msg = msghdr{};
    msg.msg_name = result.address.sockaddr_ptr();
    msg.msg_namelen = Address::capacity();
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    return ::recvmsg(fd, &msg, 0);
  };
  result.size = static_cast<size_t>(co_await nonblocking(false, "recvfrom", nullptr, attempt));
  result.address.set_size(msg.msg_namelen);
  result.truncated = (msg.msg_flags & MSG_TRUNC) != 0;
  co_return result;
}

Task<> OsSocket::wait_writable() { co_await lowlevel::wait_writable(open_fd()); }

class OsSocketFactory final : public SocketFactory {
 public:
  std::unique_ptr<Socket> socket(int family, int type, int protocol) override {
    const int fd = ::socket(family, type | kTypeFlags, protocol);
    if (fd < 0) throw_os_error(errno, "socket", nullptr);
    return std::make_unique<OsSocket>(fd, family, type, protocol);
  }
};

// Stateless, so one per process is fine (no state survives from one run to the next).
OsSocketFactory os_factory;

lowlevel::RunVar<SocketFactory*> custom_factory("trio.socket.socket_factory", nullptr);

int int_option(int fd, int option) {
  int value = 0;
  socklen_t size = sizeof value;
  if (::getsockopt(fd, SOL_SOCKET, option, &value, &size) < 0) {
    if (errno == ENOTSOCK) throw ValueError(absl::StrCat("from_fd: fd ", fd, " is not a socket"));
    throw_os_error(errno, "from_fd: getsockopt", nullptr);
  }
  return value;
}

}  // namespace

SocketFactory* set_custom_socket_factory(SocketFactory* factory) {
  SocketFactory* previous = custom_factory.get_or(nullptr);
  custom_factory.set(factory);
  return previous;
}

std::unique_ptr<Socket> socket(int family, int type, int protocol) {
  // Outside a run there is no run to ask: the OS's (Trio raises there; a socket made before
  // the run is useful, e.g. to hand a listener to it).
  if (lowlevel::in_trio_run()) {
    if (SocketFactory* f = custom_factory.get_or(nullptr)) return f->socket(family, type, protocol);
    if (SocketFactory* f = lowlevel::current_run_options().socket_factory)
      return f->socket(family, type, protocol);
  }
  return os_factory.socket(family, type, protocol);
}

std::pair<std::unique_ptr<Socket>, std::unique_ptr<Socket>> socketpair(int family, int type,
                                                                       int protocol) {
  int fds[2];
  if (::socketpair(family, type | kTypeFlags, protocol, fds) < 0)
    throw_os_error(errno, "socketpair", nullptr);
  return {std::make_unique<OsSocket>(fds[0], family, type, protocol),
          std::make_unique<OsSocket>(fds[1], family, type, protocol)};
}

std::unique_ptr<Socket> from_fd(int fd) {
  const int family = int_option(fd, SO_DOMAIN);
  const int type = int_option(fd, SO_TYPE);
  const int protocol = int_option(fd, SO_PROTOCOL);
  const int flags = ::fcntl(fd, F_GETFL);
  if (flags < 0 || ::fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0)
    throw_os_error(errno, "from_fd: fcntl", nullptr);
  const int fd_flags = ::fcntl(fd, F_GETFD);
  if (fd_flags < 0 || ::fcntl(fd, F_SETFD, fd_flags | FD_CLOEXEC) < 0)
    throw_os_error(errno, "from_fd: fcntl", nullptr);
  return std::make_unique<OsSocket>(fd, family, type, protocol);
}

}  // namespace trio::socket
