// SPDX-License-Identifier: Apache-2.0 OR MIT
//
// ConstBytes and MutableBytes convert from every contiguous byte container without a cast, and
// a string literal is its characters without the terminating NUL.
#include "runtime/net/bytes.h"

#include <gtest/gtest.h>

#include <array>
#include <cstdint>
#include <string>
#include <vector>

namespace {

size_t size_of(trio::ConstBytes b) { return b.size(); }
size_t fill(trio::MutableBytes b) {
  for (std::byte& x : b.span()) x = std::byte{'x'};
  return b.size();
}

TEST(ConstBytes, LiteralIsItsCharactersWithoutNul) {
  EXPECT_EQ(size_of("hello"), 5u);
  EXPECT_EQ(trio::ConstBytes("hi").as_string_view(), "hi");
  EXPECT_EQ(size_of(""), 0u);
}

TEST(ConstBytes, ConvertsFromContainers) {
  std::string s = "abc";
  std::vector<char> vc = {'a', 'b'};
  std::vector<uint8_t> vu = {1, 2, 3, 4};
  std::array<std::byte, 6> ab{};
  std::span<const std::byte> sp(ab);
  const unsigned char raw[3] = {1, 2, 3};
  EXPECT_EQ(size_of(s), 3u);
  EXPECT_EQ(size_of(std::string_view(s).substr(1)), 2u);
  EXPECT_EQ(size_of(vc), 2u);
  EXPECT_EQ(size_of(vu), 4u);
  EXPECT_EQ(size_of(ab), 6u);
  EXPECT_EQ(size_of(sp), 6u);
  EXPECT_EQ(size_of(raw), 3u);  // a non-char array keeps every element
}

TEST(ConstBytes, SubspanClampsToTheEnd) {
  trio::ConstBytes b("abcdef");
  EXPECT_EQ(b.subspan(2).as_string_view(), "cdef");
  EXPECT_EQ(b.subspan(2, 2).as_string_view(), "cd");
  EXPECT_EQ(b.subspan(10).size(), 0u);
  EXPECT_EQ(b.subspan(4, 100).size(), 2u);
}

TEST(MutableBytes, ConvertsFromWritableContainers) {
  std::string s(4, '\0');
  std::vector<uint8_t> v(3);
  std::array<std::byte, 2> a{};
  char raw[5];
  EXPECT_EQ(fill(s), 4u);
  EXPECT_EQ(s, "xxxx");
  EXPECT_EQ(fill(v), 3u);
  EXPECT_EQ(fill(a), 2u);
  EXPECT_EQ(fill(raw), 5u);
  EXPECT_EQ(trio::MutableBytes(s).first(2).size(), 2u);
  static_assert(!std::is_convertible_v<const std::string&, trio::MutableBytes>,
                "a const container is not a writable buffer");
}

}  // namespace
