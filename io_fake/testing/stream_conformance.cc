// SPDX-License-Identifier: Apache-2.0 OR MIT
#include "io_fake/testing/stream_conformance.h"

#include <dirent.h>

#include <algorithm>
#include <cstdlib>
#include <exception>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "io_fake/memory_stream.h"
#include "runtime/errors.h"
#include "runtime/net/socket.h"
#include "runtime/net/socket_stream.h"

namespace stream_conformance {

PairMaker stream_pair_maker(const std::string& kind) {
  if (kind == "memory") return [] { return StreamPair(trio::testing::memory_stream_pair()); };
  if (kind == "lockstep") return [] { return StreamPair(trio::testing::lockstep_stream_pair()); };
  if (kind == "socketpair") {
    // SocketStreams over socketpair(AF_UNIX, SOCK_STREAM); sends use MSG_NOSIGNAL.
    return [] {
      auto [a, b] = trio::socket::socketpair();
      return StreamPair(std::make_unique<trio::SocketStream>(std::move(a)),
                        std::make_unique<trio::SocketStream>(std::move(b)));
    };
  }
  return nullptr;
}

void StreamStatements::start() { ends_ = maker_(); }

void StreamStatements::stop() { ends_ = {}; }

bool StreamStatements::handles(const std::string& op) const {
  return op == "send_all" || op == "receive_some" || op == "send_eof" || op == "aclose" ||
         op == "aclose_forcefully" || op == "wait_send_all_might_not_block";
}

namespace {
// run_trio_streams.py's rendering of received bytes: each maximal run of '.' as [N].
std::string render(const std::string& bytes) {
  std::string out;
  for (size_t i = 0; i < bytes.size();) {
    if (bytes[i] != '.') {
      out += bytes[i++];
      continue;
    }
    size_t j = i;
    while (j < bytes.size() && bytes[j] == '.') ++j;
    out += "[" + std::to_string(j - i) + "]";
    i = j;
  }
  return out;
}
}  // namespace

trio::Task<> StreamStatements::run(const conformance::Json& st, const std::string& task) {
  const std::string& op = st[0].as_string();
  const std::string& side = st[1].as_string();
  trio::HalfCloseableStream* s = side == "A" ? ends_.first.get() : ends_.second.get();
  std::string head = op + " " + side;
  std::string data;
  if (op == "send_all") {
    const std::string& label = st[2].as_string();
    head += " " + (label.empty() ? std::string("empty") : label);
    if (!label.empty()) data = label + ":" + std::string(static_cast<size_t>(st[3].as_int()), '.');
  }
  std::string event = "ok";
  std::exception_ptr cancelled;
  try {
    if (op == "send_all") {
      co_await s->send_all(data);
    } else if (op == "receive_some") {
      // null: Python's None; memory and lockstep then return every buffered byte, and no
      // program has more than 3063 bytes in flight, so the default maximum does the same.
      const size_t max_bytes = st[2].is_null() ? trio::ReceiveStream::kDefaultMaxBytes
                                               : static_cast<size_t>(st[2].as_int());
      const std::string got = co_await s->receive_some(max_bytes);
      event = got.empty() ? "EOF" : "got " + render(got);
    } else if (op == "send_eof") {
      co_await s->send_eof();
    } else if (op == "aclose") {
      co_await s->aclose();
    } else if (op == "aclose_forcefully") {
      co_await trio::aclose_forcefully(*s);
    } else {
      co_await s->wait_send_all_might_not_block();
    }
  } catch (const trio::BusyResourceError&) {
    event = "BusyResourceError";
  } catch (const trio::ClosedResourceError&) {
    event = "ClosedResourceError";
  } catch (const trio::BrokenResourceError&) {
    event = "BrokenResourceError";
  } catch (const trio::Cancelled&) {
    cancelled = std::current_exception();
  }
  if (cancelled) {
    log(task, head + " Cancelled");
    std::rethrow_exception(cancelled);
  }
  log(task, head + " " + event);
}

namespace {
std::string read_file(const std::string& path) {
  std::ifstream f(path);
  if (!f) throw std::runtime_error("cannot read " + path);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}
}  // namespace

Program load_program(const std::string& base) {
  // The object has exactly two members, in this order: {"kind": "...", "body": [...]}; the
  // core reader has no objects, so take them apart here.
  const std::string text = read_file(base + ".json");
  const std::string kind_key = "\"kind\": \"";
  const size_t k = text.find(kind_key);
  const size_t b = text.find("\"body\":");
  const size_t end = text.rfind('}');
  if (k == std::string::npos || b == std::string::npos || end == std::string::npos || b > end)
    throw std::runtime_error(base + ".json is not a stream program");
  Program p;
  const size_t kind_start = k + kind_key.size();
  p.kind = text.substr(kind_start, text.find('"', kind_start) - kind_start);
  p.body = conformance::parse_json(text.substr(b + 7, end - (b + 7)));
  return p;
}

std::vector<std::string> load_normalized_log(const std::string& base) {
  std::istringstream out(read_file(base + ".out"));
  std::vector<conformance::Line> lines;
  for (std::string l; std::getline(out, l);)
    if (!l.empty()) lines.push_back({std::stoll(l), l});
  return conformance::normalize(lines);
}

std::string corpus_dir() {
  const char* srcdir = std::getenv("TEST_SRCDIR");
  const char* workspace = std::getenv("TEST_WORKSPACE");
  if (srcdir == nullptr) return "";
  return std::string(srcdir) + "/" + (workspace ? workspace : "trio_cpp") +
         "/io_fake/testdata/conformance/streams";
}

std::vector<std::string> corpus_programs() {
  std::vector<std::string> names;
  const std::string dir = corpus_dir();
  DIR* d = dir.empty() ? nullptr : opendir(dir.c_str());
  if (d == nullptr) return names;
  while (const dirent* e = readdir(d)) {
    const std::string f = e->d_name;
    if (f.rfind("streams-", 0) == 0 && f.size() > 5 && f.compare(f.size() - 5, 5, ".json") == 0)
      names.push_back(f.substr(0, f.size() - 5));
  }
  closedir(d);
  std::sort(names.begin(), names.end());
  return names;
}

}  // namespace stream_conformance
