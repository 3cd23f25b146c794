// SPDX-License-Identifier: Apache-2.0 OR MIT
//
// Byte views for the IO layer: `ConstBytes` (what `send_all`, `send` and `sendto` take) and
// `MutableBytes` (the buffer `receive_some`, `recv` and `recvfrom` fill). Both are a pointer
// and a size, like `std::span<const std::byte>` / `std::span<std::byte>`, and convert
// implicitly from anything contiguous whose elements are bytes — `std::string`,
// `std::string_view`, `std::vector<char | unsigned char | std::byte | uint8_t>`, `std::array`,
// `std::span`, a C array — so a call site never needs a cast:
//
//   co_await stream.send_all("hello\n");          // a literal: 6 bytes, no trailing NUL
//   co_await stream.send_all(std::string(...));
//   std::array<std::byte, 4096> buf;
//   size_t n = co_await stream.receive_some(buf);  // fills buf[0..n)
//
// They borrow: the bytes must stay alive until the call's Task completes (true of every
// `co_await f(bytes)`).
#ifndef TRIO_RUNTIME_NET_BYTES_H_
#define TRIO_RUNTIME_NET_BYTES_H_

#include <cstddef>
#include <cstdint>
#include <iterator>
#include <ranges>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>

namespace trio {

// clang-format 14 mangles concepts and requires-clauses: these are formatted by hand.
// clang-format off
namespace detail {
template <class T>
concept ByteLike = sizeof(T) == 1 && (std::is_same_v<std::remove_cv_t<T>, char> ||
                                      std::is_same_v<std::remove_cv_t<T>, signed char> ||
                                      std::is_same_v<std::remove_cv_t<T>, unsigned char> ||
                                      std::is_same_v<std::remove_cv_t<T>, std::byte> ||
                                      std::is_same_v<std::remove_cv_t<T>, char8_t>);
template <class R>
concept CharArray = std::is_array_v<std::remove_cvref_t<R>> &&
                    std::is_same_v < std::remove_cv_t<std::remove_extent_t<std::remove_cvref_t<R>>>,
char > ;
}  // namespace detail
// clang-format on

// Read-only bytes.
class ConstBytes {
 public:
  constexpr ConstBytes() = default;
  constexpr ConstBytes(const std::byte* data, size_t size) : data_(data), size_(size) {}
  constexpr ConstBytes(std::span<const std::byte> s) : data_(s.data()), size_(s.size()) {}
  // Text: a string literal is its characters, without the terminating NUL.
  ConstBytes(std::string_view s)
      : data_(reinterpret_cast<const std::byte*>(s.data())), size_(s.size()) {}
  ConstBytes(const char* s) : ConstBytes(std::string_view(s)) {}
  // Any other contiguous range of bytes (char arrays go through string_view above).
  // clang-format off
  template <std::ranges::contiguous_range R>
  requires detail::ByteLike<std::ranges::range_value_t<R>> &&
      (!detail::CharArray<R>)&&(!std::is_same_v<std::remove_cvref_t<R>, ConstBytes>)
          ConstBytes(const R& r)  // NOLINT(google-explicit-constructor)
      : data_(reinterpret_cast<const std::byte*>(std::ranges::data(r))),
        size_(std::ranges::size(r)) {}
  // clang-format on

  constexpr const std::byte* data() const { return data_; }
  constexpr size_t size() const { return size_; }
  constexpr bool empty() const { return size_ == 0; }
  constexpr std::span<const std::byte> span() const { return {data_, size_}; }
  std::string_view as_string_view() const { return {reinterpret_cast<const char*>(data_), size_}; }
  // The bytes [offset, offset + count) (clamped to the end).
  constexpr ConstBytes subspan(size_t offset, size_t count = SIZE_MAX) const {
    if (offset > size_) offset = size_;
    if (count > size_ - offset) count = size_ - offset;
    return {data_ + offset, count};
  }

 private:
  const std::byte* data_ = nullptr;
  size_t size_ = 0;
};

// A writable buffer.
class MutableBytes {
 public:
  constexpr MutableBytes() = default;
  constexpr MutableBytes(std::byte* data, size_t size) : data_(data), size_(size) {}
  constexpr MutableBytes(std::span<std::byte> s) : data_(s.data()), size_(s.size()) {}
  // Any contiguous range of non-const bytes: std::string&, std::vector<char>&, arrays, spans.
  // clang-format off
  template <std::ranges::contiguous_range R>
  requires detail::ByteLike<std::ranges::range_value_t<R>> &&
      (!std::is_const_v<std::remove_reference_t<std::ranges::range_reference_t<R>>>)&&(
          !std::is_same_v<std::remove_cvref_t<R>, MutableBytes>)
          MutableBytes(R&& r)  // NOLINT(google-explicit-constructor)
      : data_(reinterpret_cast<std::byte*>(std::ranges::data(r))), size_(std::ranges::size(r)) {}
  // clang-format on

  constexpr std::byte* data() const { return data_; }
  constexpr size_t size() const { return size_; }
  constexpr bool empty() const { return size_ == 0; }
  constexpr std::span<std::byte> span() const { return {data_, size_}; }
  constexpr MutableBytes subspan(size_t offset, size_t count = SIZE_MAX) const {
    if (offset > size_) offset = size_;
    if (count > size_ - offset) count = size_ - offset;
    return {data_ + offset, count};
  }
  constexpr MutableBytes first(size_t count) const { return subspan(0, count); }

 private:
  std::byte* data_ = nullptr;
  size_t size_ = 0;
};

}  // namespace trio

#endif  // TRIO_RUNTIME_NET_BYTES_H_
