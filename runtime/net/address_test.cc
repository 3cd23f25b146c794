// SPDX-License-Identifier: Apache-2.0 OR MIT
// trio::socket::Address: numeric IPv4/IPv6 parsing (brackets, scope ids), the wildcard and
// loopback constructors, Unix paths (regular and abstract), ports, formatting, equality, and
// ValueError for everything that is not a numeric address. Pure functions: no run, no fd.
#include "runtime/net/address.h"

#include <gtest/gtest.h>
#include <netinet/in.h>

#include "runtime/errors.h"

using trio::socket::Address;

namespace {

TEST(Address, ParsesIpv4) {
  Address a = Address::parse("127.0.0.1", 8080);
  EXPECT_EQ(a.family(), AF_INET);
  EXPECT_EQ(a.port(), 8080);
  EXPECT_EQ(a.host(), "127.0.0.1");
  EXPECT_EQ(a.to_string(), "127.0.0.1:8080");
  EXPECT_EQ(a.size(), sizeof(sockaddr_in));
  EXPECT_FALSE(a.is_wildcard());
}

TEST(Address, ParsesIpv6WithAndWithoutBrackets) {
  Address a = Address::parse("::1", 80);
  Address b = Address::parse("[::1]", 80);
  EXPECT_EQ(a.family(), AF_INET6);
  EXPECT_EQ(a, b);
  EXPECT_EQ(a.host(), "::1");
  EXPECT_EQ(a.to_string(), "[::1]:80");
  EXPECT_EQ(a.size(), sizeof(sockaddr_in6));
}

TEST(Address, ParsesANumericScopeId) {
  Address a = Address::parse("fe80::1%7", 1);
  EXPECT_EQ(reinterpret_cast<const sockaddr_in6*>(a.sockaddr_ptr())->sin6_scope_id, 7u);
  EXPECT_NE(a, Address::parse("fe80::1", 1));
}

TEST(Address, ParsesAnInterfaceNameAsScopeId) {
  Address a = Address::parse("fe80::1%lo", 1);
  EXPECT_NE(reinterpret_cast<const sockaddr_in6*>(a.sockaddr_ptr())->sin6_scope_id, 0u);
  EXPECT_EQ(a.host(), "fe80::1%lo");
}

TEST(Address, RejectsNamesAndGarbageWithValueError) {
  for (const char* bad :
       {"localhost", "", "1.2.3", "300.1.1.1", "::g", "[::1", "fe80::1%nosuchif0", "127.0.0.1 "}) {
    EXPECT_THROW(Address::parse(bad, 1), trio::ValueError) << bad;
    EXPECT_FALSE(Address::try_parse(bad, 1).has_value()) << bad;
  }
  try {
    Address::parse("example.com", 80);
    FAIL();
  } catch (const trio::ValueError& e) {
    EXPECT_NE(std::string(e.what()).find("getaddrinfo"), std::string::npos) << e.what();
  }
}

TEST(Address, AnyAndLoopback) {
  EXPECT_EQ(Address::any(AF_INET, 1).to_string(), "0.0.0.0:1");
  EXPECT_EQ(Address::any(AF_INET6, 2).to_string(), "[::]:2");
  EXPECT_TRUE(Address::any(AF_INET, 0).is_wildcard());
  EXPECT_TRUE(Address::any(AF_INET6, 0).is_wildcard());
  EXPECT_EQ(Address::loopback(AF_INET, 3).to_string(), "127.0.0.1:3");
  EXPECT_EQ(Address::loopback(AF_INET6, 4).to_string(), "[::1]:4");
  EXPECT_THROW(Address::any(AF_UNIX, 0), trio::ValueError);
  EXPECT_THROW(Address::loopback(AF_UNIX, 0), trio::ValueError);
}

TEST(Address, WithPortChangesOnlyThePort) {
  Address a = Address::parse("10.1.2.3", 1);
  Address b = a.with_port(99);
  EXPECT_EQ(b.port(), 99);
  EXPECT_EQ(b.host(), "10.1.2.3");
  EXPECT_EQ(a.port(), 1);
  EXPECT_EQ(Address::parse("::1", 1).with_port(5).to_string(), "[::1]:5");
  EXPECT_THROW(Address::unix_path("/tmp/x").with_port(1), trio::ValueError);
  EXPECT_THROW(Address().with_port(1), trio::ValueError);
}

TEST(Address, EqualityComparesFamilyHostAndPort) {
  EXPECT_EQ(Address::parse("1.2.3.4", 5), Address::parse("1.2.3.4", 5));
  EXPECT_NE(Address::parse("1.2.3.4", 5), Address::parse("1.2.3.4", 6));
  EXPECT_NE(Address::parse("1.2.3.4", 5), Address::parse("1.2.3.5", 5));
  EXPECT_NE(Address::parse("::ffff:1.2.3.4", 5), Address::parse("1.2.3.4", 5));
  EXPECT_EQ(Address(), Address());
  EXPECT_NE(Address(), Address::parse("0.0.0.0", 0));
}

TEST(Address, CopiesARawSockaddr) {
  Address a = Address::parse("192.168.0.1", 443);
  Address b(a.sockaddr_ptr(), a.size());
  EXPECT_EQ(a, b);
  EXPECT_THROW(Address(a.sockaddr_ptr(), Address::capacity() + 1), trio::ValueError);
  EXPECT_THROW(b.set_size(Address::capacity() + 1), trio::ValueError);
}

TEST(Address, UnixPaths) {
  Address a = Address::unix_path("/tmp/sock");
  EXPECT_EQ(a.family(), AF_UNIX);
  EXPECT_EQ(a.host(), "/tmp/sock");
  EXPECT_EQ(a.to_string(), "/tmp/sock");
  EXPECT_EQ(a.port(), 0);
  EXPECT_EQ(a, Address::unix_path("/tmp/sock"));
  EXPECT_NE(a, Address::unix_path("/tmp/sock2"));
  Address abstract = Address::unix_path(std::string_view("\0name", 5));
  EXPECT_EQ(abstract.host(), std::string("\0name", 5));
  EXPECT_EQ(abstract.to_string(), "@name");
  EXPECT_THROW(Address::unix_path(std::string(200, 'x')), trio::ValueError);
}

TEST(Address, UnspecifiedToString) {
  EXPECT_EQ(Address().to_string(), "<unspecified>");
  EXPECT_EQ(Address().family(), AF_UNSPEC);
  EXPECT_EQ(Address().size(), 0u);
}

}  // namespace
