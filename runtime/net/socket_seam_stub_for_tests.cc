// SPDX-License-Identifier: Apache-2.0 OR MIT
//
// TEMPORARY — DELETE AT MERGE with the socket-layer branch (issue 11), together with the
// :socket_seam_stub_for_tests target in BUILD.bazel.
//
// The high-level networking on this branch (SocketStream, open_tcp_stream, serve_tcp) is built
// against the socket seam's declarations only (socket.h, address.h); the real definitions — OS
// sockets, the OS resolver, Address — are written on another branch. So that this branch's
// tests link, this file defines just enough: socket::socket() and socket::getaddrinfo() dispatch
// to the run's RunOptions::socket_factory / hostname_resolver (the tests always install fakes;
// there is no OS fallback), numeric hosts resolve inline via inet_pton, and Address's methods
// are minimal versions. The name starts with "socket" so //tools:seams_test allows it to name
// those functions.
#include <arpa/inet.h>
#include <netinet/in.h>

#include <cstring>
#include <string>
#include <system_error>
#include <utility>

#include "runtime/errors.h"
#include "runtime/lowlevel.h"
#include "runtime/net/address.h"
#include "runtime/net/socket.h"
#include "runtime/run_options.h"

namespace trio::socket {

// ---- Address (minimal) ----------------------------------------------------------------------

Address::Address(const sockaddr* addr, socklen_t size) {
  if (size > sizeof(storage_)) throw ValueError("Address: size exceeds sockaddr_storage");
  std::memcpy(&storage_, addr, size);
  size_ = size;
}

std::optional<Address> Address::try_parse(std::string_view host, uint16_t port) {
  std::string h(host);
  if (h.size() >= 2 && h.front() == '[' && h.back() == ']') h = h.substr(1, h.size() - 2);
  Address a;
  sockaddr_in v4{};
  if (inet_pton(AF_INET, h.c_str(), &v4.sin_addr) == 1) {
    v4.sin_family = AF_INET;
    v4.sin_port = htons(port);
    std::memcpy(&a.storage_, &v4, sizeof v4);
    a.size_ = sizeof v4;
    return a;
  }
  sockaddr_in6 v6{};
  if (inet_pton(AF_INET6, h.c_str(), &v6.sin6_addr) == 1) {
    v6.sin6_family = AF_INET6;
    v6.sin6_port = htons(port);
    std::memcpy(&a.storage_, &v6, sizeof v6);
    a.size_ = sizeof v6;
    return a;
  }
  return std::nullopt;
}

Address Address::parse(std::string_view host, uint16_t port) {
  if (auto a = try_parse(host, port)) return *a;
  throw ValueError("not a numeric address: " + std::string(host));
}

Address Address::any(int family, uint16_t port) {
  if (family == AF_INET) return parse("0.0.0.0", port);
  if (family == AF_INET6) return parse("::", port);
  throw ValueError("Address::any: not an IP family");
}

Address Address::loopback(int family, uint16_t port) {
  if (family == AF_INET) return parse("127.0.0.1", port);
  if (family == AF_INET6) return parse("::1", port);
  throw ValueError("Address::loopback: not an IP family");
}

uint16_t Address::port() const {
  if (family() == AF_INET) return ntohs(reinterpret_cast<const sockaddr_in*>(&storage_)->sin_port);
  if (family() == AF_INET6)
    return ntohs(reinterpret_cast<const sockaddr_in6*>(&storage_)->sin6_port);
  return 0;
}

Address Address::with_port(uint16_t port) const {
  Address a = *this;
  if (family() == AF_INET)
    reinterpret_cast<sockaddr_in*>(&a.storage_)->sin_port = htons(port);
  else if (family() == AF_INET6)
    reinterpret_cast<sockaddr_in6*>(&a.storage_)->sin6_port = htons(port);
  else
    throw ValueError("Address::with_port: not an IP address");
  return a;
}

std::string Address::host() const {
  char buf[INET6_ADDRSTRLEN] = {};
  if (family() == AF_INET)
    inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(&storage_)->sin_addr, buf, sizeof buf);
  else if (family() == AF_INET6)
    inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6*>(&storage_)->sin6_addr, buf,
              sizeof buf);
  return buf;
}

std::string Address::to_string() const {
  if (family() == AF_INET) return host() + ":" + std::to_string(port());
  if (family() == AF_INET6) return "[" + host() + "]:" + std::to_string(port());
  return "<unspecified>";
}

bool Address::is_wildcard() const {
  return (family() == AF_INET && host() == "0.0.0.0") || (family() == AF_INET6 && host() == "::");
}

void Address::set_size(socklen_t size) { size_ = size; }

bool operator==(const Address& a, const Address& b) {
  return a.size_ == b.size_ && std::memcmp(&a.storage_, &b.storage_, a.size_) == 0;
}

// ---- socket() and getaddrinfo() -------------------------------------------------------------

std::unique_ptr<Socket> socket(int family, int type, int protocol) {
  SocketFactory* factory = lowlevel::current_run_options().socket_factory;
  if (!factory) throw RuntimeError("socket seam stub: the test installed no socket factory");
  return factory->socket(family, type, protocol);
}

namespace {

AddrInfo numeric_entry(const Address& address, int type, int protocol) {
  AddrInfo ai;
  ai.family = address.family();
  ai.type = type == 0 ? SOCK_STREAM : type;
  ai.protocol = protocol != 0 ? protocol : (ai.type == SOCK_STREAM ? IPPROTO_TCP : IPPROTO_UDP);
  ai.address = address;
  return ai;
}

}  // namespace

Task<std::vector<AddrInfo>> getaddrinfo(std::string_view host, uint16_t port, int family, int type,
                                        int protocol, int flags) {
  std::vector<AddrInfo> out;
  if (host.empty()) {
    // The wildcard (AI_PASSIVE) or loopback addresses, IPv4 first as glibc gives them.
    for (int f : {AF_INET, AF_INET6}) {
      if (family != AF_UNSPEC && family != f) continue;
      out.push_back(
          numeric_entry((flags & AI_PASSIVE) ? Address::any(f, port) : Address::loopback(f, port),
                        type, protocol));
    }
    co_await checkpoint();
    co_return out;
  }
  if (auto numeric = Address::try_parse(host, port)) {
    out.push_back(numeric_entry(*numeric, type, protocol));
    co_await checkpoint();
    co_return out;
  }
  HostnameResolver* resolver = lowlevel::current_run_options().hostname_resolver;
  if (!resolver) throw RuntimeError("socket seam stub: the test installed no hostname resolver");
  std::string host_string(host);
  std::string port_string = std::to_string(port);
  co_return co_await resolver->getaddrinfo(std::move(host_string), std::move(port_string), family,
                                           type, protocol, flags);
}

}  // namespace trio::socket
