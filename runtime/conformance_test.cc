// SPDX-License-Identifier: Apache-2.0 OR MIT
// Conformance with Trio itself: replays every program of the core corpus
// (testdata/conformance/core/core-*.json, made by gen.py) with an interpreter that mirrors
// run_trio.py statement by statement, and checks that trio-cpp's event log equals the log Trio
// 0.34 produced (core-*.out) after sorting lines within each instant (normalize.py's rule) —
// under several scheduling policies and seeds, since the corpus is schedule-independent — and
// that no coroutine frame outlives the run.
#include <dirent.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <exception>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "runtime/trio.h"
#include "simclock/mock_clock.h"

namespace {

// ---- A JSON reader for the corpus's subset: arrays, strings, integers, true/false/null -------

struct Json {
  enum class Kind { kNull, kBool, kInt, kString, kArray };
  Kind kind = Kind::kNull;
  bool b = false;
  int64_t i = 0;
  std::string s;
  std::vector<Json> a;

  const Json& operator[](size_t k) const {
    if (kind != Kind::kArray || k >= a.size()) throw std::runtime_error("json: bad index");
    return a[k];
  }
  int64_t as_int() const {
    if (kind != Kind::kInt) throw std::runtime_error("json: not an integer");
    return i;
  }
  bool as_bool() const {
    if (kind != Kind::kBool) throw std::runtime_error("json: not a boolean");
    return b;
  }
  const std::string& as_string() const {
    if (kind != Kind::kString) throw std::runtime_error("json: not a string");
    return s;
  }
  bool is_null() const { return kind == Kind::kNull; }
};

class JsonReader {
 public:
  explicit JsonReader(const std::string& text) : t_(text) {}
  Json read_document() {
    Json v = value();
    skip_ws();
    if (p_ != t_.size()) fail("trailing characters");
    return v;
  }

 private:
  [[noreturn]] void fail(const std::string& what) const {
    throw std::runtime_error("json: " + what + " at offset " + std::to_string(p_));
  }
  void skip_ws() {
    while (p_ < t_.size() && (t_[p_] == ' ' || t_[p_] == '\n' || t_[p_] == '\t' || t_[p_] == '\r'))
      ++p_;
  }
  bool literal(const char* word) {
    const std::string w(word);
    if (t_.compare(p_, w.size(), w) != 0) return false;
    p_ += w.size();
    return true;
  }
  Json value() {
    skip_ws();
    if (p_ >= t_.size()) fail("unexpected end");
    Json v;
    const char c = t_[p_];
    if (c == '[') {
      v.kind = Json::Kind::kArray;
      ++p_;
      skip_ws();
      if (p_ < t_.size() && t_[p_] == ']') {
        ++p_;
        return v;
      }
      for (;;) {
        v.a.push_back(value());
        skip_ws();
        if (p_ < t_.size() && t_[p_] == ',') {
          ++p_;
        } else if (p_ < t_.size() && t_[p_] == ']') {
          ++p_;
          return v;
        } else {
          fail("expected , or ]");
        }
      }
    }
    if (c == '"') {
      v.kind = Json::Kind::kString;
      ++p_;
      while (p_ < t_.size() && t_[p_] != '"') {
        if (t_[p_] == '\\') fail("escapes are not in the corpus subset");
        v.s += t_[p_++];
      }
      if (p_ >= t_.size()) fail("unterminated string");
      ++p_;
      return v;
    }
    if (c == '-' || (c >= '0' && c <= '9')) {
      v.kind = Json::Kind::kInt;
      size_t used = 0;
      v.i = std::stoll(t_.substr(p_, 24), &used);
      p_ += used;
      return v;
    }
    if (literal("true")) {
      v.kind = Json::Kind::kBool;
      v.b = true;
      return v;
    }
    if (literal("false")) {
      v.kind = Json::Kind::kBool;
      return v;
    }
    if (literal("null")) return v;
    fail("unexpected character");
  }

