// SPDX-License-Identifier: Apache-2.0 OR MIT
//
// Conformance suites for byte streams (Trio's trio.testing.check_one_way_stream,
// check_two_way_stream and check_half_closeable_stream; spec §1.19): run any stream
// implementation through the properties every Trio stream must have — round trips, empty
// sends, max_bytes validation, BusyResourceError on concurrent use, ClosedResourceError after
// aclose (repeatable), BrokenResourceError that persists once the receiver is closed, graceful
// close delivering data then EOF, aclose_forcefully, cancelled aclose still closing, closing
// waking blocked tasks, wait_send_all_might_not_block ordering on a clogged stream, a 1 MiB
// full-duplex transfer with seeded random chunk sizes, and send_eof.
//
// Example (inside a run, on an autojump MockClock):
//   co_await trio::testing::check_half_closeable_stream(
//       []() -> trio::Task<trio::testing::HalfCloseablePair> {
//         co_return trio::testing::memory_stream_pair();
//       },
//       nullptr);
//
// A maker is called once per group of checks and returns a connected pair; the checks close
// both ends with aclose_forcefully afterwards. The clogged maker (may be null: those checks
// are skipped) returns a pair whose send_all and wait_send_all_might_not_block block until
// receive_some is called — lockstep_stream_pair (io_fake/) is one.
//
// Failure: the first violated property raises StreamCheckFailure, whose message names the
// suite and the property, e.g. "check_one_way_stream: once the receiver is closed, send_all
// raises BrokenResourceError: it raised nothing". Errors of the stream that no property
// expects propagate as they are (inside a nursery: an ExceptionGroup). Each check is a series
// of checkpoints; all of them run in the calling task and its children. Deterministic: the
// random data and chunk sizes come from fixed seeds (trio::Prng 0..3), never the run's seed.
//
// What C++ cannot express and is not checked: receive_some(-1) and receive_some(1.5) (the
// type system rejects them), and bytearray/memoryview inputs (ConstBytes takes any contiguous
// bytes: a std::vector and a std::span stand in for them).
#ifndef TRIO_TESTING_CHECK_STREAMS_H_
#define TRIO_TESTING_CHECK_STREAMS_H_

#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <utility>

#include "runtime/net/stream.h"
#include "runtime/task.h"

namespace trio::testing {

// A violated stream property: "<suite>: <property>: <what happened>".
class StreamCheckFailure : public std::runtime_error {
 public:
  explicit StreamCheckFailure(const std::string& message) : std::runtime_error(message) {}
};

using OneWayPair = std::pair<std::unique_ptr<SendStream>, std::unique_ptr<ReceiveStream>>;
using TwoWayPair = std::pair<std::unique_ptr<Stream>, std::unique_ptr<Stream>>;
using HalfCloseablePair =
    std::pair<std::unique_ptr<HalfCloseableStream>, std::unique_ptr<HalfCloseableStream>>;

// Makers: async functions returning a fresh connected pair (data flows first -> second for a
// one-way pair). A null std::function means "no clogged maker".
using OneWayStreamMaker = std::function<Task<OneWayPair>()>;
using TwoWayStreamMaker = std::function<Task<TwoWayPair>()>;
using HalfCloseableStreamMaker = std::function<Task<HalfCloseablePair>()>;

// Trio's check_one_way_stream. `stream_maker` must not be null.
Task<> check_one_way_stream(OneWayStreamMaker stream_maker, OneWayStreamMaker clogged_stream_maker);
// check_one_way_stream in both directions, then the 1 MiB full-duplex transfer and a graceful
// close seen as EOF by the other side.
Task<> check_two_way_stream(TwoWayStreamMaker stream_maker, TwoWayStreamMaker clogged_stream_maker);
// check_two_way_stream, then send_eof: data then EOF, send_all afterwards ClosedResourceError,
// send_eof idempotent and a checkpoint, the other direction still usable; on a clogged stream,
// send_eof concurrent with send_all or wait_send_all_might_not_block is BusyResourceError.
Task<> check_half_closeable_stream(HalfCloseableStreamMaker stream_maker,
                                   HalfCloseableStreamMaker clogged_stream_maker);

}  // namespace trio::testing

#endif  // TRIO_TESTING_CHECK_STREAMS_H_
