// SPDX-License-Identifier: Apache-2.0 OR MIT
//
// Test-only: the interpreter behind the conformance tests. It runs the programs of the shared
// conformance corpus (copied into runtime/testdata/conformance/<suite>/) — made by gen.py
// (suite "core") and gen_sync.py (suite "sync") — on trio-cpp, statement by statement as
// run_trio.py runs them on Trio, and compares the event log with the one Trio 0.34 produced,
// after sorting the lines within each instant (normalize.py's rule).
//
//   class SyncConformance : public ::testing::TestWithParam<std::string> {};
//   TEST_P(SyncConformance, LogMatchesTrioUnderEverySchedulingPolicy) {
//     conformance::expect_conforms("sync", GetParam());
//   }
//   INSTANTIATE_TEST_SUITE_P(Sync, SyncConformance,
//                            ::testing::ValuesIn(conformance::corpus_programs("sync")),
//                            conformance::program_test_name);
#ifndef TRIO_RUNTIME_TESTING_CONFORMANCE_INTERP_H_
#define TRIO_RUNTIME_TESTING_CONFORMANCE_INTERP_H_

#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

#include "runtime/run_options.h"
#include "runtime/task.h"

namespace conformance {

// ---- A JSON reader for the corpus's subset: arrays, strings, integers, true/false/null -------

struct Json {
  enum class Kind { kNull, kBool, kInt, kString, kArray };
  Kind kind = Kind::kNull;
  bool b = false;
  int64_t i = 0;
  std::string s;
  std::vector<Json> a;

  // Each accessor throws std::runtime_error if the value is not of that kind.
  const Json& operator[](size_t k) const;
  int64_t as_int() const;
  bool as_bool() const;
  const std::string& as_string() const;
  bool is_null() const { return kind == Kind::kNull; }
};

// Parses a whole document; std::runtime_error (with the offset) on anything outside the subset.
Json parse_json(const std::string& text);

// ---- Running a program ------------------------------------------------------------------------

struct Line {
  int64_t ticks;
  std::string text;  // "<ticks> <task> <event>"
};

// Statements beyond the core and sync ones (the stream statements of run_trio_streams.py),
// supplied by a layer above the runtime (io_fake/testing/stream_conformance.h). The
// interpreter calls start() inside the run before the body, run() for every statement whose
// name handles() accepts, and stop() inside the run after the body.
class Extension {
 public:
  virtual ~Extension() = default;
  virtual void start() {}
  virtual void stop() {}
  virtual bool handles(const std::string& op) const = 0;
  // Runs statement `st` in task `task` (its log lines go through log()).
  virtual trio::Task<> run(const Json& st, const std::string& task) = 0;

 protected:
  // Appends "<ticks> <task> <event>" to the running program's log.
  void log(const std::string& task, const std::string& event);

 private:
  friend struct ExtensionAccess;
  std::vector<Line>* lines_ = nullptr;  // the running program's log, set by run_program
};

// Runs `program` as run_trio.py's run() does — on MockClock(autojump threshold 0), inside a
// budget of 4096 ticks, with fresh shared objects (events, locks, semaphore, channels) — and
// returns its log, ending with "<ticks> main ok" or "<ticks> main raised <shape>".
// `extension` (may be null) handles the statements the interpreter does not know.
std::vector<Line> run_program(const Json& program, trio::SchedulingPolicy policy, uint64_t seed,
                              Extension* extension = nullptr);

// normalize.py: the lines grouped by instant (ascending), sorted within each.
std::vector<std::string> normalize(const std::vector<Line>& lines);

// Describes the first difference and both logs, or returns "" if they agree.
std::string compare_logs(const std::vector<std::string>& want, const std::vector<std::string>& got);

// ---- The corpus -------------------------------------------------------------------------------

// The scheduling policies (and seeds) every program is replayed under. The corpus kept only
// programs whose log Trio produced identically under FIFO, LIFO, coin-flip and shuffled batches.
struct Policy {
  const char* name;
  trio::SchedulingPolicy policy;
  uint64_t seed;
};
const std::vector<Policy>& policies();

// runtime/testdata/conformance/<suite> in the test's runfiles ("" outside `bazel test`).
std::string corpus_dir(const std::string& suite);
// The program names of a suite ("core-10001", ...), sorted: the <suite>-*.json files.
std::vector<std::string> corpus_programs(const std::string& suite);

// Replays program `name` of `suite` under every policy: a test failure per policy whose log
// differs from Trio's (showing both logs once), and one per run that leaks a coroutine frame.
void expect_conforms(const std::string& suite, const std::string& name);

// A gtest parameter name for a program: "core-10001" -> "core_10001".
std::string program_test_name(const ::testing::TestParamInfo<std::string>& info);

}  // namespace conformance

#endif  // TRIO_RUNTIME_TESTING_CONFORMANCE_INTERP_H_
