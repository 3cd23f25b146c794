// SPDX-License-Identifier: Apache-2.0 OR MIT
#include "testing/bug_zoo.h"

#include <stdexcept>
#include <tuple>
#include <utility>

#include "absl/strings/str_cat.h"
#include "testing/property.h"

namespace trio::testing::bug_zoo {

using namespace std::chrono_literals;

const char* variant_name(Variant variant) {
  return variant == Variant::kBuggy ? "buggy" : "correct";
}

namespace {
// A duration of `n` milliseconds, n drawn from the run in [0, count).
Duration random_ms(uint64_t count) {
  return std::chrono::milliseconds(lowlevel::random_choice(count));
}
}  // namespace

// ---- 1. lost wake-up --------------------------------------------------------------------------

void Mailbox::put(int message) {
  messages_.push_back(message);
  consumer_.unpark();
}

Task<int> Mailbox::get() {
  if (!messages_.empty()) {
    co_await checkpoint();  // a checkpoint on every path (Trio's rule)
  } else {
    ++idle_reports_;
    co_await checkpoint();  // reporting the consumer idle: a metrics write
    if (variant_ == Variant::kBuggy) {
      // BUG: the message check was before the report; a put() during it woke nobody.
      co_await consumer_.park("Mailbox.get");
    } else {
      while (messages_.empty()) co_await consumer_.park("Mailbox.get");
    }
  }
  const int message = messages_.front();
  messages_.pop_front();
  co_return message;
}

Task<> mailbox_scenario(Variant variant) {
  Mailbox box(variant);
  std::vector<int> received;
  co_await open_nursery([&](Nursery& n) -> Task<> {
    n.start_soon(TaskName("producer"), [&]() -> Task<> {
      for (int i = 0; i < 3; ++i) {
        co_await checkpoint();
        box.put(i);
      }
    });
    n.start_soon(TaskName("consumer"), [&]() -> Task<> {
      for (int i = 0; i < 3; ++i) received.push_back(co_await box.get());
    });
    co_return;
  });
  prop_assert(received == std::vector<int>{0, 1, 2}, "the consumer got every message, in order");
}

// ---- 2. lock not released on cancellation -----------------------------------------------------

Task<> journal_append(Journal& journal, int entry, Duration flush_time, Variant variant) {
  if (variant == Variant::kBuggy) {
    co_await journal.lock.acquire();
    co_await sleep(flush_time);  // BUG: cancelled here, the release() below never runs
    journal.entries.push_back(entry);
    journal.lock.release();
  } else {
    LockGuard held = co_await journal.lock.acquire_guard();
    co_await sleep(flush_time);
    journal.entries.push_back(entry);
  }
}

Task<> journal_scenario(Variant variant, Duration append_timeout) {
  Journal journal;
  co_await open_nursery([&](Nursery& n) -> Task<> {
    for (int w = 0; w < 2; ++w) {
      n.start_soon(TaskName(absl::StrCat("writer", w)), [&, w]() -> Task<> {
        for (int i = 0; i < 2; ++i) {
          const Duration flush = 1ms + random_ms(4);
          co_await move_on_after(append_timeout, [&]() -> Task<> {
            co_await journal_append(journal, 10 * w + i, flush, variant);
          });
        }
      });
    }
    co_return;
  });
  prop_assert(!journal.lock.locked(), "the journal's lock is free once every writer is done");
}

// ---- 3. message dropped by a cancelled wrapper ------------------------------------------------

Task<> relay(MemoryReceiveChannel<int>& inbox, MemorySendChannel<int>& downstream,
             std::optional<int>& unsent, Variant variant) {
  while (std::optional<int> message = co_await inbox.receive_or_end()) {
    if (variant == Variant::kBuggy) {
      co_await downstream.send(*message);  // BUG: cancelled while it waits, *message is lost
    } else {
      try {
        co_await downstream.send(*message);
      } catch (const Cancelled&) {
        unsent = *message;  // handed back for redelivery (a cancelled send delivered nothing)
        throw;
      }
    }
  }
}

Task<> relay_scenario(Variant variant, Duration relay_deadline) {
  constexpr int kMessages = 3;
  MemorySendChannel<int> inbox_tx;
  MemoryReceiveChannel<int> inbox;
  std::tie(inbox_tx, inbox) = open_memory_channel<int>(kMessages);
  for (int i = 0; i < kMessages; ++i) inbox_tx.send_nowait(i);
  inbox_tx.close();
  MemorySendChannel<int> downstream;
  MemoryReceiveChannel<int> downstream_rx;
  std::tie(downstream, downstream_rx) = open_memory_channel<int>(0);
  const Duration deadline =
      relay_deadline != Duration::zero() ? relay_deadline : 1ms + random_ms(4);
  std::vector<int> delivered;
  std::optional<int> unsent;
  co_await open_nursery([&](Nursery& n) -> Task<> {
    n.start_soon(TaskName("consumer"), [&]() -> Task<> {
      while (std::optional<int> message = co_await downstream_rx.receive_or_end()) {
        delivered.push_back(*message);
        co_await sleep(1ms);  // processing
      }
    });
    n.start_soon(TaskName("relay"), [&]() -> Task<> {
      co_await move_on_after(
          deadline, [&]() -> Task<> { co_await relay(inbox, downstream, unsent, variant); });
      downstream.close();  // the consumer's loop ends
    });
    co_return;
  });
  size_t queued = 0;
  for (;;) {
    try {
      (void)inbox.receive_nowait();
      ++queued;
    } catch (const EndOfChannel&) {
      break;
    }
  }
  prop_assert(delivered.size() + queued + (unsent ? 1 : 0) == kMessages,
              "every message is delivered, still in the inbox or handed back");
}

// ---- 4. timeout racing completion ---------------------------------------------------------------

Task<> payment_service(Order& order, Duration processing_time) {
  co_await sleep(processing_time);
  if (order.voided) co_return;
  order.charged = true;
  order.confirmed.set();
}

Task<> checkout(Order& order, Variant variant) {
  const bool timed_out =
      co_await move_on_after(100ms, [&]() -> Task<> { co_await order.confirmed.wait(); });
  // BUG (buggy): "timed out" does not mean "not charged": the charge may have completed at the
  // very instant of the deadline.
  const bool failed = variant == Variant::kBuggy ? timed_out : !order.confirmed.is_set();
  if (failed) order.voided = true;
}

Task<> checkout_scenario(Variant variant) {
  for (int i = 0; i < 2; ++i) {
    Order order;
    const Duration processing = 50ms * static_cast<int>(1 + lowlevel::random_choice(3));
    co_await open_nursery([&](Nursery& n) -> Task<> {
      n.start_soon(TaskName("payment service"),
                   [&]() -> Task<> { co_await payment_service(order, processing); });
      co_await checkout(order, variant);
    });
    prop_assert(!(order.charged && order.voided), "no order is both charged and voided");
    prop_assert(order.charged || order.voided, "every order is charged or voided");
  }
}

// ---- 5. ordering assumption between siblings ---------------------------------------------------

Task<> load_config(Service& service, TaskStatus<>& status) {
  co_await checkpoint();  // reading the config file
  service.config = "port=8080";
  status.started();
}

Task<> serve_one_request(Service& service) {
  co_await checkpoint();  // accepting a request
  prop_assert(service.config.has_value(), "a request was answered before the config was loaded");
  ++service.answered;
}

Task<> startup_scenario(Variant variant) {
  Service service;
  co_await open_nursery([&](Nursery& n) -> Task<> {
    if (variant == Variant::kBuggy) {
      // BUG: started first does not mean runs first.
      n.start_soon(TaskName("config loader"),
                   [&]() -> Task<> { co_await load_config(service, TaskStatus<>::ignored()); });
    } else {
      co_await n.start(TaskName("config loader"), [&](TaskStatus<>& status) -> Task<> {
        co_await load_config(service, status);
      });
    }
    n.start_soon(TaskName("server"), [&]() -> Task<> { co_await serve_one_request(service); });
  });
  prop_assert(service.answered == 1, "the request was answered");
}

// ---- 6. deadlock --------------------------------------------------------------------------------

Task<> transfer(Account& from, Account& to, int64_t amount, Variant variant) {
  Account* first = &from;
  Account* second = &to;
  if (variant == Variant::kCorrect && to.id < from.id) std::swap(first, second);
  LockGuard first_held = co_await first->lock.acquire_guard();
  // BUG (buggy): the opposite transfer may hold `second` and wait for `first`.
  LockGuard second_held = co_await second->lock.acquire_guard();
  co_await sleep(1ms);  // the ledger write
  from.balance -= amount;
  to.balance += amount;
}

Task<> transfer_scenario(Variant variant) {
  Account alice("alice", 1, 100);
  Account bob("bob", 2, 100);
  co_await open_nursery([&](Nursery& n) -> Task<> {
    n.start_soon(TaskName("transfer alice->bob"), [&]() -> Task<> {
      co_await sleep(random_ms(3));
      co_await transfer(alice, bob, 30, variant);
    });
    n.start_soon(TaskName("transfer bob->alice"), [&]() -> Task<> {
      co_await sleep(random_ms(3));
      co_await transfer(bob, alice, 10, variant);
    });
    co_return;
  });
  prop_assert(alice.balance == 80 && bob.balance == 120, "both transfers were applied");
}

// ---- 7. livelock -------------------------------------------------------------------------------

Task<> run_for_leader(Election& election, int me, Variant variant) {
  co_await sleep(random_ms(2));  // booting
  while (!election.leader) {
    ++election.rounds;
    election.candidate[me] = true;
    co_await checkpoint();  // asking the peer for its vote
    const bool won = !election.candidate[1 - me];
    co_await checkpoint();  // counting the votes
    election.candidate[me] = false;
    if (won) {
      election.leader = me;
      co_return;
    }
    // BUG (buggy): a fixed back-off; after a split vote both retry in lockstep, forever.
    // (Computed in a statement of its own: g++ 12 evaluates both arms of a ?: of class type in a
    // co_await expression, which would draw a choice the buggy variant does not use.)
    Duration backoff = 10ms;
    if (variant == Variant::kCorrect) backoff += random_ms(10);
    co_await sleep(backoff);
  }
}

Task<> election_scenario(Variant variant) {
  Election election;
  co_await open_nursery([&](Nursery& n) -> Task<> {
    for (int me = 0; me < 2; ++me) {
      n.start_soon(TaskName(absl::StrCat("node", me)),
                   [&, me]() -> Task<> { co_await run_for_leader(election, me, variant); });
    }
    co_return;
  });
  prop_assert(election.leader.has_value(), "a leader was elected");
}

// ---- the zoo ------------------------------------------------------------------------------------

Scenario Specimen::of(Variant variant) const {
  return [f = scenario, variant] { return f(variant); };
}

const std::vector<Specimen>& specimens() {
  static const std::vector<Specimen> zoo = {
      {"lost_wakeup", "Mailbox::get checks, reports idle (a checkpoint), then parks",
       mailbox_scenario},
      {"lock_not_released", "journal_append: manual acquire/release around a cancellable flush",
       [](Variant v) { return journal_scenario(v); }},
      {"message_dropped", "relay: a cancelled send drops the message it holds",
       [](Variant v) { return relay_scenario(v); }},
      {"timeout_racing_completion", "checkout: move_on_after's timed-out flag taken as not done",
       checkout_scenario},
      {"sibling_ordering", "start-up: the server assumes the loader, started first, ran first",
       startup_scenario},
      {"deadlock", "transfer: two locks taken in opposite orders", transfer_scenario},
      {"livelock", "leader election: split votes retried after the same fixed back-off",
       election_scenario, std::chrono::milliseconds(200)},
  };
  return zoo;
}

const Specimen& specimen(const std::string& name) {
  for (const Specimen& s : specimens())
    if (s.name == name) return s;
  throw std::out_of_range(absl::StrCat("no bug zoo specimen named ", name));
}

}  // namespace trio::testing::bug_zoo
