// SPDX-License-Identifier: Apache-2.0 OR MIT
#include "runtime/net/stream.h"

#include <string>

#include "runtime/cancel_scope.h"
#include "runtime/errors.h"

namespace trio {

Task<> aclose_forcefully(AsyncResource& resource) {
  CancelScope scope;
  scope.cancel("cancelled during aclose_forcefully");
  co_await scope.enter([&]() -> Task<> { co_await resource.aclose(); });
}

Task<size_t> ReceiveStream::receive_some(MutableBytes buffer) {
  // Not a coroutine: the implementation's Task is the only frame.
  if (buffer.empty()) throw ValueError("receive_some: the buffer must hold at least 1 byte");
  return receive_some_impl(buffer);
}

Task<std::string> ReceiveStream::receive_some(size_t max_bytes) {
  if (max_bytes == 0) throw ValueError("receive_some: max_bytes must be at least 1");
  std::string out(max_bytes, '\0');
  const size_t n = co_await receive_some_impl(out);
  out.resize(n);
  co_return out;
}

}  // namespace trio
