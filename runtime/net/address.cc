// SPDX-License-Identifier: Apache-2.0 OR MIT
//
// Address: numeric parsing with inet_pton (never getaddrinfo here: name resolution belongs to
// the resolver seam, tools/seams_test.sh), formatting with inet_ntop, and equality over the
// meaningful fields of each family (never the padding of sockaddr_storage).
#include "runtime/net/address.h"

#include <arpa/inet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sys/un.h>

#include <cstddef>
#include <cstring>
#include <string>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "runtime/errors.h"

namespace trio::socket {
namespace {

const sockaddr_in& v4(const sockaddr_storage& s) {
  return *reinterpret_cast<const sockaddr_in*>(&s);
}
const sockaddr_in6& v6(const sockaddr_storage& s) {
  return *reinterpret_cast<const sockaddr_in6*>(&s);
}
const sockaddr_un& un(const sockaddr_storage& s) {
  return *reinterpret_cast<const sockaddr_un*>(&s);
}

constexpr socklen_t kUnixPathOffset = offsetof(sockaddr_un, sun_path);

// The scope id of "fe80::1%eth0" or "fe80::1%2": an interface name or a number.
std::optional<uint32_t> parse_scope(std::string_view scope) {
  uint32_t number = 0;
  if (absl::SimpleAtoi(std::string(scope), &number)) return number;
  const unsigned index = ::if_nametoindex(std::string(scope).c_str());
  if (index == 0) return std::nullopt;
  return index;
}

// The bytes of a Unix address's path (abstract ones keep their leading '\0'; a regular path
// stops at its terminating NUL, which the OS may or may not count in the size).
std::string_view unix_path_of(const sockaddr_storage& s, socklen_t size) {
  if (size <= kUnixPathOffset) return {};
  std::string_view path(un(s).sun_path, size - kUnixPathOffset);
  if (path[0] != '\0') path = path.substr(0, path.find('\0'));
  return path;
}

}  // namespace

Address::Address(const sockaddr* addr, socklen_t size) {
  if (size > capacity())
    throw ValueError(absl::StrCat("socket address of ", size, " bytes is longer than ", capacity(),
                                  " (sockaddr_storage)"));
  std::memcpy(&storage_, addr, size);
  size_ = size;
}

void Address::set_size(socklen_t size) {
  if (size > capacity())
    throw ValueError(absl::StrCat("socket address of ", size, " bytes is longer than ", capacity(),
                                  " (sockaddr_storage)"));
  size_ = size;
}

std::optional<Address> Address::try_parse(std::string_view host, uint16_t port) {
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  Address a;
  const std::string text(host);
  sockaddr_in in4{};
  if (::inet_pton(AF_INET, text.c_str(), &in4.sin_addr) == 1) {
    in4.sin_family = AF_INET;
    in4.sin_port = htons(port);
    std::memcpy(&a.storage_, &in4, sizeof in4);
    a.size_ = sizeof in4;
    return a;
  }
  sockaddr_in6 in6{};
  const size_t percent = text.find('%');
  if (::inet_pton(AF_INET6, text.substr(0, percent).c_str(), &in6.sin6_addr) != 1)
    return std::nullopt;
  if (percent != std::string::npos) {
    const std::optional<uint32_t> scope = parse_scope(std::string_view(text).substr(percent + 1));
    if (!scope) return std::nullopt;
    in6.sin6_scope_id = *scope;
  }
  in6.sin6_family = AF_INET6;
  in6.sin6_port = htons(port);
  std::memcpy(&a.storage_, &in6, sizeof in6);
  a.size_ = sizeof in6;
  return a;
}

Address Address::parse(std::string_view host, uint16_t port) {
  std::optional<Address> a = try_parse(host, port);
  if (!a)
    throw ValueError(absl::StrCat("'", std::string(host),
                                  "' is not a numeric IPv4 or IPv6 address (to look up a host "
                                  "name, use trio::socket::getaddrinfo)"));
  return *a;
}

Address Address::any(int family, uint16_t port) {
  if (family == AF_INET) return parse("0.0.0.0", port);
  if (family == AF_INET6) return parse("::", port);
  throw ValueError(absl::StrCat("Address::any: family ", family, " is not AF_INET or AF_INET6"));
}

Address Address::loopback(int family, uint16_t port) {
  if (family == AF_INET) return parse("127.0.0.1", port);
  if (family == AF_INET6) return parse("::1", port);
  throw ValueError(
      absl::StrCat("Address::loopback: family ", family, " is not AF_INET or AF_INET6"));
}

Address Address::unix_path(std::string_view path) {
  sockaddr_un u{};
  const bool abstract = !path.empty() && path[0] == '\0';
  // A regular path needs room for its terminating NUL; an abstract one may fill sun_path.
  const size_t room = sizeof(u.sun_path) - (abstract ? 0 : 1);
  if (path.size() > room)
    throw ValueError(absl::StrCat("Unix socket path of ", path.size(),
                                  " bytes is too long (the limit is ", room, ")"));
  u.sun_family = AF_UNIX;
  std::memcpy(u.sun_path, path.data(), path.size());
  Address a;
  std::memcpy(&a.storage_, &u, sizeof u);
  a.size_ = static_cast<socklen_t>(kUnixPathOffset + path.size() + (abstract ? 0 : 1));
  return a;
}

uint16_t Address::port() const {
  if (family() == AF_INET) return ntohs(v4(storage_).sin_port);
  if (family() == AF_INET6) return ntohs(v6(storage_).sin6_port);
  return 0;
}

Address Address::with_port(uint16_t port) const {
  Address a = *this;
  if (family() == AF_INET) {
    reinterpret_cast<sockaddr_in*>(&a.storage_)->sin_port = htons(port);
  } else if (family() == AF_INET6) {
    reinterpret_cast<sockaddr_in6*>(&a.storage_)->sin6_port = htons(port);
  } else {
    throw ValueError(absl::StrCat("with_port: ", to_string(), " is not an IPv4 or IPv6 address"));
  }
  return a;
}

std::string Address::host() const {
  char buf[INET6_ADDRSTRLEN] = {};
  if (family() == AF_INET) {
    ::inet_ntop(AF_INET, &v4(storage_).sin_addr, buf, sizeof buf);
    return buf;
  }
  if (family() == AF_INET6) {
    ::inet_ntop(AF_INET6, &v6(storage_).sin6_addr, buf, sizeof buf);
    std::string out = buf;
    if (const uint32_t scope = v6(storage_).sin6_scope_id) {
      char name[IF_NAMESIZE] = {};
      if (::if_indextoname(scope, name) != nullptr) {
        absl::StrAppend(&out, "%", name);
      } else {
        absl::StrAppend(&out, "%", scope);
      }
    }
    return out;
  }
  if (family() == AF_UNIX) return std::string(unix_path_of(storage_, size_));
  return "";
}

std::string Address::to_string() const {
  switch (family()) {
    case AF_INET:
      return absl::StrCat(host(), ":", port());
    case AF_INET6:
      return absl::StrCat("[", host(), "]:", port());
    case AF_UNIX: {
      std::string path = host();
      if (!path.empty() && path[0] == '\0') path[0] = '@';  // the usual notation for abstract
      return path;
    }
    case AF_UNSPEC:
      return "<unspecified>";
    default:
      return absl::StrCat("<address of family ", family(), ">");
  }
}

bool Address::is_wildcard() const {
  if (family() == AF_INET) return v4(storage_).sin_addr.s_addr == htonl(INADDR_ANY);
  if (family() == AF_INET6) return IN6_IS_ADDR_UNSPECIFIED(&v6(storage_).sin6_addr);
  return false;
}

bool operator==(const Address& a, const Address& b) {
  if (a.family() != b.family()) return false;
  switch (a.family()) {
    case AF_UNSPEC:
      return true;
    case AF_INET:
      return v4(a.storage_).sin_port == v4(b.storage_).sin_port &&
             v4(a.storage_).sin_addr.s_addr == v4(b.storage_).sin_addr.s_addr;
    case AF_INET6: {
      const sockaddr_in6& x = v6(a.storage_);
      const sockaddr_in6& y = v6(b.storage_);
      return x.sin6_port == y.sin6_port && x.sin6_flowinfo == y.sin6_flowinfo &&
             x.sin6_scope_id == y.sin6_scope_id &&
             std::memcmp(&x.sin6_addr, &y.sin6_addr, sizeof x.sin6_addr) == 0;
    }
    case AF_UNIX:
      return unix_path_of(a.storage_, a.size_) == unix_path_of(b.storage_, b.size_);
    default:
      return a.size_ == b.size_ && std::memcmp(&a.storage_, &b.storage_, a.size_) == 0;
  }
}

}  // namespace trio::socket
