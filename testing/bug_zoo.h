// SPDX-License-Identifier: Apache-2.0 OR MIT
//
// The bug zoo: the acceptance test of the testing layer. Seven classic concurrency bugs, each
// planted in a small, realistic component that comes in a BUGGY and a CORRECT variant (the
// `Variant` parameter), and each with a scenario — one simulated run that raises when the
// component misbehaves (prop_assert, a DeadlockError, or a livelock budget running out):
//
//   1. lost wake-up            Mailbox: get() checks for a message, reports itself idle (a
//                              checkpoint), then parks — a put() in between wakes nobody.
//   2. lock not released       journal_append: manual acquire()/release() around the flush; a
//      on cancellation         timeout during the flush leaves the Lock held.
//   3. message dropped by a    relay: takes a message from the inbox, then hands it on with a
//      cancelled wrapper       blocking send(); cancelled in the send, the message is lost.
//   4. timeout racing          checkout: the payment completes at the very instant the
//      completion              client's move_on_after fires; the client takes "timed out" to
//                              mean "not charged" and voids a charged order.
//   5. ordering assumption     service start-up: the server assumes the config loader ran first
//      between siblings        because it was started first.
//   6. deadlock                transfer: two transfers take two accounts' locks in opposite
//                              orders.
//   7. livelock                leader election: after a split vote both candidates retry after
//                              the same fixed timeout, and split again, forever.
//
// testing/bug_zoo_test.cc shows the harness finding every buggy variant within 1,000 seeds
// (sweep, check_property under PCT, explore_cancellation), shrinking it and reporting a repro;
// testing/bug_zoo_clean_test.cc runs every correct variant over 10,000 seeds (sharded).
//
// Every scenario keeps its state in its coroutine frame and draws its randomness from the run
// (trio::lowlevel::random_choice), so a seed or a choice string fixes the whole run.
#ifndef TRIO_TESTING_BUG_ZOO_H_
#define TRIO_TESTING_BUG_ZOO_H_

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "runtime/channel.h"
#include "runtime/sync.h"
#include "runtime/trio.h"
#include "testing/determinism.h"

namespace trio::testing::bug_zoo {

enum class Variant : uint8_t { kBuggy, kCorrect };
const char* variant_name(Variant variant);

// The default virtual-time budget of a zoo run (Specimen::budget): a livelocked run fails when
// it runs out. Three times what the longest correct run (checkout) needs.
inline constexpr Duration kVirtualTimeBudget = std::chrono::seconds(1);

// ---- 1. lost wake-up --------------------------------------------------------------------------

// A single-consumer mailbox with a hand-rolled wake-up: put() wakes the consumer if it is
// parked. get() reports the consumer idle (a checkpoint: a metrics write) before waiting. The
// buggy get() checks for a message, reports, and parks — a message put in between was seen by
// nobody, and the consumer sleeps until the next put(), or forever. The correct get() checks
// again right before parking (check and park in one step, in a loop).
class Mailbox {
 public:
  explicit Mailbox(Variant variant) : variant_(variant) {}
  // Appends a message and wakes the consumer if it waits. Sync.
  void put(int message);
  // Takes the oldest message, waiting for one. A checkpoint.
  Task<int> get();
  int idle_reports() const { return idle_reports_; }

