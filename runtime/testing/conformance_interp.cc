// SPDX-License-Identifier: Apache-2.0 OR MIT
#include "runtime/testing/conformance_interp.h"

#include <dirent.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdlib>
#include <exception>
#include <fstream>
#include <iterator>
#include <map>
#include <memory>
#include <stdexcept>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "runtime/channel.h"
#include "runtime/sync.h"
#include "runtime/trio.h"
#include "simclock/mock_clock.h"

namespace conformance {

// ---- JSON --------------------------------------------------------------------------------------

const Json& Json::operator[](size_t k) const {
  if (kind != Kind::kArray || k >= a.size()) throw std::runtime_error("json: bad index");
  return a[k];
}
int64_t Json::as_int() const {
  if (kind != Kind::kInt) throw std::runtime_error("json: not an integer");
  return i;
}
bool Json::as_bool() const {
  if (kind != Kind::kBool) throw std::runtime_error("json: not a boolean");
  return b;
}
const std::string& Json::as_string() const {
  if (kind != Kind::kString) throw std::runtime_error("json: not a string");
  return s;
}

namespace {

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
    throw std::runtime_error(absl::StrCat("json: ", what, " at offset ", p_));
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

}  // namespace

Json parse_json(const std::string& text) { return JsonReader(text).read_document(); }

// ---- The interpreter: run_trio.py in C++ ------------------------------------------------------

namespace {

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

// run_trio.py's shape(): a group is EG[...] with its members' shapes sorted; a misuse error is
// Trio's RuntimeError with Trio's message (trio-cpp's errors carry Trio's text).
std::string shape(const std::exception_ptr& e) {
  try {
    std::rethrow_exception(e);
  } catch (const trio::BaseExceptionGroup& g) {
    std::vector<std::string> members;
    for (const auto& m : g.exceptions()) members.push_back(shape(m));
    std::sort(members.begin(), members.end());
    return absl::StrCat("EG[", absl::StrJoin(members, ","), "]");
  } catch (const trio::Cancelled&) {
    return "Cancelled";
  } catch (const ValueErrorX& v) {
    return "ValueError(" + v.tag + ")";
  } catch (const KeyErrorX& k) {
    return "KeyError(" + k.tag + ")";
  } catch (const trio::RuntimeError& r) {
    return absl::StrCat("RuntimeError(", r.what(), ")");
  } catch (const std::exception& x) {
    return absl::StrCat("Unexpected(", x.what(), ")");
  } catch (...) {
    return "Unexpected(?)";
  }
}

// run_trio.py's OBJ: what the sync statements share — events 0..2, locks 0..1, semaphore 0
// (value 2), channel 0 (rendezvous) and channel 1 (buffer 2). Made fresh for each run, inside
// the run, as run_trio.py's main() makes them.
struct SharedObjects {
  SharedObjects() {
    for (size_t k = 0; k < send.size(); ++k) {
      auto channel = trio::open_memory_channel<int64_t>(kChannelBuffers[k]);
      send[k] = std::move(channel.first);
      recv[k] = std::move(channel.second);
    }
  }
  static constexpr std::array<int64_t, 2> kChannelBuffers = {0, 2};

  std::array<trio::Event, 3> events;
  std::array<trio::Lock, 2> locks;
  std::array<trio::Semaphore, 1> sems{trio::Semaphore(2)};
  std::array<trio::MemorySendChannel<int64_t>, 2> send;
  std::array<trio::MemoryReceiveChannel<int64_t>, 2> recv;
};

// Everything one run of a program shares: the log and the shared objects.
struct Interp {
  std::vector<Line> lines;
  SharedObjects* objects = nullptr;  // set by main_task for the duration of the run
  Extension* extension = nullptr;    // statements beyond core and sync, or null

  void log(const std::string& task, const std::string& event) {
    const int64_t now = to_ticks(trio::current_time());
    lines.push_back({now, absl::StrCat(now, " ", task, " ", event)});
  }
};

// An object index of a sync statement (std::array::at() checks the upper bound).
size_t index_of(const Json& j) {
  if (j.as_int() < 0) throw std::runtime_error("negative object index");
  return static_cast<size_t>(j.as_int());
}

trio::Task<> run_block(Interp* in, const Json* block, const std::string& task, trio::Nursery* n);

trio::Task<> do_sleep(Interp* in, const Json& st, const std::string& task) {
  co_await trio::sleep(ticks(st[1].as_int()));
  in->log(task, absl::StrCat("slept ", st[1].as_int()));
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
      in->log(task, absl::StrCat("scope ", sid, " unwinding ", shape(exc)));
      std::rethrow_exception(exc);
    }
  });
  in->log(task, absl::StrCat("scope ", sid, " exit caught=", scope.cancelled_caught() ? 1 : 0,
                             " called=", scope.cancel_called() ? 1 : 0));
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
  const int64_t nid = st[1].as_int();
  std::exception_ptr exc;
  try {
    co_await trio::open_nursery([&](trio::Nursery& nursery) -> trio::Task<> {
      const Json& children = st[3];
      for (size_t k = 0; k < children.a.size(); ++k)
        nursery.start_soon(run_child, in, &children.a[k], absl::StrCat(task, ".n", nid, "c", k),
                           &nursery);
      co_await run_block(in, &st[2], task, &nursery);
    });
  } catch (...) {
    exc = std::current_exception();
  }
  if (exc) {
    in->log(task, absl::StrCat("nursery ", nid, " raised ", shape(exc)));
    std::rethrow_exception(exc);
  }
  in->log(task, absl::StrCat("nursery ", nid, " done"));
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

