// SPDX-License-Identifier: Apache-2.0 OR MIT
//
// Test-only: `FakeSocket`, a scripted in-memory socket::Socket for unit tests of the code above
// the socket seam (SocketStream, SocketListener, open_tcp_stream, serve_tcp). It is not a
// network: nothing connects to anything. A test scripts what each call does — queue bytes to
// receive, queue accepted sockets or errors, make the next call of an operation fail with an
// errno — and reads back what the code under test did (bytes sent, options set, shutdown,
// closed). io_fake/'s simulated network is the real model; this stays small.
//
// The observable state lives in a shared `FakeSocket::State`, so a test can still read it after
// the code under test destroyed the socket (e.g. "every losing socket was closed").
//
// Checkpoints follow the socket.h contract (a checkpoint for every Task-returning call). A
// closed socket raises std::system_error(EBADF), as the OS ones do; a task blocked in recv or
// accept when the socket is closed wakes with ClosedResourceError.
//
// Example:
//   auto sock = std::make_unique<trio::net_testing::FakeSocket>(AF_INET, SOCK_STREAM);
//   auto state = sock->state();
//   state->incoming = "hello";
//   state->eof = true;
//   trio::SocketStream stream(std::move(sock));
//   ... co_await stream.receive_some(16) == "hello" ...
//   EXPECT_EQ(state->options[{IPPROTO_TCP, TCP_NODELAY}], 1);
#ifndef TRIO_RUNTIME_NET_TESTING_FAKE_SOCKET_H_
#define TRIO_RUNTIME_NET_TESTING_FAKE_SOCKET_H_

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <deque>
#include <map>
#include <memory>
#include <string>
#include <system_error>
#include <utility>
#include <variant>

#include "runtime/errors.h"
#include "runtime/lowlevel.h"
#include "runtime/net/socket.h"

namespace trio::net_testing {

inline std::system_error os_error(int error, const char* what = "fake socket") {
  return std::system_error(error, std::generic_category(), what);
}

class FakeSocket : public socket::Socket {
 public:
  // What a test scripts and inspects.
  struct State {
    int family = AF_INET;
    int type = SOCK_STREAM;
    int protocol = 0;
    bool closed = false;
    // Options set (level, option) -> value. getsockopt of an unset option: ENOPROTOOPT.
    std::map<std::pair<int, int>, int> options;
    // setsockopt raises std::system_error(this) when nonzero (for every option).
    int setsockopt_errno = 0;
    // The next call of send / recv / connect / shutdown raises std::system_error(this) when
    // nonzero (then resets to 0).
    int send_errno = 0;
    int recv_errno = 0;
    int connect_errno = 0;
    int shutdown_errno = 0;
    // send() takes at most this many bytes per call.
    size_t send_chunk_bytes = 1 << 20;
    // While true, send() and wait_writable() block (until false and wake(), or close).
    bool send_blocks = false;
    // Everything sent, and how many send() calls it took.
    std::string sent;
    int send_calls = 0;
    // Bytes recv() returns, then 0 once `eof` (blocks while empty and not eof).
    std::string incoming;
    bool eof = false;
    bool did_shutdown_write = false;
    socket::Address bound;
    socket::Address peer;
    int listen_backlog = -1;  // -1: not listening
    // What accept() returns, in order: a socket, or an errno to raise. Blocks while empty.
    std::deque<std::variant<std::unique_ptr<socket::Socket>, int>> accept_queue;
    // Wakes tasks blocked in recv / accept / send (call after changing the script).
    lowlevel::ParkingLot waiters;
    void wake() { waiters.unpark_all(); }
  };

  FakeSocket(int family = AF_INET, int type = SOCK_STREAM, int protocol = 0)
      : state_(std::make_shared<State>()) {
    state_->family = family;
    state_->type = type;
    state_->protocol = protocol;
  }
  ~FakeSocket() override { close(); }

  const std::shared_ptr<State>& state() const { return state_; }

  int family() const override { return state_->family; }
  int type() const override { return state_->type; }
  int protocol() const override { return state_->protocol; }

  void close() override {
    if (state_->closed) return;
    state_->closed = true;
    state_->wake();
  }
  bool is_closed() const override { return state_->closed; }