 private:
  Variant variant_;
  std::deque<int> messages_;
  lowlevel::ParkingLot consumer_;
  int idle_reports_ = 0;
};

// A producer puts 0, 1, 2 (a checkpoint before each); a consumer gets three messages. Buggy: a
// DeadlockError (the consumer parked with a message waiting, the producer gone).
Task<> mailbox_scenario(Variant variant);

// ---- 2. lock not released on cancellation -----------------------------------------------------

struct Journal {
  Lock lock;
  std::vector<int> entries;
};

// Appends `entry`, holding the journal's lock while the write is flushed (a sleep of
// `flush_time`). Buggy: acquire() ... release() by hand, so a cancellation during the flush
// skips the release. Correct: a LockGuard.
Task<> journal_append(Journal& journal, int entry, Duration flush_time, Variant variant);

// Two writers append two entries each, each append under move_on_after(`append_timeout`) with a
// flush of 1..4 ms (from the run). Raises if the lock is left held: a later acquire fails with
// RuntimeError "attempt to re-acquire an already held Lock" or BrokenResourceError "Owner of
// this lock exited without releasing", or the final check "the journal's lock is free" fails.
// With a long timeout (1 h) no append times out: the subject of explore_cancellation.
Task<> journal_scenario(Variant variant, Duration append_timeout = std::chrono::milliseconds(5));

// ---- 3. message dropped by a cancelled wrapper ------------------------------------------------

// Forwards messages from `inbox` to `downstream` (a rendezvous channel: send() blocks until the
// consumer takes the message) until the inbox ends. Buggy: a cancellation while send() waits
// drops the message it holds — it is in neither channel. Correct: it is handed back in
// `unsent` (for redelivery) before Cancelled goes on.
Task<> relay(MemoryReceiveChannel<int>& inbox, MemorySendChannel<int>& downstream,
             std::optional<int>& unsent, Variant variant);

// Three messages in the inbox; the relay runs under move_on_after(`relay_deadline`, or 1..4 ms
// drawn from the run when it is zero); a consumer takes 1 ms per message. Raises unless
// sent == delivered + still in the inbox + unsent.
Task<> relay_scenario(Variant variant, Duration relay_deadline = Duration::zero());

// ---- 4. timeout racing completion ---------------------------------------------------------------

struct Order {
  bool charged = false;
  bool voided = false;
  Event confirmed;
};

// The payment service: charges the order after `processing_time` unless it was voided.
Task<> payment_service(Order& order, Duration processing_time);
// The client: waits up to 100 ms for the confirmation and voids the order if it got none.
// Buggy: decides by move_on_after's "timed out" result — when the charge completes at the very
// instant of the deadline, the scope still reports a timeout and a charged order is voided.
// Correct: decides by whether the confirmation arrived.
Task<> checkout(Order& order, Variant variant);

// Two orders in turn, each processed in 50, 100 or 150 ms (from the run). Raises when an order
// is both charged and voided.
Task<> checkout_scenario(Variant variant);

// ---- 5. ordering assumption between siblings ---------------------------------------------------

struct Service {
  std::optional<std::string> config;
  int answered = 0;
};

// Reads the config (a checkpoint), then reports started.
Task<> load_config(Service& service, TaskStatus<>& status);
// Accepts a request (a checkpoint) and answers it with the config.
Task<> serve_one_request(Service& service);

// Buggy: start_soon(loader), start_soon(server): the server assumes the loader ran first since
// it was started first. Correct: `co_await n.start(loader)` before start_soon(server). Raises
// "a request was answered before the config was loaded".
Task<> startup_scenario(Variant variant);

// ---- 6. deadlock --------------------------------------------------------------------------------

struct Account {
  Account(std::string name, int id, int64_t balance)
      : name(std::move(name)), id(id), balance(balance), lock("accounts[" + this->name + "]") {}
  std::string name;
  int id;
  int64_t balance;
  Lock lock;  // named "accounts[<name>]", so that a hang report says which account's lock
};

// Moves `amount` holding both accounts' locks (the ledger write: 1 ms). Buggy: locks `from`,
// then `to` — the opposite transfer locks them the other way round. Correct: locks in a global
// order (by id).
Task<> transfer(Account& from, Account& to, int64_t amount, Variant variant);

// alice -> bob and bob -> alice, each arriving after 0..2 ms (from the run). Buggy: a
// DeadlockError when they arrive together, naming both transfers, blocked on Lock.acquire of
// the other's account lock, held by the other transfer, and the cycle they form.
Task<> transfer_scenario(Variant variant);

// ---- 7. livelock -------------------------------------------------------------------------------

struct Election {
  bool candidate[2] = {false, false};
  std::optional<int> leader;
  int rounds = 0;
};

// Node `me` (0 or 1) boots (0 or 1 ms, from the run) and runs for leader until there is one:
// announce candidacy, ask the peer for its vote (a round trip: a checkpoint) — the peer votes
// for us unless it is a candidate itself — withdraw, and back off before the next round.
// Buggy: a fixed 10 ms back-off, so after a split vote both candidates retry in lockstep and
// split again, forever. Correct: a random back-off of 10..19 ms (Raft's randomized election
// timeout).
Task<> run_for_leader(Election& election, int me, Variant variant);

// Both nodes; raises unless a leader was elected. Buggy: livelocks when the nodes boot at the
// same instant (no task is ever blocked for good: only a virtual-time budget stops it).
Task<> election_scenario(Variant variant);

// ---- the zoo ------------------------------------------------------------------------------------

struct Specimen {
  std::string name;  // e.g. "lost_wakeup"
  std::string bug;   // the planted bug, one line
  std::function<Task<>(Variant)> scenario;
  // Its livelock budget (SweepOptions / ExploreOptions::max_virtual_time): several times what
  // the correct variant needs. The election's is short, since a livelocked run costs a step
  // per round until the budget runs out (and shrinking replays it hundreds of times).
  Duration budget = kVirtualTimeBudget;
  // The scenario of one variant, as the harness takes it.
  Scenario of(Variant variant) const;
};

// The seven specimens, in the order of the file comment.
const std::vector<Specimen>& specimens();
// The specimen named `name`; std::out_of_range if there is none.
const Specimen& specimen(const std::string& name);

}  // namespace trio::testing::bug_zoo

#endif  // TRIO_TESTING_BUG_ZOO_H_
