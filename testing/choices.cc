// SPDX-License-Identifier: Apache-2.0 OR MIT
#include "testing/choices.h"

#include <algorithm>
#include <cctype>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

namespace trio::testing {

const char* choice_kind_name(ChoiceKind kind) {
  switch (kind) {
    case ChoiceKind::kBatchReverse:
      return "reverse";
    case ChoiceKind::kBatchShuffle:
      return "shuffle";
    case ChoiceKind::kClockOffset:
      return "clock";
    case ChoiceKind::kDeadlineTie:
      return "tie";
    case ChoiceKind::kWakeOrder:
      return "wake";
    case ChoiceKind::kUser:
      return "user";
    case ChoiceKind::kTimerNudge:
      return "nudge";
  }
  return "?";
}

static bool is_fisher_yates(ChoiceKind kind) {
  return kind == ChoiceKind::kBatchShuffle || kind == ChoiceKind::kDeadlineTie;
}

uint64_t normalize_choice(uint64_t n, ChoiceKind kind, uint64_t raw) {
  return is_fisher_yates(kind) ? n - 1 - raw : raw;
}

uint64_t denormalize_choice(uint64_t n, ChoiceKind kind, uint64_t normalized) {
  return normalize_choice(n, kind, normalized);
}

std::string format_choices(const std::vector<uint64_t>& values) {
  std::string out;
  for (size_t i = 0; i < values.size();) {
    if (!out.empty()) out += ',';
    size_t j = i;
    while (j < values.size() && values[j] == 0) ++j;
    if (j - i >= 2) {
      absl::StrAppend(&out, "0*", j - i);
      i = j;
    } else {
      absl::StrAppend(&out, values[i]);
      ++i;
    }
  }
  return out;
}

std::vector<uint64_t> choice_values(const std::vector<Choice>& choices) {
  std::vector<uint64_t> values;
  values.reserve(choices.size());
  for (const Choice& c : choices) values.push_back(c.value);
  return values;
}

std::string format_choices(const std::vector<Choice>& choices) {
  return format_choices(choice_values(choices));
}

static std::string_view trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

// Decimal digits with optional whitespace around them. absl::SimpleAtoi also takes a sign after
// the whitespace, so the first and last characters must be digits.
static std::optional<uint64_t> parse_u64(std::string_view text) {
  const std::string_view s = trim(text);
  uint64_t v = 0;
  if (s.empty() || !absl::ascii_isdigit(static_cast<unsigned char>(s.front())) ||
      !absl::ascii_isdigit(static_cast<unsigned char>(s.back())) ||
      !absl::SimpleAtoi(absl::string_view(s.data(), s.size()), &v))
    return std::nullopt;
  return v;
}

std::optional<std::vector<uint64_t>> parse_choices(std::string_view text) {
  std::vector<uint64_t> values;
  if (trim(text).empty()) return values;
  while (true) {
    size_t comma = text.find(',');
    std::string_view item = text.substr(0, comma);
    size_t star = item.find('*');
    if (star == std::string_view::npos) {
      auto v = parse_u64(item);
      if (!v) return std::nullopt;
      values.push_back(*v);
    } else {
      auto v = parse_u64(item.substr(0, star));
      auto k = parse_u64(item.substr(star + 1));
      if (!v || !k || *v != 0 || *k > (uint64_t{1} << 24)) return std::nullopt;
      values.insert(values.end(), *k, 0);
    }
    if (comma == std::string_view::npos) break;
    text.remove_prefix(comma + 1);
  }
  return values;
}

std::string describe_choices(const std::vector<Choice>& choices) {
  std::string out;
  for (const Choice& c : choices) {
    absl::StrAppend(&out, out.empty() ? "" : " ", choice_kind_name(c.kind), "/", c.n, "=", c.value);
  }
  return out;
}

size_t count_nonzero(const std::vector<Choice>& choices) {
  size_t k = 0;
  for (const Choice& c : choices) k += c.value != 0;
  return k;
}

int ddmin_choices(absl::FunctionRef<bool(std::vector<uint64_t>)> try_values,
                  absl::FunctionRef<std::vector<uint64_t>()> best, int max_runs) {
  int runs = 0;
  auto attempt = [&](std::vector<uint64_t> values) {
    if (runs >= max_runs) return false;
    ++runs;
    return try_values(std::move(values));
  };
  if (attempt({})) return runs;  // the all-default schedule already fails
  size_t chunks = 2;
  while (runs < max_runs) {
    const std::vector<uint64_t> values = best();
    std::vector<size_t> nonzero;
    for (size_t i = 0; i < values.size(); ++i)
      if (values[i] != 0) nonzero.push_back(i);
    if (nonzero.empty()) break;
    chunks = std::min(chunks, nonzero.size());
    const size_t size = (nonzero.size() + chunks - 1) / chunks;
    // Values with the non-zero decisions [from, to) of `nonzero` zeroed, or all others zeroed.
    auto edited = [&](size_t from, size_t to, bool keep_only) {
      std::vector<uint64_t> v = values;
      for (size_t j = 0; j < nonzero.size(); ++j)
        if ((j >= from && j < to) != keep_only) v[nonzero[j]] = 0;
      return v;
    };
    bool progress = false;
    for (size_t from = 0; !progress && from < nonzero.size(); from += size) {
      if ((progress = attempt(edited(from, std::min(from + size, nonzero.size()), false))))
        chunks = std::max<size_t>(chunks - 1, 2);
    }
    for (size_t from = 0; !progress && chunks > 2 && from < nonzero.size(); from += size) {
      if ((progress = attempt(edited(from, std::min(from + size, nonzero.size()), true))))
        chunks = 2;
    }
    if (progress) continue;
    if (chunks >= nonzero.size()) break;  // single decisions tried: done
    chunks = std::min(chunks * 2, nonzero.size());
  }
  return runs;
}

uint64_t LoggingChoiceSource::record(uint64_t n, ChoiceKind kind, uint64_t normalized) {
  log_.push_back(Choice{n, kind, normalized});
  return denormalize_choice(n, kind, normalized);
}

uint64_t RecordingChoiceSource::choose(uint64_t n, ChoiceKind kind) {
  if (n <= 1) return record(1, kind, 0);
  return record(n, kind, normalize_choice(n, kind, prng_.choose(n, kind)));
}

uint64_t ReplayChoiceSource::choose(uint64_t n, ChoiceKind kind) {
  if (n == 0) n = 1;
  uint64_t v = 0;
  if (next_ < values_.size()) {
    v = values_[next_++];
    if (v >= n) {
      v = n - 1;
      diverged_ = true;
    }
  } else {
    diverged_ = true;
  }
  return record(n, kind, v);
}

}  // namespace trio::testing
