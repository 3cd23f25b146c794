// SPDX-License-Identifier: Apache-2.0 OR MIT
//
// A port of Trio's testing/_check_streams.py, block by block and in the same order. Each
// Python `async with _ForceCloseBoth(await maker()) as (s, r):` block is a free coroutine
// taking a Ctx (the suite's name and the two ends), run by run_block(), which makes the pair
// and closes both ends with aclose_forcefully afterwards. Child tasks are free functions with
// pointer arguments (no capturing lambdas in co_await expressions: coroutine-pitfalls.md).
#include "testing/check_streams.h"

#include <array>
#include <cstdint>
#include <exception>
#include <string>
#include <utility>
#include <vector>

#include "runtime/cancel_scope.h"
#include "runtime/choice.h"
#include "runtime/errors.h"
#include "runtime/lowlevel.h"
#include "runtime/nursery.h"

namespace trio::testing {
namespace {

// ---- failures and assertions ----------------------------------------------------------------

// One group of checks: the suite's name (for messages) and the ends under test.
struct Ctx {
  const char* suite;
  SendStream* s;
  ReceiveStream* r;
};

[[noreturn]] void fail(const Ctx& c, const std::string& property, const std::string& what) {
  throw StreamCheckFailure(std::string(c.suite) + ": " + property + ": " + what);
}

// The StreamCheckFailure inside `e` (a group's first such leaf), or `e` itself.
std::exception_ptr unwrap_failure(const std::exception_ptr& e) {
  try {
    std::rethrow_exception(e);
  } catch (const BaseExceptionGroup& g) {
    for (const auto& leaf : g.leaves())
      if (holds<StreamCheckFailure>(leaf)) return leaf;
  } catch (...) {
  }
  return e;
}

// `e` is an E, or a group with an E among its leaves (our nurseries always group).
template <class E>
bool matches(const std::exception_ptr& e) {
  if (holds<E>(e)) return true;
  try {
    std::rethrow_exception(e);
  } catch (const BaseExceptionGroup& g) {
    return g.contains<E>();
  } catch (...) {
    return false;
  }
}

// Trio's _assert_raises(E): awaits `t` and fails the property unless it raises an E.
template <class E>
Task<> expect_raises(const Ctx* c, std::string property, Task<> t) {
  std::exception_ptr e;
  try {
    co_await std::move(t);
  } catch (...) {
    e = std::current_exception();
  }
  if (!e) fail(*c, property, "it raised nothing");
  if (matches<E>(e)) co_return;
  std::exception_ptr failure = unwrap_failure(e);
  if (holds<StreamCheckFailure>(failure)) std::rethrow_exception(failure);
  fail(*c, property, "it raised " + describe(e));
}

struct Points {
  uint32_t cancel;
  uint32_t schedule;
};
Points points() {
  const auto& t = lowlevel::current_task();
  return {t.cancel_points, t.schedule_points};
}
// assert_checkpoints: both counters moved (only checked when the call returned normally).
void expect_checkpoint(const Ctx& c, Points before, const char* what) {
  const Points after = points();
  if (after.cancel == before.cancel || after.schedule == before.schedule)
    fail(c, std::string(what) + " is a checkpoint", "it returned without yielding");
}

std::string show(const std::string& bytes) {
  return bytes.size() <= 64 ? "\"" + bytes + "\"" : std::to_string(bytes.size()) + " bytes";
}

// ---- the checked operations (do_send_all, do_receive_some, ... in Python) ------------------

Task<> do_send_all(const Ctx* c, std::string data) {
  const Points before = points();
  co_await c->s->send_all(data);
  expect_checkpoint(*c, before, "send_all");
}

Task<std::string> do_receive_some(const Ctx* c, size_t max_bytes) {
  const Points before = points();
  std::string got = co_await c->r->receive_some(max_bytes);
  expect_checkpoint(*c, before, "receive_some");
  co_return got;
}

Task<> do_receive_some_ignoring(const Ctx* c, size_t max_bytes) {
  (void)co_await do_receive_some(c, max_bytes);
}

Task<> checked_receive_1(const Ctx* c, std::string expected) {
  const std::string got = co_await do_receive_some(c, 1);
  if (got != expected)
    fail(*c, "receive_some(1) returns the next byte sent (or \"\" at EOF)",
         "expected " + show(expected) + ", got " + show(got));
}

Task<> do_aclose(const Ctx* c, AsyncResource* resource) {
  const Points before = points();
  co_await resource->aclose();
  expect_checkpoint(*c, before, "aclose");
}

Task<> do_wait_send_all_might_not_block(const Ctx* c) {
  const Points before = points();
  co_await c->s->wait_send_all_might_not_block();
  expect_checkpoint(*c, before, "wait_send_all_might_not_block");
}

// Sends 100-byte chunks until BrokenResourceError (which propagates); at most kMaxSends.
Task<> send_until_broken(const Ctx* c) {
  constexpr int kMaxSends = 100000;
  for (int i = 0; i < kMaxSends; ++i) co_await do_send_all(c, std::string(100, 'x'));
}

// ---- the runner of a block ------------------------------------------------------------------

using Block = Task<> (*)(const Ctx*);

// _ForceCloseBoth: makes a pair, runs the block, closes both ends forcefully whatever happened.
Task<> run_block(const char* suite, const OneWayStreamMaker& maker, Block block) {
  OneWayPair pair = co_await maker();
  if (!pair.first || !pair.second)
    throw StreamCheckFailure(std::string(suite) + ": the stream maker returned a null stream");
  const Ctx c{suite, pair.first.get(), pair.second.get()};
  std::exception_ptr error;
  try {
    co_await block(&c);
  } catch (...) {
    error = std::current_exception();
  }
  std::exception_ptr close_error;
  try {
    co_await aclose_forcefully(*pair.first);
  } catch (...) {
    close_error = std::current_exception();
  }
  try {
    co_await aclose_forcefully(*pair.second);
  } catch (...) {
    if (!close_error) close_error = std::current_exception();
  }
  if (error) std::rethrow_exception(unwrap_failure(error));
  if (close_error) std::rethrow_exception(close_error);
}

// ---- check_one_way_stream's blocks ----------------------------------------------------------

Task<> send_empty_then_y(const Ctx* c) {
  co_await do_send_all(c, "");
  co_await do_send_all(c, "y");
}

Task<> send_vector_1(const Ctx* c) {
  // bytearray in Python: any contiguous bytes here.
  const std::vector<uint8_t> data{'1'};
  const Points before = points();
  co_await c->s->send_all(data);
  expect_checkpoint(*c, before, "send_all");
}

Task<> send_span_2(const Ctx* c) {
  static constexpr std::array<std::byte, 1> kData{std::byte{'2'}};
  co_await c->s->send_all(std::span<const std::byte>(kData));
}

Task<> wait_then_cancel(const Ctx* c, CancelScope* scope) {
  co_await do_wait_send_all_might_not_block(c);
  scope->cancel();
}

Task<> round_trips(const Ctx* c) {
  co_await open_nursery([&](Nursery& n) -> Task<> {
    n.start_soon(do_send_all, c, std::string("x"));
    n.start_soon(checked_receive_1, c, std::string("x"));
    co_return;
  });
  co_await open_nursery([&](Nursery& n) -> Task<> {
    n.start_soon(send_empty_then_y, c);
    n.start_soon(checked_receive_1, c, std::string("y"));
    co_return;
  });
  co_await open_nursery([&](Nursery& n) -> Task<> {
    n.start_soon(send_vector_1, c);
    n.start_soon(checked_receive_1, c, std::string("1"));
    co_return;
  });
  co_await open_nursery([&](Nursery& n) -> Task<> {
    n.start_soon(send_span_2, c);
    n.start_soon(checked_receive_1, c, std::string("2"));
    co_return;
  });
}

Task<> receive_some_zero(const Ctx* c) { (void)co_await c->r->receive_some(size_t{0}); }
Task<> receive_some_empty_buffer(const Ctx* c) {
  (void)co_await c->r->receive_some(MutableBytes());
}

Task<> two_receivers(const Ctx* c) {
  co_await open_nursery([&](Nursery& n) -> Task<> {
    n.start_soon(do_receive_some_ignoring, c, size_t{1});
    n.start_soon(do_receive_some_ignoring, c, size_t{1});
    co_return;
  });
}

Task<> max_bytes_and_busy(const Ctx* c) {
  co_await expect_raises<ValueError>(c, "receive_some(0) raises ValueError", receive_some_zero(c));
  co_await expect_raises<ValueError>(c, "receive_some of an empty buffer raises ValueError",
                                     receive_some_empty_buffer(c));
  // max_bytes may be left out.
  co_await open_nursery([&](Nursery& n) -> Task<> {
    n.start_soon(do_send_all, c, std::string("x"));
    const std::string got = co_await do_receive_some(c, ReceiveStream::kDefaultMaxBytes);
    if (got != "x")
      fail(*c, "receive_some() with the default max_bytes returns what was sent",
           "got " + show(got));
  });
  co_await expect_raises<BusyResourceError>(
      c, "two concurrent receive_some calls raise BusyResourceError", two_receivers(c));
  // An empty stream with a blocked receive_some always allows send_all.
  co_await open_nursery([&](Nursery& n) -> Task<> {
    n.start_soon(wait_then_cancel, c, &n.cancel_scope());
    n.start_soon(do_receive_some_ignoring, c, size_t{1});
    co_return;
  });
}

Task<> expect_broken_stream_on_send(const Ctx* c) {
  co_await expect_raises<BrokenResourceError>(
      c, "once the receiver is closed, send_all raises BrokenResourceError", send_until_broken(c));
}

Task<> close_receiver_task(const Ctx* c) { co_await do_aclose(c, c->r); }

Task<> closing(const Ctx* c) {
  co_await open_nursery([&](Nursery& n) -> Task<> {
    n.start_soon(expect_broken_stream_on_send, c);
    n.start_soon(close_receiver_task, c);
    co_return;
  });
  co_await expect_raises<BrokenResourceError>(c, "a broken stream stays broken",
                                              do_send_all(c, std::string(100, 'x')));
  co_await expect_raises<ClosedResourceError>(
      c, "receive_some on a closed receiver raises ClosedResourceError",
      do_receive_some_ignoring(c, 4096));
  co_await do_aclose(c, c->r);
  co_await do_aclose(c, c->r);
  co_await do_aclose(c, c->s);
  co_await expect_raises<ClosedResourceError>(
      c, "send_all on a closed sender raises ClosedResourceError",
      do_send_all(c, std::string(100, 'x')));
  co_await expect_raises<ClosedResourceError>(
      c, "send_all of no bytes on a closed sender raises ClosedResourceError", do_send_all(c, ""));
  co_await expect_raises<ClosedResourceError>(
      c, "wait_send_all_might_not_block on a closed sender raises ClosedResourceError",
      do_wait_send_all_might_not_block(c));
  co_await do_aclose(c, c->s);
  co_await do_aclose(c, c->s);
}

Task<> main_block(const Ctx* c) {
  co_await round_trips(c);
  co_await max_bytes_and_busy(c);
  co_await closing(c);
}

Task<> send_then_close(const Ctx* c) {
  co_await do_send_all(c, "y");
  co_await do_aclose(c, c->s);
}

Task<> receive_send_then_close(const Ctx* c) {
  co_await lowlevel::wait_all_tasks_blocked();
  co_await checked_receive_1(c, "y");
  co_await checked_receive_1(c, "");
  co_await do_aclose(c, c->r);
}

Task<> graceful_close_block(const Ctx* c) {
  co_await open_nursery([&](Nursery& n) -> Task<> {
    n.start_soon(send_then_close, c);
    n.start_soon(receive_send_then_close, c);
    co_return;
  });
}

Task<> forceful_receiver_close_block(const Ctx* c) {
  co_await aclose_forcefully(*c->r);
  co_await expect_raises<BrokenResourceError>(
      c, "after aclose_forcefully of the receiver, send_all raises BrokenResourceError",
      send_until_broken(c));
  co_await expect_raises<ClosedResourceError>(
      c, "after aclose_forcefully, receive_some raises ClosedResourceError",
      do_receive_some_ignoring(c, 4096));
}

Task<> forceful_sender_close_block(const Ctx* c) {
  co_await aclose_forcefully(*c->s);
  co_await expect_raises<ClosedResourceError>(
      c, "after aclose_forcefully, send_all raises ClosedResourceError", do_send_all(c, "123"));
  // The receiver gets BrokenResourceError or a clean EOF; not data, and it must not hang.
  try {
    co_await checked_receive_1(c, "");
  } catch (const BrokenResourceError&) {
  }
}

Task<> cancelled_aclose_block(const Ctx* c) {
  {
    CancelScope scope;
    scope.cancel();
    co_await scope.enter([&]() -> Task<> { co_await c->r->aclose(); });
  }
  {
    CancelScope scope;
    scope.cancel();
    co_await scope.enter([&]() -> Task<> { co_await c->s->aclose(); });
  }
  co_await expect_raises<ClosedResourceError>(
      c, "a cancelled aclose still closes: send_all raises ClosedResourceError",
      do_send_all(c, "123"));
  co_await expect_raises<ClosedResourceError>(
      c, "a cancelled aclose still closes: receive_some raises ClosedResourceError",
      do_receive_some_ignoring(c, 4096));
}

Task<> send_expecting_cancelled(const Ctx* c) {
  co_await expect_raises<Cancelled>(c, "send_all in a cancelled scope raises Cancelled",
                                    do_send_all(c, "x"));
}
Task<> receive_expecting_cancelled(const Ctx* c) {
  co_await expect_raises<Cancelled>(c, "receive_some in a cancelled scope raises Cancelled",
                                    do_receive_some_ignoring(c, 1));
}
Task<> close_sender_task(const Ctx* c) { co_await do_aclose(c, c->s); }

Task<> close_after_cancel_block(const Ctx* c) {
  {
    CancelScope scope;
    scope.cancel();
    co_await scope.enter([&]() -> Task<> {
      co_await open_nursery([&](Nursery& n) -> Task<> {
        n.start_soon(send_expecting_cancelled, c);
        n.start_soon(receive_expecting_cancelled, c);
        co_return;
      });
    });
  }
  co_await open_nursery([&](Nursery& n) -> Task<> {
    n.start_soon(close_sender_task, c);
    n.start_soon(close_receiver_task, c);
    co_return;
  });
}

Task<> receive_expecting_closed(const Ctx* c) {
  co_await expect_raises<ClosedResourceError>(
      c, "closing the receiver wakes a blocked receive_some with ClosedResourceError",
      do_receive_some_ignoring(c, 10));
}

Task<> close_wakes_receiver_block(const Ctx* c) {
  co_await open_nursery([&](Nursery& n) -> Task<> {
    n.start_soon(receive_expecting_closed, c);
    co_await lowlevel::wait_all_tasks_blocked();
    co_await aclose_forcefully(*c->r);
  });
}

// ---- the clogged blocks ----------------------------------------------------------------------

struct WaiterRecord {
  const Ctx* c;
  std::vector<std::string> record;
};

Task<> clogged_waiter(WaiterRecord* w, CancelScope* scope) {
  w->record.push_back("waiter sleeping");
  co_await do_wait_send_all_might_not_block(w->c);
  w->record.push_back("waiter wokeup");
  scope->cancel();
}

Task<> clogged_receiver(WaiterRecord* w) {
  co_await lowlevel::wait_all_tasks_blocked();
  w->record.push_back("receiver starting");
  std::string buffer(16834, '\0');
  for (;;) (void)co_await w->c->r->receive_some(buffer);
}

Task<> clogged_wait_order_block(const Ctx* c) {
  WaiterRecord w{c, {}};
  co_await open_nursery([&](Nursery& n) -> Task<> {
    n.start_soon(clogged_waiter, &w, &n.cancel_scope());
    co_await lowlevel::wait_all_tasks_blocked();
    n.start_soon(clogged_receiver, &w);
  });
  const std::vector<std::string> want{"waiter sleeping", "receiver starting", "waiter wokeup"};
  if (w.record != want) {
    std::string got;
    for (const auto& e : w.record) got += (got.empty() ? "" : ", ") + e;
    fail(*c,
         "on a clogged stream, wait_send_all_might_not_block returns only once receive_some "
         "runs",
         "events were [" + got + "]");
  }
}

Task<> raw_wait(const Ctx* c) { co_await c->s->wait_send_all_might_not_block(); }
Task<> raw_send_123(const Ctx* c) { co_await c->s->send_all("123"); }

Task<> two_waits(const Ctx* c) {
  co_await open_nursery([&](Nursery& n) -> Task<> {
    n.start_soon(raw_wait, c);
    n.start_soon(raw_wait, c);
    co_return;
  });
}
Task<> wait_and_send(const Ctx* c) {
  co_await open_nursery([&](Nursery& n) -> Task<> {
    n.start_soon(raw_wait, c);
    n.start_soon(raw_send_123, c);
    co_return;
  });
}
Task<> two_sends(const Ctx* c) {
  co_await open_nursery([&](Nursery& n) -> Task<> {
    n.start_soon(raw_send_123, c);
    n.start_soon(raw_send_123, c);
    co_return;
  });
}

Task<> clogged_busy_waits_block(const Ctx* c) {
  co_await expect_raises<BusyResourceError>(
      c, "two concurrent wait_send_all_might_not_block calls raise BusyResourceError",
      two_waits(c));
  co_await expect_raises<BusyResourceError>(
      c, "wait_send_all_might_not_block concurrent with send_all raises BusyResourceError",
      wait_and_send(c));
}

Task<> clogged_busy_sends_block(const Ctx* c) {
  co_await expect_raises<BusyResourceError>(
      c, "two concurrent send_all calls raise BusyResourceError", two_sends(c));
}

Task<> wait_tolerating_broken(const Ctx* c) {
  try {
    co_await do_wait_send_all_might_not_block(c);
  } catch (const BrokenResourceError&) {
  }
}
Task<> close_receiver_when_idle(const Ctx* c) {
  co_await lowlevel::wait_all_tasks_blocked();
  co_await aclose_forcefully(*c->r);
}

Task<> clogged_close_receiver_block(const Ctx* c) {
  co_await open_nursery([&](Nursery& n) -> Task<> {
    n.start_soon(wait_tolerating_broken, c);
    n.start_soon(close_receiver_when_idle, c);
    co_return;
  });
}

Task<> clogged_closed_receiver_block(const Ctx* c) {
  co_await aclose_forcefully(*c->r);
  co_await wait_tolerating_broken(c);
}

Task<> close_sender_when_idle(const Ctx* c) {
  co_await lowlevel::wait_all_tasks_blocked();
  co_await aclose_forcefully(*c->s);
}

Task<> clogged_close_wakes_send_block(const Ctx* c) {
  co_await open_nursery([&](Nursery& n) -> Task<> {
    n.start_soon(close_sender_when_idle, c);
    co_await expect_raises<ClosedResourceError>(
        c, "closing the sender wakes a blocked send_all with ClosedResourceError",
        c->s->send_all("xyzzy"));
  });
}

Task<> clogged_close_wakes_wait_block(const Ctx* c) {
  co_await open_nursery([&](Nursery& n) -> Task<> {
    n.start_soon(close_sender_when_idle, c);
    co_await expect_raises<ClosedResourceError>(
        c,
        "closing the sender wakes a blocked wait_send_all_might_not_block with "
        "ClosedResourceError",
        raw_wait(c));
  });
}

Task<> check_one_way(const char* suite, const OneWayStreamMaker& maker,
                     const OneWayStreamMaker& clogged) {
  for (Block block : {main_block, graceful_close_block, forceful_receiver_close_block,
                      forceful_sender_close_block, cancelled_aclose_block, close_after_cancel_block,
                      close_wakes_receiver_block})
    co_await run_block(suite, maker, block);
  if (!clogged) co_return;
  for (Block block : {clogged_wait_order_block, clogged_busy_waits_block, clogged_busy_sends_block,
                      clogged_close_receiver_block, clogged_closed_receiver_block,
                      clogged_close_wakes_send_block, clogged_close_wakes_wait_block})
    co_await run_block(suite, clogged, block);
}

// ---- two-way ---------------------------------------------------------------------------------

constexpr size_t kDuplexTestSize = size_t{1} << 20;
constexpr uint64_t kChunkSizeMax = uint64_t{1} << 14;

Task<OneWayPair> two_way_as_one_way(const TwoWayStreamMaker* maker, bool flipped) {
  TwoWayPair p = co_await (*maker)();
  if (flipped) co_return OneWayPair(std::move(p.second), std::move(p.first));
  co_return OneWayPair(std::move(p.first), std::move(p.second));
}

OneWayStreamMaker one_way_maker(const TwoWayStreamMaker& maker, bool flipped) {
  if (!maker) return nullptr;
  const TwoWayStreamMaker* m = &maker;
  return [m, flipped] { return two_way_as_one_way(m, flipped); };
}

Task<> duplex_sender(Stream* s, const std::string* data, uint64_t seed) {
  Prng r(seed);
  size_t offset = 0;
  while (offset < data->size()) {
    const size_t chunk_size = 1 + r.next() % kChunkSizeMax;
    co_await s->send_all(ConstBytes(*data).subspan(offset, chunk_size));
    offset += chunk_size;
  }
}

Task<> duplex_receiver(const Ctx* c, Stream* s, const std::string* data, uint64_t seed) {
  Prng r(seed);
  std::string got;
  while (got.size() < data->size()) {
    const std::string chunk = co_await s->receive_some(1 + r.next() % kChunkSizeMax);
    if (chunk.empty())
      fail(*c, "the full-duplex transfer delivers every byte",
           "receive_some returned EOF after " + std::to_string(got.size()) + " bytes");
    got += chunk;
  }
  if (got != *data) {
    size_t i = 0;
    while (i < got.size() && got[i] == (*data)[i]) ++i;
    fail(*c, "the full-duplex transfer delivers every byte in order",
         "the bytes differ from offset " + std::to_string(i));
  }
}

Task<> expect_receive_some_empty(const Ctx* c, Stream* s2) {
  const std::string got = co_await s2->receive_some(10);
  if (!got.empty())
    fail(*c, "closing one end of a two-way stream gives the other EOF", "got " + show(got));
  co_await s2->aclose();
}

Task<> close_stream(Stream* s) { co_await s->aclose(); }

Task<> duplex_block(const Ctx* c) {
  auto* s1 = dynamic_cast<Stream*>(c->s);
  auto* s2 = dynamic_cast<Stream*>(c->r);
  if (!s1 || !s2) fail(*c, "the maker returns Streams", "an end is not a trio::Stream");
  Prng r(0);
  std::string data(kDuplexTestSize, '\0');
  for (size_t i = 0; i < data.size(); i += 8) {
    const uint64_t word = r.next();
    for (size_t k = 0; k < 8; ++k) data[i + k] = static_cast<char>(word >> (8 * k));
  }
  const std::string reversed(data.rbegin(), data.rend());
  co_await open_nursery([&](Nursery& n) -> Task<> {
    n.start_soon(duplex_sender, s1, &data, uint64_t{0});
    n.start_soon(duplex_sender, s2, &reversed, uint64_t{1});
    n.start_soon(duplex_receiver, c, s1, &reversed, uint64_t{2});
    n.start_soon(duplex_receiver, c, s2, &data, uint64_t{3});
    co_return;
  });
  co_await open_nursery([&](Nursery& n) -> Task<> {
    n.start_soon(expect_receive_some_empty, c, s2);
    n.start_soon(close_stream, s1);
    co_return;
  });
}

// ---- half-closeable ----------------------------------------------------------------------

Task<> send_x_then_eof(const Ctx* c, HalfCloseableStream* s) {
  co_await s->send_all("x");
  const Points before = points();
  co_await s->send_eof();
  expect_checkpoint(*c, before, "send_eof");
}

Task<> expect_x_then_eof(const Ctx* c, HalfCloseableStream* r) {
  co_await lowlevel::wait_all_tasks_blocked();
  std::string got = co_await r->receive_some(10);
  if (got != "x") fail(*c, "send_eof delivers the data sent before it", "got " + show(got));
  got = co_await r->receive_some(10);
  if (!got.empty()) fail(*c, "after send_eof the other side reads EOF", "got " + show(got));
}

Task<> send_y(HalfCloseableStream* s) { co_await s->send_all("y"); }
Task<> send_x(HalfCloseableStream* s) { co_await s->send_all("x"); }
Task<> send_eof(HalfCloseableStream* s) { co_await s->send_eof(); }
Task<> wait_hc(HalfCloseableStream* s) { co_await s->wait_send_all_might_not_block(); }

std::pair<HalfCloseableStream*, HalfCloseableStream*> half_closeable_ends(const Ctx* c) {
  auto* s1 = dynamic_cast<HalfCloseableStream*>(c->s);
  auto* s2 = dynamic_cast<HalfCloseableStream*>(c->r);
  if (!s1 || !s2)
    fail(*c, "the maker returns HalfCloseableStreams", "an end is not a HalfCloseableStream");
  return {s1, s2};
}

Task<> half_close_block(const Ctx* c) {
  // Not a structured binding: clang 14 cannot capture those in the nursery bodies.
  const auto ends = half_closeable_ends(c);
  HalfCloseableStream* s1 = ends.first;
  HalfCloseableStream* s2 = ends.second;
  co_await open_nursery([&](Nursery& n) -> Task<> {
    n.start_soon(send_x_then_eof, c, s1);
    n.start_soon(expect_x_then_eof, c, s2);
    co_return;
  });
  co_await expect_raises<ClosedResourceError>(
      c, "after send_eof, send_all raises ClosedResourceError", send_y(s1));
  const Points before = points();
  co_await s1->send_eof();
  expect_checkpoint(*c, before, "a repeated send_eof");
  co_await open_nursery([&](Nursery& n) -> Task<> {
    n.start_soon(send_x_then_eof, c, s2);
    n.start_soon(expect_x_then_eof, c, s1);
    co_return;
  });
}

Task<> send_then_eof_concurrently(HalfCloseableStream* s1) {
  co_await open_nursery([&](Nursery& n) -> Task<> {
    n.start_soon(send_x, s1);
    co_await lowlevel::wait_all_tasks_blocked();
    n.start_soon(send_eof, s1);
  });
}
Task<> wait_then_eof_concurrently(HalfCloseableStream* s1) {
  co_await open_nursery([&](Nursery& n) -> Task<> {
    n.start_soon(wait_hc, s1);
    co_await lowlevel::wait_all_tasks_blocked();
    n.start_soon(send_eof, s1);
  });
}

Task<> clogged_send_eof_busy_block(const Ctx* c) {
  HalfCloseableStream* s1 = half_closeable_ends(c).first;
  co_await expect_raises<BusyResourceError>(
      c, "send_eof concurrent with send_all raises BusyResourceError",
      send_then_eof_concurrently(s1));
}

Task<> clogged_wait_eof_busy_block(const Ctx* c) {
  HalfCloseableStream* s1 = half_closeable_ends(c).first;
  co_await expect_raises<BusyResourceError>(
      c, "send_eof concurrent with wait_send_all_might_not_block raises BusyResourceError",
      wait_then_eof_concurrently(s1));
}

Task<TwoWayPair> half_as_two_way(const HalfCloseableStreamMaker* maker) {
  HalfCloseablePair p = co_await (*maker)();
  co_return TwoWayPair(std::move(p.first), std::move(p.second));
}

TwoWayStreamMaker two_way_maker(const HalfCloseableStreamMaker& maker) {
  if (!maker) return nullptr;
  const HalfCloseableStreamMaker* m = &maker;
  return [m] { return half_as_two_way(m); };
}

Task<> check_two_way(const char* suite, const TwoWayStreamMaker& maker,
                     const TwoWayStreamMaker& clogged) {
  // Named makers: no non-trivial temporaries inside co_await expressions (pitfalls, row 2).
  const OneWayStreamMaker forward = one_way_maker(maker, false);
  const OneWayStreamMaker clogged_forward = one_way_maker(clogged, false);
  const OneWayStreamMaker flipped = one_way_maker(maker, true);
  const OneWayStreamMaker clogged_flipped = one_way_maker(clogged, true);
  co_await check_one_way(suite, forward, clogged_forward);
  co_await check_one_way(suite, flipped, clogged_flipped);
  co_await run_block(suite, forward, duplex_block);
}

}  // namespace

Task<> check_one_way_stream(OneWayStreamMaker stream_maker,
                            OneWayStreamMaker clogged_stream_maker) {
  co_await check_one_way("check_one_way_stream", stream_maker, clogged_stream_maker);
}

Task<> check_two_way_stream(TwoWayStreamMaker stream_maker,
                            TwoWayStreamMaker clogged_stream_maker) {
  co_await check_two_way("check_two_way_stream", stream_maker, clogged_stream_maker);
}

Task<> check_half_closeable_stream(HalfCloseableStreamMaker stream_maker,
                                   HalfCloseableStreamMaker clogged_stream_maker) {
  const char* suite = "check_half_closeable_stream";
  const TwoWayStreamMaker two_way = two_way_maker(stream_maker);
  const TwoWayStreamMaker clogged_two_way = two_way_maker(clogged_stream_maker);
  co_await check_two_way(suite, two_way, clogged_two_way);
  const OneWayStreamMaker one_way = one_way_maker(two_way, false);
  co_await run_block(suite, one_way, half_close_block);
  if (!clogged_stream_maker) co_return;
  const OneWayStreamMaker clogged_one_way = one_way_maker(clogged_two_way, false);
  co_await run_block(suite, clogged_one_way, clogged_send_eof_busy_block);
  co_await run_block(suite, clogged_one_way, clogged_wait_eof_busy_block);
}

}  // namespace trio::testing
