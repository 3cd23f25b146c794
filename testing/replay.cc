// SPDX-License-Identifier: Apache-2.0 OR MIT
#include "testing/replay.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "testing/choices.h"

namespace trio::testing {
namespace {

constexpr Schedule kSchedules[] = {Schedule::kFifo, Schedule::kCoinFlip, Schedule::kShuffle,
                                   Schedule::kLifo, Schedule::kPct};

// std::string_view to Abseil's own string_view (not an alias of it in Debian's build).
absl::string_view to_absl(std::string_view s) { return absl::string_view(s.data(), s.size()); }

// Decimal digits only. absl::SimpleAtoi also takes whitespace and a sign around them, so the
// first and last characters must be digits.
std::optional<uint64_t> parse_u64(std::string_view s) {
  uint64_t v = 0;
  if (s.empty() || !absl::ascii_isdigit(static_cast<unsigned char>(s.front())) ||
      !absl::ascii_isdigit(static_cast<unsigned char>(s.back())) ||
      !absl::SimpleAtoi(to_absl(s), &v))
    return std::nullopt;
  return v;
}

std::optional<ReplayToken> fail(std::string* error, std::string what) {
  if (error) *error = std::move(what);
  return std::nullopt;
}

}  // namespace

std::string format_replay_token(const ReplayToken& t) {
  std::string out;
  auto add = [&out](const std::string& item) {
    if (!out.empty()) out += ':';
    out += item;
  };
  if (t.seed) add(absl::StrCat("seed=", *t.seed));
  if (t.choices) {
    std::string c = format_choices(*t.choices);
    for (char& ch : c)
      if (ch == '*') ch = 'x';
    add(absl::StrCat("choices=", c));
  }
  if (t.schedule != Schedule::kCoinFlip) add(absl::StrCat("schedule=", schedule_name(t.schedule)));
  if (t.schedule == Schedule::kPct) {
    add(absl::StrCat("depth=", t.pct.depth));
    add(absl::StrCat("steps=", t.pct.max_steps));
  }
  if (t.cancel_point) add(absl::StrCat("cancel=", *t.cancel_point, ".", t.cancel_scope));
  if (t.timer_perturbation > Duration(0))
    add(absl::StrCat("timers=", t.timer_perturbation.count()));
  return out;
}

std::optional<ReplayToken> parse_replay_token(std::string_view text, std::string* error) {
  ReplayToken t;
  if (text.empty()) return fail(error, "an empty token");
  while (!text.empty()) {
    const size_t colon = text.find(':');
    const std::string_view item = text.substr(0, colon);
    text = colon == std::string_view::npos ? std::string_view() : text.substr(colon + 1);
    const size_t eq = item.find('=');
    if (eq == std::string_view::npos)
      return fail(error, absl::StrCat("'", to_absl(item), "' has no '='"));
    const std::string_view key = item.substr(0, eq);
    const std::string_view value = item.substr(eq + 1);
    const std::string bad = absl::StrCat("bad value in '", to_absl(item), "'");
    if (key == "seed") {
      if (!(t.seed = parse_u64(value))) return fail(error, bad);
    } else if (key == "choices") {
      std::string c(value);
      for (char& ch : c)
        if (ch == 'x') ch = '*';
      if (!(t.choices = parse_choices(c))) return fail(error, bad);
    } else if (key == "schedule") {
      bool found = false;
      for (Schedule s : kSchedules)
        if (value == schedule_name(s)) t.schedule = s, found = true;
      if (!found) return fail(error, absl::StrCat(bad, " (fifo, coin-flip, shuffle, lifo or pct)"));
    } else if (key == "depth") {
      const auto v = parse_u64(value);
      if (!v || *v < 1 || *v > 1000) return fail(error, bad);
      t.pct.depth = static_cast<int>(*v);
    } else if (key == "steps") {
      const auto v = parse_u64(value);
      if (!v) return fail(error, bad);
      t.pct.max_steps = *v;
    } else if (key == "cancel") {
      const size_t dot = value.find('.');
      const auto point = parse_u64(value.substr(0, dot));
      const auto scope = dot == std::string_view::npos ? std::optional<uint64_t>(0)
                                                       : parse_u64(value.substr(dot + 1));
      if (!point || !scope) return fail(error, bad);
      t.cancel_point = point;
      t.cancel_scope = static_cast<size_t>(*scope);
    } else if (key == "timers") {
      const auto v = parse_u64(value);
      if (!v || *v > static_cast<uint64_t>(INT64_MAX)) return fail(error, bad);
      t.timer_perturbation = Duration(static_cast<int64_t>(*v));
    } else {
      return fail(error, absl::StrCat("unknown key '", to_absl(key),
                                      "' (seed, choices, schedule, depth, steps, cancel, timers)"));
    }
  }
  return t;
}

std::optional<ReplayToken> replay_token_from_environment(std::string* error) {
  const char* text = std::getenv(kReplayEnv);
  if (text == nullptr || *text == '\0') return std::nullopt;
  std::string why;
  std::optional<ReplayToken> t = parse_replay_token(text, &why);
  if (!t && error) *error = absl::StrCat(kReplayEnv, "='", text, "' is not a replay token: ", why);
  return t;
}

std::string build_config_flag() {
#if defined(__SANITIZE_ADDRESS__)
  return " --config=asan";
#elif defined(__SANITIZE_THREAD__)
  return " --config=tsan";
#elif defined(__clang__)
  return " --config=clang";
#elif defined(__OPTIMIZE__)
  return " --config=opt";
#else
  return "";
#endif
}

std::string replay_command(const ReplayToken& token) {
  std::string test;
  if (const ::testing::TestInfo* info = ::testing::UnitTest::GetInstance()->current_test_info())
    test = absl::StrCat(info->test_suite_name(), ".", info->name());
  const std::string assignment = absl::StrCat(kReplayEnv, "=", format_replay_token(token));
  if (const char* target = std::getenv("TEST_TARGET"); target != nullptr && *target != '\0') {
    return absl::StrCat("bazel test", build_config_flag(), " ", target,
                        test.empty() ? "" : " --test_filter=", test, " --test_env=", assignment);
  }
  std::string exe = "path/to/binary";
  char buf[4096];
  const ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);
  if (n > 0) exe.assign(buf, static_cast<size_t>(n));
  return absl::StrCat(assignment, " ", exe, test.empty() ? "" : " --gtest_filter=", test);
}

}  // namespace trio::testing
