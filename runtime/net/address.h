// SPDX-License-Identifier: Apache-2.0 OR MIT
//
// `trio::socket::Address`: a socket address — IPv4 (host, port), IPv6 (host, port, flow info,
// scope id) or a Unix-domain path — held by value as the OS's `sockaddr_storage`, so real and
// simulated sockets (io_fake/) speak the same type. Only numeric hosts: resolving names is
// `trio::socket::getaddrinfo`'s job (runtime/net/socket.h).
//
// Example:
//   auto a = trio::socket::Address::parse("127.0.0.1", 8080);   // or "::1", "[::1]"
//   a.to_string();  // "127.0.0.1:8080"; IPv6: "[::1]:8080"; Unix: the path
#ifndef TRIO_RUNTIME_NET_ADDRESS_H_
#define TRIO_RUNTIME_NET_ADDRESS_H_

#include <sys/socket.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace trio::socket {

class Address {
 public:
  // AF_UNSPEC, size 0: "no address".
  Address() = default;
  // Copies `size` bytes of `addr` (as returned by accept, getsockname, recvfrom...).
  // ValueError if `size` exceeds sizeof(sockaddr_storage).
  Address(const sockaddr* addr, socklen_t size);

  // A numeric IPv4 or IPv6 host ("10.0.0.1", "::1", "[::1]", "fe80::1%lo") and a port.
  // ValueError if `host` is not a numeric address (use getaddrinfo for names).
  static Address parse(std::string_view host, uint16_t port);
  // As parse(), or nullopt instead of the error.
  static std::optional<Address> try_parse(std::string_view host, uint16_t port);
  // The wildcard address of a family (0.0.0.0 or ::) with `port`. ValueError for other families.
  static Address any(int family, uint16_t port);
  // The loopback address of a family (127.0.0.1 or ::1) with `port`.
  static Address loopback(int family, uint16_t port);
  // A Unix-domain address; a leading '\0' makes it abstract (Linux). ValueError if too long.
  static Address unix_path(std::string_view path);

  int family() const { return storage_.ss_family; }
  // The port of an IPv4 or IPv6 address; 0 otherwise.
  uint16_t port() const;
  // A copy with another port (IPv4 and IPv6 only; ValueError otherwise).
  Address with_port(uint16_t port) const;
  // The numeric host ("127.0.0.1", "::1"), or the path of a Unix address.
  std::string host() const;
  // "127.0.0.1:80", "[::1]:80", a Unix path, or "<unspecified>".
  std::string to_string() const;
  bool is_wildcard() const;  // 0.0.0.0 or ::

  const sockaddr* sockaddr_ptr() const { return reinterpret_cast<const sockaddr*>(&storage_); }
  sockaddr* sockaddr_ptr() { return reinterpret_cast<sockaddr*>(&storage_); }
  socklen_t size() const { return size_; }
  // For the OS filling in an address: set the size it reported.
  void set_size(socklen_t size);
  static constexpr socklen_t capacity() { return sizeof(sockaddr_storage); }

  // Byte-wise equality of the meaningful part (family, address, port; IPv6 flow info and scope
  // id included).
  friend bool operator==(const Address& a, const Address& b);

 private:
  sockaddr_storage storage_{};
  socklen_t size_ = 0;
};

}  // namespace trio::socket

#endif  // TRIO_RUNTIME_NET_ADDRESS_H_
