// SPDX-License-Identifier: Apache-2.0 OR MIT
// Chrome / Perfetto export (testing/perfetto.h): the JSON is valid (a strict RFC 8259 parser
// below, and Python's json module when python3 is installed) in the Trace Event Format — one
// track per task named by its tree path and sorted under its parent, waits as slices whose
// durations are virtual microseconds, slices properly nested on every track, instants for
// cancellations and deadline expiries, spawn flows — and the tracer writes its file when the
// run ends, even when the run ends in a deadlock.
#include "testing/perfetto.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "runtime/trio.h"
#include "simclock/mock_clock.h"
#include "testing/trio_test.h"

using namespace std::chrono_literals;
using ::testing::HasSubstr;
using trio::Task;
using trio::testing::PerfettoTracer;

namespace {

// ---- a strict JSON parser (RFC 8259), enough to check the export -------------------------------

struct Json {
  enum Type { kNull, kBool, kNumber, kString, kArray, kObject } type = kNull;
  double number = 0;
  std::string string;  // kString (decoded), kBool ("true"/"false")
  std::vector<Json> array;
  // kObject: keys[i] -> values[i] (two vectors: a pair with an incomplete Json is ill-formed).
  std::vector<std::string> keys;
  std::vector<Json> values;

  const Json* get(const std::string& key) const {
    for (size_t i = 0; i < keys.size(); ++i)
      if (keys[i] == key) return &values[i];
    return nullptr;
  }
  std::string str(const std::string& key) const {
    const Json* v = get(key);
    return v && v->type == kString ? v->string : "";
  }
  double num(const std::string& key) const {
    const Json* v = get(key);
    return v && v->type == kNumber ? v->number : -1e300;
  }
};

class Parser {
 public:
  explicit Parser(const std::string& s) : s_(s) {}
  // Parses the whole text; false (with error()) unless it is exactly one JSON value.
  bool parse(Json* out) {
    ws();
    if (!value(out, 0)) return false;
    ws();
    return pos_ == s_.size() || fail("trailing characters");
  }
  const std::string& error() const { return error_; }

