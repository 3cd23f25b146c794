// SPDX-License-Identifier: Apache-2.0 OR MIT
//
// StapledStream (Trio's `trio.StapledStream`, spec §1.9): joins a SendStream and a
// ReceiveStream into one HalfCloseableStream. It owns both halves.
//
//   auto [s1, r1] = trio::testing::memory_stream_one_way_pair();   // io_fake/
//   auto [s2, r2] = trio::testing::memory_stream_one_way_pair();
//   trio::StapledStream left(std::move(s1), std::move(r2));
//   trio::StapledStream right(std::move(s2), std::move(r1));
//   co_await left.send_all("x");          // right.receive_some() gets "x"
//
// Every method delegates, so checkpoints and errors are those of the half it calls:
//   send_all, wait_send_all_might_not_block  -> send_stream()
//   receive_some                             -> receive_stream()
//   send_eof   -> send_stream().send_eof() if the send half is a HalfCloseableStream, else
//                 send_stream().aclose() (so the peer reads EOF either way)
//   aclose     -> send_stream().aclose(), then receive_stream().aclose() even if the first
//                 raised (try/finally); the last error raised propagates, as in Python.
#ifndef TRIO_RUNTIME_NET_STAPLED_STREAM_H_
#define TRIO_RUNTIME_NET_STAPLED_STREAM_H_

#include <memory>

#include "runtime/net/stream.h"

namespace trio {

class StapledStream final : public HalfCloseableStream {
 public:
  // Both halves must be non-null (an assertion).
  StapledStream(std::unique_ptr<SendStream> send_stream,
                std::unique_ptr<ReceiveStream> receive_stream);

  Task<> send_all(ConstBytes data) override { return send_stream_->send_all(data); }
  Task<> wait_send_all_might_not_block() override {
    return send_stream_->wait_send_all_might_not_block();
  }
  Task<> send_eof() override;
  Task<> aclose() override;

  // The halves (Trio's `send_stream` / `receive_stream` attributes).
  SendStream& send_stream() const { return *send_stream_; }
  ReceiveStream& receive_stream() const { return *receive_stream_; }

 protected:
  Task<size_t> receive_some_impl(MutableBytes buffer) override {
    return receive_stream_->receive_some(buffer);
  }

 private:
  // Invariant: both non-null for the object's lifetime.
  std::unique_ptr<SendStream> send_stream_;
  std::unique_ptr<ReceiveStream> receive_stream_;
};

}  // namespace trio

#endif  // TRIO_RUNTIME_NET_STAPLED_STREAM_H_
