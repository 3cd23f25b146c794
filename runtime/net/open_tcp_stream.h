// SPDX-License-Identifier: Apache-2.0 OR MIT
//
// `open_tcp_stream`: connect to a host and port over TCP with Happy Eyeballs (RFC 6555), exactly
// as Trio's `trio.open_tcp_stream` (`_highlevel_open_tcp_stream.py`).
//
// Example:
//   std::unique_ptr<trio::SocketStream> s = co_await trio::open_tcp_stream("example.com", 443);
//
//   trio::OpenTcpStreamOptions options;
//   options.happy_eyeballs_delay = std::chrono::milliseconds(100);
//   auto s2 = co_await trio::open_tcp_stream("example.com", 443, options);
//
// The algorithm. Resolve `host` (getaddrinfo with type SOCK_STREAM); reorder the results so the
// second one has a different address family from the first (RFC 6555 §5.4: an IPv6 network
// that drops packets costs one delay, not a whole connect timeout); then start an attempt on the
// first address, and start each next attempt when the previous one *fails* or `delay` after it
// started, whichever is first, without stopping the earlier ones. The first attempt to connect
// wins: it cancels the others (nursery cancel reason "successfully found a socket"). Every
// socket but the winner's is closed — on success, failure and cancellation alike. A socket that
// cannot be created (the family is unsupported) counts as a failed attempt.
//
// Errors:
//   OpenTcpStreamError("no results found for hostname lookup: HOST:PORT")  (attempts() empty)
//   OpenTcpStreamError("all attempts to connect to HOST:PORT failed")        (see below)
//   socket::GaiError from the lookup; Cancelled; anything an attempt raises that is not a
//   std::system_error (inside an ExceptionGroup from the attempts' nursery, as Trio).
//
// Why OpenTcpStreamError looks the way it does: Trio raises `OSError(msg) from
// ExceptionGroup(msg, oserrors)` — an OSError, so `except OSError` catches a failed connect
// however it failed, with every attempt's error as its cause. Here it is a std::runtime_error
// (an OSError without an errno, as Trio's has none) that carries `attempts()`, each attempt's
// error in the order the attempts failed, and `cause()`, the same errors as an ExceptionGroup
// with the same message (Trio's `__cause__`), so tools that print groups show them.
//
// Checkpoints: a checkpoint (the lookup is one); blocks until connected or failed.
//
// g++ 12: pass options as a named object, never as a braced temporary inside the co_await
// (`co_await open_tcp_stream(h, p, OpenTcpStreamOptions{...})` destroys its members twice;
// docs/compiler-pitfalls.md).
#ifndef TRIO_RUNTIME_NET_OPEN_TCP_STREAM_H_
#define TRIO_RUNTIME_NET_OPEN_TCP_STREAM_H_

#include <chrono>
#include <cstdint>
#include <exception>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "runtime/net/socket_stream.h"
#include "runtime/task.h"
#include "runtime/time.h"

namespace trio {

struct OpenTcpStreamOptions {
  // How long to wait for an attempt to succeed or fail before starting the next one in
  // parallel. kInfDuration: one attempt at a time. Must not be negative (ValueError).
  Duration happy_eyeballs_delay = std::chrono::milliseconds(250);
  // A numeric local address to connect from (port 0); e.g. "0.0.0.0" or "::" to force a family.
  // An attempt whose family does not match it fails ("local_address=... is incompatible with
  // remote address ...").
  std::optional<std::string> local_address;
};

// The default happy_eyeballs_delay (Trio's DEFAULT_DELAY).
inline constexpr Duration kDefaultHappyEyeballsDelay = std::chrono::milliseconds(250);

// open_tcp_stream failed: no address, or every attempt failed. See the file comment.
class OpenTcpStreamError : public std::runtime_error {
 public:
  OpenTcpStreamError(const std::string& message, std::vector<std::exception_ptr> attempts);
  // Each attempt's error (usually std::system_error), in the order they failed. Empty for "no
  // results found".
  const std::vector<std::exception_ptr>& attempts() const { return attempts_; }
  // ExceptionGroup(message, attempts), or null when attempts() is empty.
  const std::exception_ptr& cause() const { return cause_; }

 private:
  std::vector<std::exception_ptr> attempts_;
  std::exception_ptr cause_;
};

// Connects to `host` (a name or a numeric address) on `port`. See the file comment.
Task<std::unique_ptr<SocketStream>> open_tcp_stream(std::string_view host, uint16_t port,
                                                    OpenTcpStreamOptions options = {});

namespace net_internal {
// "host:port", or "[host]:port" when host contains ':' (Trio's format_host_port).
std::string format_host_port(std::string_view host, uint16_t port);
// RFC 6555 §5.4: moves the first entry whose family differs from the first's to position 1.
void reorder_for_rfc_6555_section_5_4(std::vector<socket::AddrInfo>& targets);
}  // namespace net_internal

}  // namespace trio

#endif  // TRIO_RUNTIME_NET_OPEN_TCP_STREAM_H_