 private:
  bool fail(const std::string& why) {
    if (error_.empty()) error_ = why + " at offset " + std::to_string(pos_);
    return false;
  }
  void ws() {
    while (pos_ < s_.size() &&
           (s_[pos_] == ' ' || s_[pos_] == '\n' || s_[pos_] == '\t' || s_[pos_] == '\r'))
      ++pos_;
  }
  bool literal(const char* word) {
    const std::string w(word);
    if (s_.compare(pos_, w.size(), w) != 0) return fail("bad literal");
    pos_ += w.size();
    return true;
  }
  bool value(Json* out, int depth) {
    if (depth > 64) return fail("too deep");
    if (pos_ >= s_.size()) return fail("unexpected end");
    const char c = s_[pos_];
    if (c == '{') return object(out, depth);
    if (c == '[') return array(out, depth);
    if (c == '"') {
      out->type = Json::kString;
      return string(&out->string);
    }
    if (c == 't' || c == 'f') {
      out->type = Json::kBool;
      out->string = c == 't' ? "true" : "false";
      return literal(c == 't' ? "true" : "false");
    }
    if (c == 'n') return literal("null");
    return number(out);
  }
  bool object(Json* out, int depth) {
    out->type = Json::kObject;
    ++pos_;
    ws();
    if (pos_ < s_.size() && s_[pos_] == '}') return ++pos_, true;
    for (;;) {
      ws();
      std::string key;
      if (pos_ >= s_.size() || s_[pos_] != '"' || !string(&key)) return fail("expected key");
      ws();
      if (pos_ >= s_.size() || s_[pos_++] != ':') return fail("expected ':'");
      ws();
      Json v;
      if (!value(&v, depth + 1)) return false;
      out->keys.push_back(std::move(key));
      out->values.push_back(std::move(v));
      ws();
      if (pos_ < s_.size() && s_[pos_] == ',') {
        ++pos_;
        continue;
      }
      if (pos_ < s_.size() && s_[pos_] == '}') return ++pos_, true;
      return fail("expected ',' or '}'");
    }
  }
  bool array(Json* out, int depth) {
    out->type = Json::kArray;
    ++pos_;
    ws();
    if (pos_ < s_.size() && s_[pos_] == ']') return ++pos_, true;
    for (;;) {
      ws();
      Json v;
      if (!value(&v, depth + 1)) return false;
      out->array.push_back(std::move(v));
      ws();
      if (pos_ < s_.size() && s_[pos_] == ',') {
        ++pos_;
        continue;
      }
      if (pos_ < s_.size() && s_[pos_] == ']') return ++pos_, true;
      return fail("expected ',' or ']'");
    }
  }
  bool number(Json* out) {
    const size_t start = pos_;
    if (s_[pos_] == '-') ++pos_;
    const auto digits = [&] {
      const size_t d = pos_;
      while (pos_ < s_.size() && s_[pos_] >= '0' && s_[pos_] <= '9') ++pos_;
      return pos_ - d;
    };
    if (pos_ < s_.size() && s_[pos_] == '0') {
      ++pos_;
    } else if (digits() == 0) {
      return fail("bad number");
    }
    if (pos_ < s_.size() && s_[pos_] == '.') {
      ++pos_;
      if (digits() == 0) return fail("bad fraction");
    }
    if (pos_ < s_.size() && (s_[pos_] == 'e' || s_[pos_] == 'E')) {
      ++pos_;
      if (pos_ < s_.size() && (s_[pos_] == '+' || s_[pos_] == '-')) ++pos_;
      if (digits() == 0) return fail("bad exponent");
    }
    out->type = Json::kNumber;
    out->number = std::strtod(s_.substr(start, pos_ - start).c_str(), nullptr);
    return true;
  }
  static void put_utf8(uint32_t cp, std::string* out) {
    if (cp < 0x80) {
      *out += static_cast<char>(cp);
    } else if (cp < 0x800) {
      *out += static_cast<char>(0xc0 | (cp >> 6));
      *out += static_cast<char>(0x80 | (cp & 0x3f));
    } else if (cp < 0x10000) {
      *out += static_cast<char>(0xe0 | (cp >> 12));
      *out += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
      *out += static_cast<char>(0x80 | (cp & 0x3f));
    } else {
      *out += static_cast<char>(0xf0 | (cp >> 18));
      *out += static_cast<char>(0x80 | ((cp >> 12) & 0x3f));
      *out += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
      *out += static_cast<char>(0x80 | (cp & 0x3f));
    }
  }
  bool hex4(uint32_t* v) {
    if (pos_ + 4 > s_.size()) return fail("short \\u escape");
    *v = 0;
    for (int i = 0; i < 4; ++i) {
      const char c = s_[pos_++];
      *v <<= 4;
      if (c >= '0' && c <= '9')
        *v |= c - '0';
      else if (c >= 'a' && c <= 'f')
        *v |= c - 'a' + 10;
      else if (c >= 'A' && c <= 'F')
        *v |= c - 'A' + 10;
      else
        return fail("bad hex digit");
    }
    return true;
  }
  bool string(std::string* out) {
    ++pos_;  // the opening quote
    while (pos_ < s_.size()) {
      const unsigned char c = static_cast<unsigned char>(s_[pos_]);
      if (c == '"') return ++pos_, true;
      if (c < 0x20) return fail("raw control character in string");
      if (c == '\\') {
        if (++pos_ >= s_.size()) break;
        const char e = s_[pos_++];
        const std::string simple = "\"\\/bfnrt";
        const std::string decoded = "\"\\/\b\f\n\r\t";
        if (const size_t k = simple.find(e); k != std::string::npos) {
          *out += decoded[k];
          continue;
        }
        if (e != 'u') return fail("bad escape");
        uint32_t cp = 0;
        if (!hex4(&cp)) return false;
        if (cp >= 0xd800 && cp <= 0xdbff) {
          uint32_t low = 0;
          if (s_.compare(pos_, 2, "\\u") != 0) return fail("lone high surrogate");
          pos_ += 2;
          if (!hex4(&low) || low < 0xdc00 || low > 0xdfff) return fail("bad low surrogate");
          cp = 0x10000 + ((cp - 0xd800) << 10) + (low - 0xdc00);
        } else if (cp >= 0xdc00 && cp <= 0xdfff) {
          return fail("lone low surrogate");
        }
        put_utf8(cp, out);
        continue;
      }
      if (c >= 0x80) {  // raw UTF-8: must be well formed
        size_t n = c >= 0xf0 && c <= 0xf4 ? 4 : c >= 0xe0 ? 3 : c >= 0xc2 && c < 0xe0 ? 2 : 0;
        if (n == 0 || pos_ + n > s_.size()) return fail("invalid UTF-8");
        for (size_t k = 1; k < n; ++k)
          if ((static_cast<unsigned char>(s_[pos_ + k]) & 0xc0) != 0x80)
            return fail("invalid UTF-8");
        out->append(s_, pos_, n);
        pos_ += n;
        continue;
      }
      *out += static_cast<char>(c);
      ++pos_;
    }
    return fail("unterminated string");
  }

