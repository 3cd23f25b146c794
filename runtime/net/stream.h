// SPDX-License-Identifier: Apache-2.0 OR MIT
//
// Byte streams (Trio's `trio.abc` stream interfaces): the vocabulary every transport speaks,
// so that real sockets (`SocketStream`), pipes (`FdStream`), in-memory streams and simulated
// TCP (io_fake/), and users' own wrappers interchange at run time. They are abstract classes
// with `Task`-returning methods; a virtual call is nothing next to a syscall.
//
//   AsyncResource        aclose()
//   SendStream           + send_all(bytes), wait_send_all_might_not_block()
//   ReceiveStream        + receive_some(buffer) -> count (0 <=> EOF), receive_some(max) -> bytes
//   Stream               SendStream + ReceiveStream
//   HalfCloseableStream  + send_eof()
//   Listener<S>          + accept() -> std::unique_ptr<S>
//
// Example (an echo handler, for `serve_tcp`):
//   trio::Task<> echo(trio::Stream& stream) {
//     std::array<std::byte, 4096> buf;
//     while (size_t n = co_await stream.receive_some(buf))
//       co_await stream.send_all(trio::ConstBytes(buf.data(), n));
//   }
//
// Errors every implementation uses (runtime/errors.h):
//   ClosedResourceError  this object was closed (by aclose(), here or in another task)
//   BrokenResourceError  the other side or the transport failed; `os_error()` says why when
//                        the OS reported it. Once broken, a stream stays broken.
//   BusyResourceError    two tasks used the same direction at once (two concurrent send_all,
//                        or two concurrent receive_some): always a bug in the caller
//
// Checkpoints: every method that returns a Task is a checkpoint (a cancel point and a schedule
// point) whether or not it blocks, as in Trio — except where it says otherwise.
#ifndef TRIO_RUNTIME_NET_STREAM_H_
#define TRIO_RUNTIME_NET_STREAM_H_

#include <cstddef>
#include <memory>
#include <string>

#include "runtime/net/bytes.h"
#include "runtime/task.h"

namespace trio {

// Something that must be closed. `aclose()` always closes, even when it is cancelled or fails
// (then the close was not graceful, but the resource is closed all the same); closing twice is
// fine. Afterwards, operations raise ClosedResourceError. The destructor of an implementation
// closes without grace (it cannot await), so an un-closed resource leaks nothing.
class AsyncResource {
 public:
  virtual ~AsyncResource() = default;
  // A checkpoint. May raise Cancelled (after closing) or an implementation's error (after
  // closing).
  virtual Task<> aclose() = 0;
};

// Closes `resource` without grace: cancels a scope around `aclose()` (reason "cancelled during
// aclose_forcefully"), so it cannot block for long. A checkpoint; raises Cancelled only if the
// caller itself is cancelled.
Task<> aclose_forcefully(AsyncResource& resource);

class SendStream : public virtual AsyncResource {
 public:
  // Sends every byte of `data`, blocking while the transport cannot take more. An empty
  // `data` is a checkpoint (and raises ClosedResourceError on a closed stream).
  // Exception to "Cancelled means nothing happened": after Cancelled some, all or none of the
  // data may have been sent — the stream is then best closed.
  // Errors: BusyResourceError (concurrent send_all / wait_send_all_might_not_block /
  // send_eof), ClosedResourceError, BrokenResourceError.
  virtual Task<> send_all(ConstBytes data) = 0;
  // Blocks until send_all might not block. May return early; never returns late.
  virtual Task<> wait_send_all_might_not_block() = 0;
};

class ReceiveStream : public virtual AsyncResource {
 public:
  // What receive_some(max_bytes) reads at most when not told.
  static constexpr size_t kDefaultMaxBytes = 65536;

  // Waits until some bytes are available, copies at most buffer.size() of them into `buffer`
  // and returns how many: at least 1, or 0 if and only if the other side sent EOF (after which
  // every call returns 0). Errors: ValueError if `buffer` is empty; BusyResourceError
  // (concurrent receive_some); ClosedResourceError; BrokenResourceError.
  Task<size_t> receive_some(MutableBytes buffer);
  // The same into a new string of at most `max_bytes` bytes ("" if and only if EOF). It
  // allocates; the buffer form does not. ValueError if max_bytes is 0.
  Task<std::string> receive_some(size_t max_bytes = kDefaultMaxBytes);

 protected:
  // What implementations provide: receive_some(buffer) with `buffer` already checked non-empty.
  virtual Task<size_t> receive_some_impl(MutableBytes buffer) = 0;
};

class Stream : public SendStream, public ReceiveStream {};

class HalfCloseableStream : public Stream {
 public:
  // Tells the other side that no more data will be sent (it then reads EOF); receiving still
  // works. Idempotent. Afterwards send_all raises ClosedResourceError. A checkpoint.
  // Errors: BusyResourceError (concurrent with send_all), ClosedResourceError,
  // BrokenResourceError.
  virtual Task<> send_eof() = 0;
};

// Accepts connections of stream type S (e.g. Listener<SocketStream>).
template <class S>
class Listener : public virtual AsyncResource {
 public:
  // Waits for the next connection. Errors: BusyResourceError (concurrent accept),
  // ClosedResourceError; an implementation may raise OS errors (std::system_error), e.g.
  // EMFILE when out of descriptors (serve_listeners retries those).
  virtual Task<std::unique_ptr<S>> accept() = 0;
};

}  // namespace trio

#endif  // TRIO_RUNTIME_NET_STREAM_H_
