// SPDX-License-Identifier: Apache-2.0 OR MIT
#include "runtime/choice.h"

#include <random>

namespace trio {

namespace {
uint64_t splitmix64(uint64_t& x) {
  uint64_t z = (x += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}
}  // namespace

Prng::Prng(uint64_t seed) {
  for (auto& s : s_) s = splitmix64(seed);
}

uint64_t Prng::choose(uint64_t n, ChoiceKind) {
  if (n <= 1) return 0;
  if (n == 2) return coin_flip();
  // Lemire's nearly-divisionless bounded draw, exact (no modulo bias).
  __uint128_t m = static_cast<__uint128_t>(next()) * n;
  uint64_t low = static_cast<uint64_t>(m);
  if (low < n) {
    const uint64_t threshold = -n % n;
    while (low < threshold) {
      m = static_cast<__uint128_t>(next()) * n;
      low = static_cast<uint64_t>(m);
    }
  }
  return static_cast<uint64_t>(m >> 64);
}

uint64_t os_random_seed() {
  std::random_device rd;
  return (static_cast<uint64_t>(rd()) << 32) ^ rd();
}

}  // namespace trio