  const std::string& s_;
  size_t pos_ = 0;
  std::string error_;
};

// ---- helpers ----------------------------------------------------------------------------------

std::string record_json(std::function<Task<>()> body) {
  PerfettoTracer tracer;
  trio::MockClock clock;
  clock.set_autojump_threshold(0s);
  trio::run(trio::RunOptions{.clock = &clock,
                             .instruments = {&tracer},
                             .seed = 3,
                             .scheduling = trio::SchedulingPolicy::kFifo},
            std::move(body));
  return tracer.json();
}

std::vector<Json> events_of(const std::string& json) {
  Json doc;
  Parser p(json);
  EXPECT_TRUE(p.parse(&doc)) << p.error() << "\n" << json;
  const Json* events = doc.get("traceEvents");
  if (!events || events->type != Json::kArray) {
    ADD_FAILURE() << "no traceEvents array";
    return {};
  }
  return events->array;
}

// tid of the track whose thread_name is `path`, or -1.
double tid_of(const std::vector<Json>& events, const std::string& path) {
  for (const Json& e : events) {
    if (e.str("ph") != "M" || e.str("name") != "thread_name") continue;
    const Json* args = e.get("args");
    if (args && args->str("name") == path) return e.num("tid");
  }
  return -1;
}

double sort_index_of(const std::vector<Json>& events, double tid) {
  for (const Json& e : events)
    if (e.str("ph") == "M" && e.str("name") == "thread_sort_index" && e.num("tid") == tid)
      return e.get("args")->num("sort_index");
  return -1;
}

const Json* find_event(const std::vector<Json>& events, const std::string& ph,
                       const std::string& name, double tid) {
  for (const Json& e : events)
    if (e.str("ph") == ph && e.str("name") == name && e.num("tid") == tid) return &e;
  return nullptr;
}

// main -> "parent" -> "child" (sleeps 1.5 s), and "sibling" under main; "doomed" hits a 3 s
// deadline, "stopped" is cancelled explicitly.
Task<> family() {
  co_await trio::open_nursery([&](trio::Nursery& n) -> Task<> {
    n.start_soon(trio::TaskName("parent"), []() -> Task<> {
      co_await trio::open_nursery([&](trio::Nursery& inner) -> Task<> {
        inner.start_soon(trio::TaskName("child"), []() -> Task<> { co_await trio::sleep(1500ms); });
        co_return;
      });
    });
    n.start_soon(trio::TaskName("sibling"), []() -> Task<> { co_await trio::sleep(1s); });
    n.start_soon(trio::TaskName("doomed"), []() -> Task<> {
      co_await trio::move_on_after(3s, [&]() -> Task<> { co_await trio::sleep_forever(); });
    });
    n.start_soon(trio::TaskName("stopped"), []() -> Task<> {
      trio::CancelScope scope;
      co_await scope.enter([&](trio::CancelScope& s) -> Task<> {
        co_await trio::sleep(2s);
        s.cancel("done waiting");
        co_await trio::checkpoint();
      });
    });
    co_return;
  });
}

// ---- tests ------------------------------------------------------------------------------------

TEST(ChromeTrace, IsValidJsonInTheTraceEventFormat) {
  const std::vector<Json> events = events_of(record_json(family));
  ASSERT_FALSE(events.empty());
  for (const Json& e : events) {
    ASSERT_EQ(e.type, Json::kObject);
    const std::string ph = e.str("ph");
    EXPECT_THAT(ph, ::testing::AnyOf("M", "X", "i", "s", "f")) << ph;
    EXPECT_EQ(e.num("pid"), 1);
    EXPECT_GE(e.num("tid"), 0);
    if (ph != "M") {
      EXPECT_GE(e.num("ts"), 0) << e.str("name");
    }
    if (ph == "X") {
      EXPECT_GE(e.num("dur"), 0) << e.str("name");
    }
  }
}

TEST(ChromeTrace, EveryTaskHasATrackNamedByItsPathInTheTaskTree) {
  const std::vector<Json> events = events_of(record_json(family));
  for (const char* path : {"main", "main/parent", "main/parent/child", "main/sibling",
                           "main/doomed", "main/stopped", "<init>"})
    EXPECT_GE(tid_of(events, path), 1) << path;
  EXPECT_EQ(tid_of(events, "scheduler"), 0);
}

TEST(ChromeTrace, TracksAreSortedDepthFirstSoChildrenSitUnderTheirParent) {
  const std::vector<Json> events = events_of(record_json(family));
  const auto index = [&](const char* path) { return sort_index_of(events, tid_of(events, path)); };
  EXPECT_LT(index("main"), index("main/parent"));
  EXPECT_LT(index("main/parent"), index("main/parent/child"));
  EXPECT_LT(index("main/parent/child"), index("main/sibling"));  // parent's subtree first
  EXPECT_LT(index("main/sibling"), index("main/doomed"));
}

TEST(ChromeTrace, WaitsAreSlicesInVirtualMicroseconds) {
  const std::vector<Json> events = events_of(record_json(family));
  const double child = tid_of(events, "main/parent/child");
  const Json* wait = find_event(events, "X", "blocked on sleep", child);
  ASSERT_NE(wait, nullptr);
  EXPECT_EQ(wait->num("ts"), 0);
  EXPECT_EQ(wait->num("dur"), 1'500'000);  // 1.5 s of virtual time
  const Json* life = find_event(events, "X", "child", child);
  ASSERT_NE(life, nullptr);
  EXPECT_EQ(life->num("dur"), 1'500'000);
  EXPECT_EQ(life->get("args")->str("parent"), "parent");
  EXPECT_NE(find_event(events, "X", "step", child), nullptr);
}

TEST(ChromeTrace, DeadlineExpiryAndExplicitCancellationAreInstants) {
  const std::vector<Json> events = events_of(record_json(family));
  const Json* expired = find_event(events, "i", "deadline expired", tid_of(events, "main/doomed"));
  ASSERT_NE(expired, nullptr);
  EXPECT_EQ(expired->num("ts"), 3'000'000);
  EXPECT_EQ(expired->str("s"), "t");
  const Json* cancelled = find_event(events, "i", "cancelled", tid_of(events, "main/stopped"));
  ASSERT_NE(cancelled, nullptr);
  EXPECT_EQ(cancelled->num("ts"), 2'000'000);
  EXPECT_THAT(cancelled->get("args")->str("detail"), HasSubstr("done waiting"));
}

TEST(ChromeTrace, SpawnIsAFlowFromTheParentsTrackToTheChilds) {
  const std::vector<Json> events = events_of(record_json(family));
  const double parent = tid_of(events, "main/parent"), child = tid_of(events, "main/parent/child");
  const Json* start = find_event(events, "s", "spawn", parent);
  const Json* end = find_event(events, "f", "spawn", child);
  ASSERT_NE(start, nullptr);
  ASSERT_NE(end, nullptr);
  EXPECT_EQ(start->num("id"), end->num("id"));
  EXPECT_EQ(end->str("bp"), "e");
  EXPECT_NE(find_event(events, "i", "exited", child), nullptr);
}

// In file order — the order a viewer reads them — every slice starts inside the enclosing one
// and ends before it, and a task's first slice is its lifetime (the outermost, even when a wait
// spans the same interval).
TEST(ChromeTrace, SlicesComeInNestingOrderOnEveryTrack) {
  const std::vector<Json> events = events_of(record_json(family));
  std::map<double, std::vector<const Json*>> by_tid;
  for (const Json& e : events)
    if (e.str("ph") == "X") by_tid[e.num("tid")].push_back(&e);
  for (const auto& [tid, slices] : by_tid) {
    if (tid != 0) {
      EXPECT_EQ(slices.front()->str("cat"), "task") << "tid " << tid;
    }
    std::vector<double> open_ends;
    double last_begin = -1;
    for (const Json* e : slices) {
      const double begin = e->num("ts"), end = begin + e->num("dur");
      EXPECT_GE(begin, last_begin) << "tid " << tid;
      last_begin = begin;
      // Close the slices that ended before this one starts (a zero-length slice at a boundary
      // may nest either way; both are proper).
      while (!open_ends.empty() && open_ends.back() <= begin && open_ends.back() < end)
        open_ends.pop_back();
      if (!open_ends.empty()) {
        EXPECT_LE(end, open_ends.back())
            << "tid " << tid << " " << e->str("name") << " at " << begin;
      }
      open_ends.push_back(end);
    }
  }
}

TEST(ChromeTrace, NamesAreEscapedAndInvalidUtf8IsReplaced) {
  const std::string name = std::string("q\"b\\n\nt\x01 caf\xc3\xa9 bad\xff");
  const std::string json = record_json([&]() -> Task<> {
    co_await trio::open_nursery([&](trio::Nursery& n) -> Task<> {
      n.start_soon(trio::TaskName(name), []() -> Task<> { co_return; });
      co_return;
    });
  });
  const std::vector<Json> events = events_of(json);
  EXPECT_GE(tid_of(events, "main/q\"b\\n\nt\x01 caf\xc3\xa9 bad\xef\xbf\xbd"), 1) << json;
}

TEST(ChromeTrace, ProcessIsNamedByTheOptions) {
  trio::testing::Trace trace;
  const std::vector<Json> events =
      events_of(trio::testing::chrome_trace_json(trace, {.process_name = "Suite.Test seed 9"}));
  ASSERT_FALSE(events.empty());
  EXPECT_EQ(events[0].str("name"), "process_name");
  EXPECT_EQ(events[0].get("args")->str("name"), "Suite.Test seed 9");
}

std::string temp_path(const std::string& file) {
  const char* dir = std::getenv("TEST_TMPDIR");
  return std::string(dir ? dir : "/tmp") + "/" + file;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

TEST(PerfettoTracer, WritesItsFileWhenTheRunEndsEvenInADeadlock) {
  const std::string path = temp_path("deadlock.json");
  std::remove(path.c_str());
  PerfettoTracer tracer(path);
  trio::MockClock clock;
  clock.set_autojump_threshold(0s);
  EXPECT_THROW(trio::run(trio::RunOptions{.clock = &clock, .instruments = {&tracer}},
                         []() -> Task<> {
                           co_await trio::sleep(1s);
                           co_await trio::sleep_forever();
                         }),
               trio::DeadlockError);
  EXPECT_EQ(tracer.write_error(), "");
  const std::vector<Json> events = events_of(read_file(path));
  const Json* wait = find_event(events, "X", "blocked on sleep_forever", tid_of(events, "main"));
  ASSERT_NE(wait, nullptr);
  EXPECT_EQ(wait->get("args")->get("unfinished")->string, "true");
}

TEST(PerfettoTracer, AnUnwritablePathIsReportedNotThrown) {
  PerfettoTracer tracer("/nonexistent-dir/x.json");
  trio::MockClock clock;
  trio::run(trio::RunOptions{.clock = &clock, .instruments = {&tracer}},
            []() -> Task<> { co_return; });
  EXPECT_THAT(tracer.write_error(), HasSubstr("cannot open /nonexistent-dir/x.json"));
}

TEST(PerfettoTracer, TracerFromEnvWritesIntoTrioTraceDir) {
  const char* before = std::getenv(trio::testing::kTraceDirEnv);
  const std::string saved = before ? before : "";
  unsetenv(trio::testing::kTraceDirEnv);
  EXPECT_EQ(trio::testing::tracer_from_env("Suite.Name"), nullptr);
  const std::string dir = temp_path("");
  setenv(trio::testing::kTraceDirEnv, dir.c_str(), 1);
  auto tracer = trio::testing::tracer_from_env("Suite.Name/seed 5");
  setenv(trio::testing::kTraceDirEnv, saved.c_str(), 1);
  ASSERT_NE(tracer, nullptr);
  EXPECT_EQ(tracer->path(), dir + "/Suite.Name_seed_5.json");
  trio::MockClock clock;
  clock.set_autojump_threshold(0s);
  trio::run(trio::RunOptions{.clock = &clock, .instruments = {tracer.get()}},
            []() -> Task<> { co_await trio::sleep(1s); });
  EXPECT_FALSE(events_of(read_file(tracer->path())).empty());
}

// Python's json module is the reference parser (and what Perfetto's own tools are checked
// with); skipped where python3 is missing.
TEST(PerfettoTracer, PythonsJsonModuleLoadsTheFile) {
  if (std::system("python3 -c pass >/dev/null 2>&1") != 0) GTEST_SKIP() << "no python3";
  const std::string path = temp_path("family.json");
  {
    // [START tracing_perfetto]
    trio::testing::PerfettoTracer tracer(path);  // writes the JSON file when the run ends
    trio::MockClock clock;
    clock.set_autojump_threshold(0s);
    trio::run(trio::RunOptions{.clock = &clock, .instruments = {&tracer}}, family);
    // [END tracing_perfetto]
  }
  const std::string check =
      "python3 -c \"import json,sys; d=json.load(open(sys.argv[1], encoding='utf-8')); "
      "ev=d['traceEvents']; assert ev and all('ph' in e and 'pid' in e for e in ev); "
      "assert any(e['ph']=='X' for e in ev)\" " +
      path;
  EXPECT_EQ(std::system(check.c_str()), 0) << read_file(path);
}

// ---- in a TRIO_TEST -----------------------------------------------------------------------------

// [START tracing_fixture]
class Traced : public ::testing::Test {
 protected:
  // Null unless TRIO_TRACE_DIR is set; then the trace goes to $TRIO_TRACE_DIR/Suite.Name.json.
  std::unique_ptr<trio::testing::PerfettoTracer> tracer_ = trio::testing::tracer_for_current_test();
};

TRIO_TEST_F(Traced, WorkersFinishInTurn) {
  if (tracer_) trio::lowlevel::add_instrument(tracer_.get());  // traced from here to the end
  co_await trio::open_nursery([&](trio::Nursery& n) -> trio::Task<> {
    for (int i = 0; i < 3; ++i) {
      n.start_soon(
          trio::TaskName("worker." + std::to_string(i)),
          [](int i) -> trio::Task<> { co_await trio::sleep(std::chrono::seconds(i + 1)); }, i);
    }
    co_return;
  });
}
// [END tracing_fixture]

// Gives this binary a TRIO_TRACE_DIR, and checks afterwards that Traced.WorkersFinishInTurn (if
// it ran) left a trace there with a track per worker under main.
class TraceDirEnvironment : public ::testing::Environment {
 public:
  void SetUp() override {
    dir_ = temp_path("traces");
    mkdir(dir_.c_str(), 0755);
    setenv(trio::testing::kTraceDirEnv, dir_.c_str(), 1);
  }
  void TearDown() override {
    const ::testing::UnitTest* unit = ::testing::UnitTest::GetInstance();
    for (int i = 0; i < unit->total_test_suite_count(); ++i) {
      const ::testing::TestSuite* suite = unit->GetTestSuite(i);
      if (std::string(suite->name()) != "Traced") continue;
      for (int k = 0; k < suite->total_test_count(); ++k) {
        if (!suite->GetTestInfo(k)->should_run()) continue;
        const std::string path = dir_ + "/Traced." + suite->GetTestInfo(k)->name() + ".json";
        const std::vector<Json> events = events_of(read_file(path));
        EXPECT_GE(tid_of(events, "main/worker.2"), 1) << path;
        const Json* wait =
            find_event(events, "X", "blocked on sleep", tid_of(events, "main/worker.2"));
        ASSERT_NE(wait, nullptr) << path;
        EXPECT_EQ(wait->num("dur"), 3'000'000);
      }
    }
  }

 private:
  std::string dir_;
};
[[maybe_unused]] ::testing::Environment* const g_trace_dir_environment =
    ::testing::AddGlobalTestEnvironment(new TraceDirEnvironment);

}  // namespace
