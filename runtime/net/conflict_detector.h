// SPDX-License-Identifier: Apache-2.0 OR MIT
//
// `ConflictDetector`: catches two tasks using a single-user resource at once (Trio's
// `_util.ConflictDetector`). Streams keep one per direction: a second concurrent send_all (or
// receive_some) is a bug in the caller, reported as BusyResourceError rather than left to
// interleave bytes.
//
// Example:
//   ConflictDetector send_conflict_{"another task is using this stream for send"};
//   Task<> send_all(ConstBytes data) {
//     auto guard = send_conflict_.enter();   // BusyResourceError if another task is inside
//     co_await ...;                          // held across suspensions until guard dies
//   }
//
// Not a checkpoint; never blocks. Single-threaded (a run's tasks all run on its thread).
#ifndef TRIO_RUNTIME_NET_CONFLICT_DETECTOR_H_
#define TRIO_RUNTIME_NET_CONFLICT_DETECTOR_H_

#include <string>
#include <utility>

#include "runtime/errors.h"

namespace trio {

class ConflictDetector {
 public:
  // `message` is the BusyResourceError's text.
  explicit ConflictDetector(std::string message) : message_(std::move(message)) {}
  ConflictDetector(const ConflictDetector&) = delete;
  ConflictDetector& operator=(const ConflictDetector&) = delete;

  // Held while alive; releases the detector when destroyed.
  class [[nodiscard]] Guard {
   public:
    Guard(const Guard&) = delete;
    Guard& operator=(const Guard&) = delete;
    ~Guard() { detector_->held_ = false; }

   private:
    friend class ConflictDetector;
    explicit Guard(ConflictDetector* detector) : detector_(detector) {}
    ConflictDetector* detector_;
  };

  // Marks the resource in use. BusyResourceError(message) if it already is.
  Guard enter() {
    if (held_) throw BusyResourceError(message_);
    held_ = true;
    return Guard(this);  // guaranteed copy elision: no move constructor needed
  }
  bool held() const { return held_; }

 private:
  std::string message_;
  // Invariant: true exactly while some Guard of this detector is alive.
  bool held_ = false;
};

}  // namespace trio

#endif  // TRIO_RUNTIME_NET_CONFLICT_DETECTOR_H_
