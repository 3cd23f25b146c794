// SPDX-License-Identifier: Apache-2.0 OR MIT
#include "testing/sequencer.h"

#include <limits>
#include <string>

#include "absl/strings/str_cat.h"
#include "runtime/errors.h"

namespace trio::testing {

Task<> Sequencer::wait_turn(int position) {
  if (claimed_.count(position))
    throw RuntimeError(absl::StrCat("Attempted to reuse sequence point ", position));
  if (broken_) throw RuntimeError("sequence broken!");
  claimed_.insert(position);
  if (position == 0) co_return;
  Point& point = points_[position];
  bool cancelled = false;
  try {
    // Trio's Event.wait: a full checkpoint when already set, else park until set.
    if (point.set) {
      co_await checkpoint();
    } else {
      co_await point.waiters.park("Sequencer.run");
    }
  } catch (const Cancelled&) {
    cancelled = true;
  }
  if (cancelled) {
    broken_ = true;
    for (auto& entry : points_) set(entry.second);
    throw RuntimeError("Sequencer wait cancelled -- sequence broken");
  }
  if (broken_) throw RuntimeError("sequence broken!");
}

void Sequencer::finish(int position) {
  if (position == std::numeric_limits<int>::max()) return;  // there is no next position
  set(points_[position + 1]);
}

void Sequencer::set(Point& point) {
  point.set = true;
  point.waiters.unpark_all();
}

}  // namespace trio::testing
