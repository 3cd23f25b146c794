// SPDX-License-Identifier: Apache-2.0 OR MIT
//
// Randomness seam: every nondeterministic decision of a run comes from one `ChoiceSource`.
//
// By default the run draws from `Prng`, a xoshiro256** generator seeded from
// `RunOptions::seed` (or from the OS when no seed is given). The testing layer substitutes a
// source that records, replays and shrinks the decisions. A run with the same seed, the same
// binary and the same inputs makes the same decisions, under g++ and clang alike.
#ifndef TRIO_RUNTIME_CHOICE_H_
#define TRIO_RUNTIME_CHOICE_H_

#include <cstdint>

namespace trio {

// What a decision is for (recorded with it, so traces and shrinkers can tell them apart).
enum class ChoiceKind : uint8_t {
  kBatchReverse,  // Trio's coin flip: run this batch in reverse (LIFO) order? (n = 2)
  kBatchShuffle,  // Fisher–Yates step of a full batch shuffle
  kClockOffset,   // SystemClock's random offset
  kDeadlineTie,   // which of several deadlines expiring at the same instant goes first
  kWakeOrder,     // the order in which several waiters woken at once become runnable
  kUser,          // drawn by user code through trio::lowlevel::random_choice
  kTimerNudge,    // timer perturbation (RunOptions::timer_perturbation_window): delay a deadline?
};

class ChoiceSource {
 public:
  virtual ~ChoiceSource() = default;
  // Returns a value in [0, n). n >= 1.
  virtual uint64_t choose(uint64_t n, ChoiceKind kind) = 0;
};

// xoshiro256** seeded through splitmix64: fast, small, identical on every compiler.
class Prng final : public ChoiceSource {
 public:
  explicit Prng(uint64_t seed);
  uint64_t next() {
    const uint64_t result = rotl(s_[1] * 5, 7) * 9;
    const uint64_t t = s_[1] << 17;
    s_[2] ^= s_[0];
    s_[3] ^= s_[1];
    s_[1] ^= s_[2];
    s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = rotl(s_[3], 45);
    return result;
  }
  // choose(2, kind), inline (the scheduler's coin flip).
  uint64_t coin_flip() { return next() >> 63; }
  uint64_t choose(uint64_t n, ChoiceKind kind) override;

 private:
  static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  uint64_t s_[4];
};

// A seed from the OS (std::random_device), for runs without RunOptions::seed.
uint64_t os_random_seed();

}  // namespace trio

#endif  // TRIO_RUNTIME_CHOICE_H_
