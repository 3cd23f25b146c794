// SPDX-License-Identifier: Apache-2.0 OR MIT
//
// Recorded and replayed choices: every nondeterministic decision of a run (runtime/choice.h) as
// a sequence of small integers that can be printed, parsed back, shrunk and replayed.
//
//   trio::testing::RecordingChoiceSource rec(/*seed=*/7);
//   trio::run(trio::RunOptions{.clock = &clock, .choices = &rec}, body);
//   std::string repro = rec.choice_string();             // e.g. "1,0*3,2"
//   trio::testing::ReplayChoiceSource replay(*trio::testing::parse_choices(repro));
//   trio::run(trio::RunOptions{.clock = &clock2, .choices = &replay}, body);  // the same run
//
// Normalized values. A recorded value is the *distance from the simplest choice*: 0 always
// means "what FIFO scheduling would do" (no reversal, the identity permutation step of a shuffle
// or of a deadline-tie shuffle, the first waiter first). For most kinds that is the raw value
// choose() returns; for the Fisher–Yates kinds (kBatchShuffle, kDeadlineTie), whose identity step
// is n - 1, raw = n - 1 - normalized. So a sequence shrunk towards zeros is a sequence shrunk
// towards the FIFO schedule, whatever the kinds.
//
// Replay never fails: a value >= n (the run diverged from the recording) is clamped to n - 1,
// and past the end of the sequence every choice is 0 (the simplest). Any sequence of integers
// therefore yields a valid run — which is what makes shrinking by editing the sequence sound.
#ifndef TRIO_TESTING_CHOICES_H_
#define TRIO_TESTING_CHOICES_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/functional/function_ref.h"
#include "runtime/choice.h"

namespace trio::testing {

// One decision of a run: choose(n, kind) returned the choice whose normalized value is `value`.
struct Choice {
  uint64_t n = 1;
  ChoiceKind kind = ChoiceKind::kUser;
  uint64_t value = 0;  // normalized, in [0, n)
  bool operator==(const Choice&) const = default;
};

// A short name of a kind: "reverse", "shuffle", "clock", "tie", "wake", "user".
const char* choice_kind_name(ChoiceKind kind);

// Raw choose() result <-> normalized value (an involution; see the file comment).
uint64_t normalize_choice(uint64_t n, ChoiceKind kind, uint64_t raw);
uint64_t denormalize_choice(uint64_t n, ChoiceKind kind, uint64_t normalized);

// The values of `choices`, comma-separated, runs of k >= 2 zeros written "0*k":
// {1,0,0,0,2} -> "1,0*3,2"; an empty sequence -> "".
std::string format_choices(const std::vector<uint64_t>& values);
std::string format_choices(const std::vector<Choice>& choices);
// The inverse of format_choices (whitespace allowed around items); nullopt if malformed.
std::optional<std::vector<uint64_t>> parse_choices(std::string_view text);
// One "kind/n=value" item per choice, e.g. "reverse/2=1 shuffle/3=0", for reports.
std::string describe_choices(const std::vector<Choice>& choices);
// How many choices are not the simplest one.
size_t count_nonzero(const std::vector<Choice>& choices);
// The normalized values of `choices`.
std::vector<uint64_t> choice_values(const std::vector<Choice>& choices);

// Delta debugging (Zeller and Hildebrandt's ddmin) of a failing choice sequence towards the
// simplest schedule, for sequences too long to shrink one decision at a time (a livelock's
// thousands of coin flips). In order: the all-default sequence (every decision 0); then the
// non-simplest decisions of the current best in 2 chunks, each chunk zeroed at once, then each
// chunk kept alone (the rest zeroed); then 4, 8, ... chunks, down to single decisions. A
// sequence that needs one decision of n shrinks in about 2 log2(n) replays.
//
// `try_values(values)` replays `values` (see ReplayChoiceSource) and returns true when that run
// failed and was kept as the new best — the caller decides (e.g. fewer non-simplest decisions);
// `best()` returns the best run's effective values. Stops after `max_runs` replays. Returns the
// number of replays.
int ddmin_choices(absl::FunctionRef<bool(std::vector<uint64_t>)> try_values,
                  absl::FunctionRef<std::vector<uint64_t>()> best, int max_runs);

// Base class of the sources below: keeps the log of every decision, in order.
class LoggingChoiceSource : public ChoiceSource {
 public:
  const std::vector<Choice>& choices() const { return log_; }
  std::string choice_string() const { return format_choices(log_); }
  void clear_log() { log_.clear(); }

 protected:
  uint64_t record(uint64_t n, ChoiceKind kind, uint64_t normalized);

 private:
  std::vector<Choice> log_;
};

// Draws from trio::Prng(seed) and records every decision.
class RecordingChoiceSource final : public LoggingChoiceSource {
 public:
  explicit RecordingChoiceSource(uint64_t seed) : prng_(seed) {}
  uint64_t choose(uint64_t n, ChoiceKind kind) override;

 private:
  Prng prng_;
};

// Replays a sequence of normalized values (clamped to [0, n); 0 past the end) and records what
// it actually returned, so choices() is the effective sequence of the replayed run.
class ReplayChoiceSource final : public LoggingChoiceSource {
 public:
  explicit ReplayChoiceSource(std::vector<uint64_t> values) : values_(std::move(values)) {}
  uint64_t choose(uint64_t n, ChoiceKind kind) override;
  // Whether some value had to be clamped, or the run asked for more values than given.
  bool diverged() const { return diverged_; }

 private:
  std::vector<uint64_t> values_;
  size_t next_ = 0;
  bool diverged_ = false;
};

}  // namespace trio::testing

#endif  // TRIO_TESTING_CHOICES_H_