// ---- The sync statements (gen_sync.py) ----

// ["ev_wait", k]
trio::Task<> do_ev_wait(Interp* in, const Json& st, const std::string& task) {
  const size_t k = index_of(st[1]);
  co_await in->objects->events.at(k).wait();
  in->log(task, absl::StrCat("waited E", k));
}

// ["lock", k, body] / ["sem", k, body]: acquire, log, run the body, release (also when the body
// raises: Python's `finally`), log. A failed acquire (Cancelled, re-acquiring a held Lock)
// propagates without a log line.
trio::Task<> do_hold(Interp* in, const Json& st, const std::string& task, trio::Nursery* n) {
  const bool is_lock = st[0].as_string() == "lock";
  const size_t k = index_of(st[1]);
  const std::string name = absl::StrCat(is_lock ? "L" : "S", k);
  if (is_lock)
    co_await in->objects->locks.at(k).acquire();
  else
    co_await in->objects->sems.at(k).acquire();
  in->log(task, "acquired " + name);
  std::exception_ptr exc;
  try {
    co_await run_block(in, &st[2], task, n);
  } catch (...) {
    exc = std::current_exception();
  }
  if (is_lock)
    in->objects->locks.at(k).release();
  else
    in->objects->sems.at(k).release();
  in->log(task, "released " + name);
  if (exc) std::rethrow_exception(exc);
}

// ["send", k, v]: the channel's errors are logged, not raised.
trio::Task<> do_send(Interp* in, const Json& st, const std::string& task) {
  const size_t k = index_of(st[1]);
  const int64_t v = st[2].as_int();
  const std::string channel = absl::StrCat("C", k);
  std::string error;
  try {
    co_await in->objects->send.at(k).send(v);
  } catch (const trio::ClosedResourceError&) {
    error = "ClosedResourceError";
  } catch (const trio::BrokenResourceError&) {
    error = "BrokenResourceError";
  }
  in->log(task, error.empty() ? absl::StrCat("sent ", v, " on ", channel)
                              : absl::StrCat("send ", channel, " ", error));
}

// ["recv", k]: the channel's errors are logged, not raised.
trio::Task<> do_recv(Interp* in, const Json& st, const std::string& task) {
  const size_t k = index_of(st[1]);
  const std::string channel = absl::StrCat("C", k);
  int64_t v = 0;
  std::string error;
  try {
    v = co_await in->objects->recv.at(k).receive();
  } catch (const trio::EndOfChannel&) {
    error = "EndOfChannel";
  } catch (const trio::ClosedResourceError&) {
    error = "ClosedResourceError";
  }
  in->log(task, error.empty() ? absl::StrCat("got ", v, " on ", channel)
                              : absl::StrCat("recv ", channel, " ", error));
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
  } else if (op == "ev_set") {
    const size_t k = index_of(st[1]);
    in->objects->events.at(k).set();
    in->log(task, absl::StrCat("set E", k));
  } else if (op == "ev_wait") {
    co_await do_ev_wait(in, st, task);
  } else if (op == "lock" || op == "sem") {
    co_await do_hold(in, st, task, n);
  } else if (op == "send") {
    co_await do_send(in, st, task);
  } else if (op == "recv") {
    co_await do_recv(in, st, task);
  } else if (op == "close_send") {
    const size_t k = index_of(st[1]);
    in->objects->send.at(k).close();
    in->log(task, absl::StrCat("closed send C", k));
  } else if (op == "close_recv") {
    const size_t k = index_of(st[1]);
    in->objects->recv.at(k).close();
    in->log(task, absl::StrCat("closed recv C", k));
  } else if (in->extension != nullptr && in->extension->handles(op)) {
    co_await in->extension->run(st, task);
  } else {
    throw std::runtime_error("unknown statement " + op);
  }
}

trio::Task<> run_block(Interp* in, const Json* block, const std::string& task, trio::Nursery* n) {
  for (const Json& st : block->a) co_await run_stmt(in, st, task, n);
}

trio::Task<> main_task(Interp* in, const Json* program) {
  SharedObjects objects;
  in->objects = &objects;
  if (in->extension != nullptr) in->extension->start();
  const bool exhausted = co_await trio::move_on_after(ticks(kBudgetTicks), [&]() -> trio::Task<> {
    co_await run_block(in, program, "m", nullptr);
  });
  if (exhausted) in->log("m", "budget exhausted");
  if (in->extension != nullptr) in->extension->stop();
  in->objects = nullptr;
}

}  // namespace

