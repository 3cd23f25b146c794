// SPDX-License-Identifier: Apache-2.0 OR MIT
#include "runtime/net/stapled_stream.h"

#include <cassert>
#include <exception>
#include <utility>

namespace trio {

StapledStream::StapledStream(std::unique_ptr<SendStream> send_stream,
                             std::unique_ptr<ReceiveStream> receive_stream)
    : send_stream_(std::move(send_stream)), receive_stream_(std::move(receive_stream)) {
  assert(send_stream_ != nullptr && receive_stream_ != nullptr);
}

Task<> StapledStream::send_eof() {
  // Python's hasattr(send_stream, "send_eof"): in C++, being a HalfCloseableStream.
  if (auto* half_closeable = dynamic_cast<HalfCloseableStream*>(send_stream_.get()))
    return half_closeable->send_eof();
  return send_stream_->aclose();
}

Task<> StapledStream::aclose() {
  // try: send.aclose() finally: receive.aclose(). No co_await in a handler: keep the error and
  // close the receive half after leaving it.
  std::exception_ptr send_error;
  try {
    co_await send_stream_->aclose();
  } catch (...) {
    send_error = std::current_exception();
  }
  co_await receive_stream_->aclose();
  if (send_error) std::rethrow_exception(send_error);
}

}  // namespace trio
