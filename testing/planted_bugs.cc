// SPDX-License-Identifier: Apache-2.0 OR MIT
#include "testing/planted_bugs.h"

#include "runtime/lowlevel.h"
#include "runtime/trio.h"
#include "testing/property.h"

namespace trio::testing::planted {

// Planted bug (b): check-then-act across a checkpoint. Worker A enters at once, worker B after
// one checkpoint; each does `if (!busy) { checkpoint; busy = true; ... }`. Under FIFO A sets
// busy before B looks; if B looks first, both enter. Correct version: set busy before the
// checkpoint.
// [START explore_scenario]
Task<> check_then_act(bool fixed) {
  bool busy = false;
  int inside = 0;
  auto worker = [&](int lead) -> Task<> {
    for (int i = 0; i < lead; ++i) co_await trio::checkpoint();
    if (busy) co_return;
    if (fixed) busy = true;
    co_await trio::checkpoint();
    busy = true;
    ++inside;
    prop_assert(inside == 1, "no double entry into the critical section");
    co_await trio::checkpoint();
    --inside;
    busy = false;
  };
  co_await trio::open_nursery([&](trio::Nursery& n) -> Task<> {
    n.start_soon(worker, 0);
    n.start_soon(worker, 1);
    co_return;
  });
}
// [END explore_scenario]

// Planted bug (b'): a lost wake-up. The consumer checks `ready`, then (one checkpoint later)
// parks; the producer publishes after one checkpoint and unparks only if the consumer is already
// parked. If the producer publishes between the check and the park, nobody wakes the consumer:
// the run deadlocks (trio::DeadlockError). Correct version: park without a checkpoint between
// the check and the park.
Task<> lost_wakeup(bool fixed) {
  bool ready = false;
  trio::lowlevel::ParkingLot lot;
  co_await trio::open_nursery([&](trio::Nursery& n) -> Task<> {
    n.start_soon([&]() -> Task<> {  // consumer
      if (!ready) {
        if (!fixed) co_await trio::checkpoint();
        co_await lot.park();
      }
    });
    n.start_soon([&]() -> Task<> {  // producer
      co_await trio::checkpoint();
      ready = true;
      lot.unpark_all();
    });
    co_return;
  });
}

}  // namespace trio::testing::planted