  const std::string& t_;
  size_t p_ = 0;
};

// ---- The interpreter: run_trio.py in C++ ------------------------------------------------------

// 1 tick = 1/512 s, exact in integer nanoseconds.
constexpr int64_t kTickNs = 1953125;
constexpr int64_t kBudgetTicks = 4096;

trio::Duration ticks(int64_t n) { return trio::Duration(n * kTickNs); }
int64_t to_ticks(trio::TimePoint t) {
  const int64_t ns = t.time_since_epoch().count();
  return (ns + kTickNs / 2) / kTickNs;  // round(), as run_trio.py; times are never negative
}

// The program's own errors. They carry the tag; shapes print Trio's names.
struct ProgramError : std::exception {
  explicit ProgramError(std::string t) : tag(std::move(t)) {}
  const char* what() const noexcept override { return tag.c_str(); }
  std::string tag;
};
struct ValueErrorX : ProgramError {
  using ProgramError::ProgramError;
};
struct KeyErrorX : ProgramError {
  using ProgramError::ProgramError;
};

// run_trio.py's shape(): a group is EG[...] with its members' shapes sorted.
std::string shape(const std::exception_ptr& e) {
  try {
    std::rethrow_exception(e);
  } catch (const trio::BaseExceptionGroup& g) {
    std::vector<std::string> members;
    for (const auto& m : g.exceptions()) members.push_back(shape(m));
    std::sort(members.begin(), members.end());
    std::string out = "EG[";
    for (size_t k = 0; k < members.size(); ++k) out += (k ? "," : "") + members[k];
    return out + "]";
  } catch (const trio::Cancelled&) {
    return "Cancelled";
  } catch (const ValueErrorX& v) {
    return "ValueError(" + v.tag + ")";
  } catch (const KeyErrorX& k) {
    return "KeyError(" + k.tag + ")";
  } catch (const std::exception& x) {
    return std::string("Unexpected(") + x.what() + ")";
  } catch (...) {
    return "Unexpected(?)";
  }
}

struct Line {
  int64_t ticks;
  std::string text;  // "<ticks> <task> <event>"
};

// Everything one run of a program shares: the log.
struct Interp {
  std::vector<Line> lines;
  void log(const std::string& task, const std::string& event) {
    const int64_t now = to_ticks(trio::current_time());
    lines.push_back({now, std::to_string(now) + " " + task + " " + event});
  }
};

trio::Task<> run_block(Interp* in, const Json* block, const std::string& task, trio::Nursery* n);

trio::Task<> do_sleep(Interp* in, const Json& st, const std::string& task) {
  co_await trio::sleep(ticks(st[1].as_int()));
  in->log(task, "slept " + std::to_string(st[1].as_int()));
}

trio::Task<> do_raise(Interp* in, const Json& st, const std::string& task) {
  in->log(task, "raise " + st[2].as_string());
  if (st[1].as_string() == "ValueError") throw ValueErrorX(st[2].as_string());
  if (st[1].as_string() == "KeyError") throw KeyErrorX(st[2].as_string());
  throw std::runtime_error("unknown error kind " + st[1].as_string());
  co_return;
}

// ["scope", id, deadline|null, shield, precancel, body]
trio::Task<> do_scope(Interp* in, const Json& st, const std::string& task, trio::Nursery* n) {
  const int64_t sid = st[1].as_int();
  trio::CancelScope scope;
  scope.set_shield(st[3].as_bool());
  co_await scope.enter([&](trio::CancelScope& s) -> trio::Task<> {
    if (!st[2].is_null()) s.set_deadline(trio::current_time() + ticks(st[2].as_int()));
    if (st[4].as_bool()) s.cancel();
    std::exception_ptr exc;
    try {
      co_await run_block(in, &st[5], task, n);
    } catch (...) {
      exc = std::current_exception();
    }
    if (exc) {
      in->log(task, "scope " + std::to_string(sid) + " unwinding " + shape(exc));
      std::rethrow_exception(exc);
    }
  });
  in->log(task, "scope " + std::to_string(sid) +
                    " exit caught=" + std::to_string(scope.cancelled_caught() ? 1 : 0) +
                    " called=" + std::to_string(scope.cancel_called() ? 1 : 0));
}

trio::Task<> run_child(Interp* in, const Json* block, std::string task, trio::Nursery* n) {
  in->log(task, "start");
  std::exception_ptr exc;
  try {
    co_await run_block(in, block, task, n);
  } catch (...) {
    exc = std::current_exception();
  }
  if (exc) {
    in->log(task, "exit " + shape(exc));
    std::rethrow_exception(exc);
  }
  in->log(task, "exit ok");
}

// ["nursery", id, body, [child_body...]]
trio::Task<> do_nursery(Interp* in, const Json& st, const std::string& task) {
  const std::string nid = std::to_string(st[1].as_int());
  std::exception_ptr exc;
  try {
    co_await trio::open_nursery([&](trio::Nursery& nursery) -> trio::Task<> {
      const Json& children = st[3];
      for (size_t k = 0; k < children.a.size(); ++k)
        nursery.start_soon(run_child, in, &children.a[k],
                           task + ".n" + nid + "c" + std::to_string(k), &nursery);
      co_await run_block(in, &st[2], task, &nursery);
    });
  } catch (...) {
    exc = std::current_exception();
  }
  if (exc) {
    in->log(task, "nursery " + nid + " raised " + shape(exc));
    std::rethrow_exception(exc);
  }
  in->log(task, "nursery " + nid + " done");
}

// ["catch_cancelled", body, handler]: on a bare Cancelled, log, run the handler, re-raise. C++
// cannot co_await in a catch handler, so the handler runs after the catch with the kept
// exception_ptr; rethrowing it re-raises the same Cancelled, as Python's bare `raise`.
trio::Task<> do_catch_cancelled(Interp* in, const Json& st, const std::string& task,
                                trio::Nursery* n) {
  std::exception_ptr cancelled;
  try {
    co_await run_block(in, &st[1], task, n);
  } catch (const trio::Cancelled&) {
    cancelled = std::current_exception();
  }
  if (cancelled) {
    in->log(task, "caught Cancelled");
    co_await run_block(in, &st[2], task, n);
    std::rethrow_exception(cancelled);
  }
}

// ["catch", kind, body]: catches a bare error of that kind only (never a group).
trio::Task<> do_catch(Interp* in, const Json& st, const std::string& task, trio::Nursery* n) {
  const std::string& kind = st[1].as_string();
  try {
    co_await run_block(in, &st[2], task, n);
  } catch (const ValueErrorX& e) {
    if (kind != "ValueError") throw;
    in->log(task, "caught ValueError(" + e.tag + ")");
  } catch (const KeyErrorX& e) {
    if (kind != "KeyError") throw;
    in->log(task, "caught KeyError(" + e.tag + ")");
  }
}

trio::Task<> run_stmt(Interp* in, const Json& st, const std::string& task, trio::Nursery* n) {
  const std::string& op = st[0].as_string();
  if (op == "sleep") {
    co_await do_sleep(in, st, task);
  } else if (op == "log") {
    in->log(task, st[1].as_string());
  } else if (op == "raise") {
    co_await do_raise(in, st, task);
  } else if (op == "cancel_nursery") {
    if (n == nullptr) throw std::runtime_error("cancel_nursery outside a nursery");
    n->cancel_scope().cancel();
    in->log(task, "cancel nursery");
  } else if (op == "scope") {
    co_await do_scope(in, st, task, n);
  } else if (op == "nursery") {
    co_await do_nursery(in, st, task);
  } else if (op == "catch_cancelled") {
    co_await do_catch_cancelled(in, st, task, n);
  } else if (op == "catch") {
    co_await do_catch(in, st, task, n);
  } else {
    throw std::runtime_error("unknown statement " + op);
  }
}

trio::Task<> run_block(Interp* in, const Json* block, const std::string& task, trio::Nursery* n) {
  for (const Json& st : block->a) co_await run_stmt(in, st, task, n);
}

trio::Task<> main_task(Interp* in, const Json* program) {
  const bool exhausted = co_await trio::move_on_after(ticks(kBudgetTicks), [&]() -> trio::Task<> {
    co_await run_block(in, program, "m", nullptr);
  });
  if (exhausted) in->log("m", "budget exhausted");
}

// Runs `program` as run_trio.py's run() does and returns the log lines.
std::vector<Line> run_program(const Json& program, trio::SchedulingPolicy policy, uint64_t seed) {
  Interp in;
  trio::MockClock clock;
  clock.set_autojump_threshold(std::chrono::nanoseconds(0));
  std::string outcome = "main ok";
  try {
    trio::run(trio::RunOptions{.clock = &clock, .seed = seed, .scheduling = policy}, main_task, &in,
              &program);
  } catch (...) {
    outcome = "main raised " + shape(std::current_exception());
  }
  const int64_t end = to_ticks(clock.current_time());
  in.lines.push_back({end, std::to_string(end) + " " + outcome});
  return std::move(in.lines);
}

// normalize.py: group by instant (ascending), sort lines within each.
std::vector<std::string> normalize(const std::vector<Line>& lines) {
  std::map<int64_t, std::vector<std::string>> groups;
  for (const Line& l : lines) groups[l.ticks].push_back(l.text);
  std::vector<std::string> out;
  for (auto& [t, g] : groups) {
    std::sort(g.begin(), g.end());
    out.insert(out.end(), g.begin(), g.end());
  }
  return out;
}

// ---- The corpus -------------------------------------------------------------------------------

std::string corpus_dir() {
  const char* srcdir = std::getenv("TEST_SRCDIR");
  const char* workspace = std::getenv("TEST_WORKSPACE");
  if (srcdir == nullptr) return "";
  return std::string(srcdir) + "/" + (workspace ? workspace : "trio_cpp") +
         "/runtime/testdata/conformance/core";
}

std::string read_file(const std::string& path) {
  std::ifstream f(path);
  if (!f) throw std::runtime_error("cannot read " + path);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

// The program names ("core-10001"), sorted.
std::vector<std::string> corpus_programs() {
  std::vector<std::string> names;
  const std::string dir = corpus_dir();
  DIR* d = dir.empty() ? nullptr : opendir(dir.c_str());
  if (d == nullptr) return names;
  while (const dirent* e = readdir(d)) {
    const std::string f = e->d_name;
    if (f.size() > 5 && f.rfind("core-", 0) == 0 && f.compare(f.size() - 5, 5, ".json") == 0)
      names.push_back(f.substr(0, f.size() - 5));
  }
  closedir(d);
  std::sort(names.begin(), names.end());
  return names;
}

struct Policy {
  const char* name;
  trio::SchedulingPolicy policy;
  uint64_t seed;
};
constexpr Policy kPolicies[] = {
    {"fifo", trio::SchedulingPolicy::kFifo, 1},
    {"lifo", trio::SchedulingPolicy::kLifo, 1},
    {"coinflip/1", trio::SchedulingPolicy::kCoinFlip, 1},
    {"coinflip/2", trio::SchedulingPolicy::kCoinFlip, 2},
    {"coinflip/3", trio::SchedulingPolicy::kCoinFlip, 3},
    {"shuffle/1", trio::SchedulingPolicy::kShuffle, 1},
    {"shuffle/2", trio::SchedulingPolicy::kShuffle, 2},
};

std::string join(const std::vector<std::string>& lines) {
  std::string out;
  for (const auto& l : lines) out += "  " + l + "\n";
  return out;
}

// Describes the first difference and both logs, or returns "" if they agree.
std::string compare_logs(const std::vector<std::string>& want,
                         const std::vector<std::string>& got) {
  if (want == got) return "";
  size_t k = 0;
  while (k < want.size() && k < got.size() && want[k] == got[k]) ++k;
  std::string out = "first difference at line " + std::to_string(k + 1) +
                    ":\n  trio:     " + (k < want.size() ? want[k] : "<end>") +
                    "\n  trio-cpp: " + (k < got.size() ? got[k] : "<end>") + "\n";
  return out + "trio (normalized):\n" + join(want) + "trio-cpp (normalized):\n" + join(got);
}

class Conformance : public ::testing::TestWithParam<std::string> {};

TEST_P(Conformance, LogMatchesTrioUnderEverySchedulingPolicy) {
  const std::string base = corpus_dir() + "/" + GetParam();
  const Json program = JsonReader(read_file(base + ".json")).read_document();
  std::vector<std::string> want;
  {
    std::istringstream out(read_file(base + ".out"));
    std::vector<Line> lines;
    for (std::string l; std::getline(out, l);)
      if (!l.empty()) lines.push_back({std::stoll(l), l});
    want = normalize(lines);
  }
  bool printed_logs = false;  // print both logs once; later mismatches only their first line
  for (const Policy& p : kPolicies) {
    const std::vector<std::string> got = normalize(run_program(program, p.policy, p.seed));
    const std::string diff = compare_logs(want, got);
    if (!diff.empty()) {
      ADD_FAILURE() << GetParam() << " under " << p.name << ": "
                    << (printed_logs ? diff.substr(0, diff.find("trio (normalized)")) : diff);
      printed_logs = true;
    }
    EXPECT_EQ(trio::lowlevel::live_frames(), 0) << GetParam() << " under " << p.name;
  }
}

std::string program_test_name(const ::testing::TestParamInfo<std::string>& info) {
  std::string name = info.param;
  std::replace(name.begin(), name.end(), '-', '_');
  return name;
}

INSTANTIATE_TEST_SUITE_P(Core, Conformance, ::testing::ValuesIn(corpus_programs()),
                         program_test_name);

TEST(ConformanceCorpus, AllFourHundredCoreProgramsArePresent) {
  EXPECT_EQ(corpus_programs().size(), 400u) << "looked in " << corpus_dir();
}

TEST(ConformanceInterpreter, JsonReaderReadsTheCorpusSubset) {
  const Json j = JsonReader(R"([["scope", 3, null, true, false, []], -7, "x"])").read_document();
  ASSERT_EQ(j.a.size(), 3u);
  EXPECT_EQ(j[0][0].as_string(), "scope");
  EXPECT_EQ(j[0][1].as_int(), 3);
  EXPECT_TRUE(j[0][2].is_null());
  EXPECT_TRUE(j[0][3].as_bool());
  EXPECT_FALSE(j[0][4].as_bool());
  EXPECT_TRUE(j[0][5].a.empty());
  EXPECT_EQ(j[1].as_int(), -7);
  EXPECT_EQ(j[2].as_string(), "x");
  EXPECT_THROW(JsonReader("[1,]").read_document(), std::runtime_error);
}

}  // namespace