struct ExtensionAccess {
  static void set_lines(Extension* e, std::vector<Line>* lines) { e->lines_ = lines; }
};

void Extension::log(const std::string& task, const std::string& event) {
  const int64_t now = to_ticks(trio::current_time());
  lines_->push_back({now, std::to_string(now) + " " + task + " " + event});
}

std::vector<Line> run_program(const Json& program, trio::SchedulingPolicy policy, uint64_t seed,
                              Extension* extension) {
  Interp in;
  in.extension = extension;
  if (extension != nullptr) ExtensionAccess::set_lines(extension, &in.lines);
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
  in.lines.push_back({end, absl::StrCat(end, " ", outcome)});
  return std::move(in.lines);
}

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

namespace {
std::string join(const std::vector<std::string>& lines) {
  std::string out;
  for (const auto& l : lines) absl::StrAppend(&out, "  ", l, "\n");
  return out;
}
}  // namespace

std::string compare_logs(const std::vector<std::string>& want,
                         const std::vector<std::string>& got) {
  if (want == got) return "";
  size_t k = 0;
  while (k < want.size() && k < got.size() && want[k] == got[k]) ++k;
  return absl::StrCat("first difference at line ", k + 1,
                      ":\n  trio:     ", k < want.size() ? want[k] : "<end>",
                      "\n  trio-cpp: ", k < got.size() ? got[k] : "<end>", "\n",
                      "trio (normalized):\n", join(want), "trio-cpp (normalized):\n", join(got));
}

// ---- The corpus -------------------------------------------------------------------------------

const std::vector<Policy>& policies() {
  static const std::vector<Policy> kPolicies = {
      {"fifo", trio::SchedulingPolicy::kFifo, 1},
      {"lifo", trio::SchedulingPolicy::kLifo, 1},
      {"coinflip/1", trio::SchedulingPolicy::kCoinFlip, 1},
      {"coinflip/2", trio::SchedulingPolicy::kCoinFlip, 2},
      {"coinflip/3", trio::SchedulingPolicy::kCoinFlip, 3},
      {"shuffle/1", trio::SchedulingPolicy::kShuffle, 1},
      {"shuffle/2", trio::SchedulingPolicy::kShuffle, 2},
  };
  return kPolicies;
}

std::string corpus_dir(const std::string& suite) {
  const char* srcdir = std::getenv("TEST_SRCDIR");
  const char* workspace = std::getenv("TEST_WORKSPACE");
  if (srcdir == nullptr) return "";
  return absl::StrCat(srcdir, "/", workspace ? workspace : "trio_cpp",
                      "/runtime/testdata/conformance/", suite);
}

namespace {
std::string read_file(const std::string& path) {
  std::ifstream f(path);
  if (!f) throw std::runtime_error("cannot read " + path);
  return std::string(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
}
}  // namespace

std::vector<std::string> corpus_programs(const std::string& suite) {
  std::vector<std::string> names;
  const std::string dir = corpus_dir(suite);
  const std::string prefix = suite + "-";
  DIR* d = dir.empty() ? nullptr : opendir(dir.c_str());
  if (d == nullptr) return names;
  while (const dirent* e = readdir(d)) {
    const std::string f = e->d_name;
    if (f.size() > prefix.size() + 5 && f.rfind(prefix, 0) == 0 &&
        f.compare(f.size() - 5, 5, ".json") == 0)
      names.push_back(f.substr(0, f.size() - 5));
  }
  closedir(d);
  std::sort(names.begin(), names.end());
  return names;
}

void expect_conforms(const std::string& suite, const std::string& name) {
  const std::string base = absl::StrCat(corpus_dir(suite), "/", name);
  const Json program = parse_json(read_file(absl::StrCat(base, ".json")));
  std::vector<std::string> want;
  {
    const std::string out = read_file(absl::StrCat(base, ".out"));
    std::vector<Line> lines;
    for (absl::string_view l : absl::StrSplit(out, '\n', absl::SkipEmpty()))
      lines.push_back({std::stoll(std::string(l)), std::string(l)});
    want = normalize(lines);
  }
  bool printed_logs = false;  // print both logs once; later mismatches only their first line
  for (const Policy& p : policies()) {
    const std::vector<std::string> got = normalize(run_program(program, p.policy, p.seed));
    const std::string diff = compare_logs(want, got);
    if (!diff.empty()) {
      ADD_FAILURE() << name << " under " << p.name << ": "
                    << (printed_logs ? diff.substr(0, diff.find("trio (normalized)")) : diff);
      printed_logs = true;
    }
    EXPECT_EQ(trio::lowlevel::live_frames(), 0) << name << " under " << p.name;
  }
}

std::string program_test_name(const ::testing::TestParamInfo<std::string>& info) {
  std::string name = info.param;
  std::replace(name.begin(), name.end(), '-', '_');
  return name;
}

}  // namespace conformance
