// SPDX-License-Identifier: Apache-2.0 OR MIT
//
// Test-only: the stream statements of the shared conformance corpus (run_trio_streams.py in
// C++), as an extension of the core interpreter (runtime/testing/conformance_interp.h). A
// program drives one stream pair, made inside the run by a PairMaker chosen by the program's
// "kind": `memory` (memory_stream_pair) and `lockstep` (lockstep_stream_pair) here;
// `socketpair` once SocketStream exists — one line in stream_pair_maker().
//
//   auto program = stream_conformance::load_program(dir + "/streams-10001");
//   stream_conformance::StreamStatements streams(stream_conformance::stream_pair_maker(
//       program.kind));
//   auto log = conformance::run_program(program.body, policy, seed, &streams);
#ifndef TRIO_IO_FAKE_TESTING_STREAM_CONFORMANCE_H_
#define TRIO_IO_FAKE_TESTING_STREAM_CONFORMANCE_H_

#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "runtime/net/stream.h"
#include "runtime/testing/conformance_interp.h"

namespace stream_conformance {

using StreamPair = std::pair<std::unique_ptr<trio::HalfCloseableStream>,
                             std::unique_ptr<trio::HalfCloseableStream>>;
// Makes ends A and B, inside the run.
using PairMaker = std::function<StreamPair()>;

// The maker for a program kind, or null if trio-cpp cannot run that kind yet (socketpair).
PairMaker stream_pair_maker(const std::string& kind);

// The stream statements: send_all, receive_some, send_eof, aclose, aclose_forcefully,
// wait_send_all_might_not_block — each logs exactly one line (see the corpus README).
class StreamStatements final : public conformance::Extension {
 public:
  explicit StreamStatements(PairMaker maker) : maker_(std::move(maker)) {}
  void start() override;
  void stop() override;
  bool handles(const std::string& op) const override;
  trio::Task<> run(const conformance::Json& st, const std::string& task) override;

 private:
  PairMaker maker_;
  StreamPair ends_;  // A, B: set between start() and stop()
};

// A program file: {"kind": KIND, "body": [...]}.
struct Program {
  std::string kind;
  conformance::Json body;
};
// Reads <base>.json; std::runtime_error if it is not a stream program.
Program load_program(const std::string& base);
// Trio's log <base>.out, normalized.
std::vector<std::string> load_normalized_log(const std::string& base);

// io_fake/testdata/conformance/streams in the test's runfiles ("" outside `bazel test`).
std::string corpus_dir();
// The program names ("streams-10001", ...), sorted.
std::vector<std::string> corpus_programs();

}  // namespace stream_conformance

#endif  // TRIO_IO_FAKE_TESTING_STREAM_CONFORMANCE_H_