  void bind(const socket::Address& address) override {
    check_open();
    state_->bound = address;
  }
  void listen(int backlog) override {
    check_open();
    state_->listen_backlog = backlog;
    state_->options[{SOL_SOCKET, SO_ACCEPTCONN}] = 1;
  }

  Task<socket::AcceptResult> accept() override {
    check_open();
    co_await checkpoint_if_cancelled();
    while (state_->accept_queue.empty()) co_await park();
    auto next = std::move(state_->accept_queue.front());
    state_->accept_queue.pop_front();
    if (int* error = std::get_if<int>(&next)) throw os_error(*error, "accept");
    co_await cancel_shielded_checkpoint();
    socket::AcceptResult result;
    result.socket = std::move(std::get<0>(next));
    co_return result;
  }

  Task<> connect(const socket::Address& address) override {
    check_open();
    state_->peer = address;
    co_await checkpoint();
    if (int e = std::exchange(state_->connect_errno, 0)) throw os_error(e, "connect");
  }

  Task<size_t> send(ConstBytes data) override {
    check_open();
    co_await checkpoint_if_cancelled();
    while (state_->send_blocks) co_await park();
    if (int e = std::exchange(state_->send_errno, 0)) throw os_error(e, "send");
    const size_t n = std::min(data.size(), state_->send_chunk_bytes);
    state_->sent.append(data.subspan(0, n).as_string_view());
    ++state_->send_calls;
    co_await cancel_shielded_checkpoint();
    co_return n;
  }

  Task<size_t> recv(MutableBytes buffer) override {
    check_open();
    co_await checkpoint_if_cancelled();
    while (state_->incoming.empty() && !state_->eof && state_->recv_errno == 0) co_await park();
    if (int e = std::exchange(state_->recv_errno, 0)) throw os_error(e, "recv");
    const size_t n = std::min(buffer.size(), state_->incoming.size());
    std::memcpy(buffer.data(), state_->incoming.data(), n);
    state_->incoming.erase(0, n);
    co_await cancel_shielded_checkpoint();
    co_return n;
  }

  Task<size_t> sendto(ConstBytes, const socket::Address&) override {
    throw os_error(EOPNOTSUPP, "sendto");
    co_return 0;
  }
  Task<socket::RecvFromResult> recvfrom(MutableBytes) override {
    throw os_error(EOPNOTSUPP, "recvfrom");
    co_return socket::RecvFromResult{};
  }

  Task<> wait_writable() override {
    check_open();
    co_await checkpoint_if_cancelled();
    while (state_->send_blocks) co_await park();
    co_await cancel_shielded_checkpoint();
  }
  bool is_readable() const override { return !state_->incoming.empty() || state_->eof; }

  void shutdown(int how) override {
    check_open();
    if (int e = std::exchange(state_->shutdown_errno, 0)) throw os_error(e, "shutdown");
    if (how == SHUT_WR || how == SHUT_RDWR) state_->did_shutdown_write = true;
  }
  bool did_shutdown_write() const override { return state_->did_shutdown_write; }

  void setsockopt(int level, int option, int value) override {
    check_open();
    if (state_->setsockopt_errno) throw os_error(state_->setsockopt_errno, "setsockopt");
    state_->options[{level, option}] = value;
  }
  int getsockopt(int level, int option) const override {
    check_open();
    auto it = state_->options.find({level, option});
    if (it == state_->options.end()) throw os_error(ENOPROTOOPT, "getsockopt");
    return it->second;
  }

  socket::Address getsockname() const override { return state_->bound; }
  socket::Address getpeername() const override {
    if (state_->peer.family() == AF_UNSPEC) throw os_error(ENOTCONN, "getpeername");
    return state_->peer;
  }

 private:
  void check_open() const {
    if (state_->closed) throw os_error(EBADF, "fake socket is closed");
  }
  // Waits for wake(); a socket closed meanwhile raises ClosedResourceError (socket.h).
  Task<> park() {
    co_await state_->waiters.park("FakeSocket");
    if (state_->closed) throw ClosedResourceError("the socket was closed while waiting");
  }

  std::shared_ptr<State> state_;
};

}  // namespace trio::net_testing

#endif  // TRIO_RUNTIME_NET_TESTING_FAKE_SOCKET_H_
