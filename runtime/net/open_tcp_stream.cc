// SPDX-License-Identifier: Apache-2.0 OR MIT
#include "runtime/net/open_tcp_stream.h"

#include <cstdio>
#include <cstdlib>
#include <string>
#include <system_error>
#include <utility>

#include "runtime/cancel_scope.h"
#include "runtime/errors.h"
#include "runtime/event.h"
#include "runtime/net/address.h"
#include "runtime/net/socket_calls.h"
#include "runtime/nursery.h"

namespace trio {

OpenTcpStreamError::OpenTcpStreamError(const std::string& message,
                                       std::vector<std::exception_ptr> attempts)
    : std::runtime_error(message), attempts_(std::move(attempts)) {
  if (!attempts_.empty()) cause_ = make_exception_group(message, attempts_);
}

namespace net_internal {

std::string format_host_port(std::string_view host, uint16_t port) {
  if (host.find(':') != std::string_view::npos)
    return "[" + std::string(host) + "]:" + std::to_string(port);
  return std::string(host) + ":" + std::to_string(port);
}

void reorder_for_rfc_6555_section_5_4(std::vector<socket::AddrInfo>& targets) {
  for (size_t i = 1; i < targets.size(); ++i) {
    if (targets[i].family != targets[0].family) {
      if (i != 1) {
        socket::AddrInfo moved = std::move(targets[i]);
        targets.erase(targets.begin() + static_cast<std::ptrdiff_t>(i));
        targets.insert(targets.begin() + 1, std::move(moved));
      }
      break;
    }
  }
}

}  // namespace net_internal

namespace {

// What the attempts share with open_tcp_stream's frame, which owns it and outlives them (they
// run in a nursery opened there).
struct HappyEyeballs {
  HappyEyeballs(const OpenTcpStreamOptions& o, size_t target_count)
      : options(o), sockets(target_count) {}
  HappyEyeballs(const HappyEyeballs&) = delete;
  HappyEyeballs& operator=(const HappyEyeballs&) = delete;
  // Trio's close_all(): every socket still here is closed, whatever happened. The winner's has
  // been moved out by then when there is one.
  ~HappyEyeballs() {
    for (auto& s : sockets)
      if (s) s->close();
  }

  const OpenTcpStreamOptions& options;
  // sockets[i] is attempt i's socket. Invariant: null until attempt i created it; sized once.
  std::vector<std::unique_ptr<socket::Socket>> sockets;
  // Each failed attempt's std::system_error, in the order they failed.
  std::vector<std::exception_ptr> errors;
  // The first attempt that connected. Later successes (possible when two connects complete in
  // the same batch) stay losers and are closed.
  std::optional<size_t> winner;
  Nursery* nursery = nullptr;
};

// One connection attempt (Trio's attempt_connect). A std::system_error is the attempt failing:
// recorded, and `failed` set so the next attempt starts at once. Anything else propagates into
// the nursery and so out of open_tcp_stream.
Task<> attempt_connect(HappyEyeballs* he, size_t index, const socket::AddrInfo* target,
                       Event* failed) {
  try {
    he->sockets[index] = net_internal::new_socket(target->family, target->type, target->protocol);
    socket::Socket& sock = *he->sockets[index];
    if (he->options.local_address) {
      const std::string& local = *he->options.local_address;
#ifdef IP_BIND_ADDRESS_NO_PORT
      // Let connect() pick the port, so binding does not use one up per attempt. Best effort.
      try {
        sock.setsockopt(IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, 1);
      } catch (const std::system_error&) {
      }
#endif
      const std::string incompatible = "local_address=" + local +
                                       " is incompatible with remote address " +
                                       target->address.to_string();
      const socket::Address local_address = socket::Address::parse(local, 0);
      if (local_address.family() != sock.family())
        throw std::system_error(std::make_error_code(std::errc::address_family_not_supported),
                                incompatible);
      try {
        sock.bind(local_address);
      } catch (const std::system_error& e) {
        throw std::system_error(e.code(), incompatible);
      }
    }
    co_await sock.connect(target->address);
    if (!he->winner) {
      he->winner = index;
      he->nursery->cancel_scope().cancel("successfully found a socket");
    }
  } catch (const std::system_error&) {
    he->errors.push_back(std::current_exception());
    failed->set();
  }
}

}  // namespace

Task<std::unique_ptr<SocketStream>> open_tcp_stream(std::string_view host, uint16_t port,
                                                    OpenTcpStreamOptions options) {
  if (options.happy_eyeballs_delay < Duration(0))
    throw ValueError("happy_eyeballs_delay must be non-negative");
  if (options.local_address && !socket::Address::try_parse(*options.local_address, 0))
    throw ValueError("local_address must be a numeric IP address, got '" + *options.local_address +
                     "'");
  const std::string host_copy(host);  // for the lookup and the messages
  std::vector<socket::AddrInfo> targets =
      co_await net_internal::resolve(host_copy, port, AF_UNSPEC, SOCK_STREAM, 0, 0);
  if (targets.empty())
    throw OpenTcpStreamError(
        "no results found for hostname lookup: " + net_internal::format_host_port(host_copy, port),
        {});
  net_internal::reorder_for_rfc_6555_section_5_4(targets);

  HappyEyeballs he(options, targets.size());
  // One Event per attempt, set when it fails; stable addresses (the attempts hold pointers).
  std::vector<std::unique_ptr<Event>> failed_events;
  failed_events.reserve(targets.size());
  const Duration delay = options.happy_eyeballs_delay;
  co_await open_nursery([&](Nursery& nursery) -> Task<> {
    he.nursery = &nursery;
    for (size_t i = 0; i < targets.size(); ++i) {
      Event* failed = failed_events.emplace_back(std::make_unique<Event>()).get();
      nursery.start_soon(attempt_connect, &he, i, &targets[i], failed);
      // The next attempt starts when this one fails or after `delay`, whichever comes first.
      co_await move_on_after(delay, [&]() -> Task<> { co_await failed->wait(); });
    }
  });

  if (!he.winner) {
    // Every attempt ended, and none raised anything but std::system_error (else the nursery
    // would have raised): so each one left its error.
    if (he.errors.size() != targets.size()) {
      std::fprintf(stderr, "open_tcp_stream: %zu errors for %zu attempts\n", he.errors.size(),
                   targets.size());
      std::abort();
    }
    throw OpenTcpStreamError(
        "all attempts to connect to " + net_internal::format_host_port(host_copy, port) + " failed",
        std::move(he.errors));
  }
  // If SocketStream's constructor raises, the socket it was given is closed with it.
  co_return std::make_unique<SocketStream>(std::move(he.sockets[*he.winner]));
}

}  // namespace trio
