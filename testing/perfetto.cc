// SPDX-License-Identifier: Apache-2.0 OR MIT
#include "testing/perfetto.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace trio::testing {

namespace {

// ---- JSON text ---------------------------------------------------------------------------------

// Length of the valid UTF-8 sequence at s[i], or 0 if the bytes there are not one.
size_t utf8_sequence_length(std::string_view s, size_t i) {
  const auto byte = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  const unsigned char c = byte(i);
  size_t n;
  uint32_t min;
  if (c >= 0xc2 && c <= 0xdf) {
    n = 2, min = 0x80;
  } else if (c >= 0xe0 && c <= 0xef) {
    n = 3, min = 0x800;
  } else if (c >= 0xf0 && c <= 0xf4) {
    n = 4, min = 0x10000;
  } else {
    return 0;
  }
  if (i + n > s.size()) return 0;
  uint32_t cp = c & (0x7f >> n);
  for (size_t k = 1; k < n; ++k) {
    if ((byte(i + k) & 0xc0) != 0x80) return 0;
    cp = (cp << 6) | (byte(i + k) & 0x3f);
  }
  if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return 0;
  return n;
}

std::string json_string(std::string_view s) {
  std::string out = "\"";
  for (size_t i = 0; i < s.size();) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c == '\n') {
      out += "\\n";
    } else if (c < 0x20 || c == 0x7f) {
      absl::StrAppendFormat(&out, "\\u%04x", static_cast<unsigned>(c));
    } else if (c >= 0x80) {
      const size_t n = utf8_sequence_length(s, i);
      if (n == 0) {
        out += "\\ufffd";
        ++i;
        continue;
      }
      out.append(s.substr(i, n));
      i += n;
      continue;
    } else {
      out += static_cast<char>(c);
    }
    ++i;
  }
  out += '"';
  return out;
}

// Nanoseconds as microseconds with three decimals (the format's unit), exactly.
std::string micros(int64_t ns) {
  const bool negative = ns < 0;
  const uint64_t m = negative ? 0 - static_cast<uint64_t>(ns) : static_cast<uint64_t>(ns);
  return absl::StrFormat("%s%d.%03d", negative ? "-" : "", m / 1000, m % 1000);
}

// ---- building the event list -------------------------------------------------------------------

constexpr int kPid = 1;
constexpr uint64_t kSchedulerTid = 0;

struct TaskTrack {
  std::string name;
  uint64_t parent = kNoTask;
  int64_t begin_ns = 0;
  int64_t end_ns = 0;
  bool exited = false;
  bool waiting = false;  // an open "blocked" slice
  int64_t wait_begin_ns = 0;
  std::string wait_name;
};

struct OutEvent {
  int64_t ts_ns;
  int64_t dur_ns;  // -1 for events without a duration
  int rank;        // order at one instant: lifetime (0), step (1), slices (2), points (3)
  size_t seq;      // emission order, the last tie-breaker
  std::string json;
};

class Builder {
 public:
  explicit Builder(const Trace& trace) : trace_(trace) {}

  std::string build(const ChromeTraceOptions& options) {
    const int64_t end_ns = trace_.empty() ? 0 : trace_.back().time_ns;
    for (size_t i = 0; i < trace_.size(); ++i) visit(i);
    for (auto& [id, t] : tracks_) {
      if (t.waiting)
        slice(tid(id), t.wait_begin_ns, end_ns, t.wait_name, "wait", "{\"unfinished\":true}");
      const int64_t until = t.exited ? t.end_ns : end_ns;
      std::string args = absl::StrCat("{\"id\":", id);
      if (t.parent != kNoTask && tracks_.count(t.parent))
        absl::StrAppend(&args, ",\"parent\":", json_string(tracks_.at(t.parent).name));
      absl::StrAppend(&args, t.exited ? "" : ",\"unfinished\":true", "}");
      slice(tid(id), t.begin_ns, until, t.name, "task", args);
    }
    // Viewers nest slices in the order they come. By start time; at one instant a task's
    // lifetime first (it encloses everything on its track), then its step (which ends before
    // the wait it leads to begins), then the rest, longest first.
    std::stable_sort(out_.begin(), out_.end(), [](const OutEvent& a, const OutEvent& b) {
      if (a.ts_ns != b.ts_ns) return a.ts_ns < b.ts_ns;
      if (a.rank != b.rank) return a.rank < b.rank;
      if (a.dur_ns != b.dur_ns) return a.dur_ns > b.dur_ns;
      return a.seq < b.seq;
    });
    std::string json =
        absl::StrCat("{\"traceEvents\":[\n",
                     metadata("process_name", kSchedulerTid, json_string(options.process_name)),
                     ",\n", metadata("thread_name", kSchedulerTid, json_string("scheduler")), ",\n",
                     metadata("thread_sort_index", kSchedulerTid, "-1", "sort_index"));
    size_t index = 0;
    for (uint64_t id : preorder()) {
      absl::StrAppend(&json, ",\n", metadata("thread_name", tid(id), json_string(path(id))), ",\n",
                      metadata("thread_sort_index", tid(id), absl::StrCat(index++), "sort_index"));
    }
    for (const OutEvent& e : out_) absl::StrAppend(&json, ",\n", e.json);
    absl::StrAppend(&json,
                    "\n],\"displayTimeUnit\":\"ms\",\"otherData\":{\"clock\":\"trio run clock "
                    "(virtual)\",\"events\":",
                    trace_.size(), "}}\n");
    return json;
  }

 private:
  static uint64_t tid(uint64_t task_id) { return task_id + 1; }

  TaskTrack& track(uint64_t id) { return tracks_[id]; }

  void visit(size_t i) {
    const TraceEvent& e = trace_[i];
    if (e.task_id == kNoTask) {
      if (e.kind == TraceEventKind::kIdle) {
        const int64_t next = i + 1 < trace_.size() ? trace_[i + 1].time_ns : e.time_ns;
        slice(kSchedulerTid, e.time_ns, next, "idle", "scheduler",
              absl::StrCat("{\"detail\":", json_string(e.detail), "}"));
      } else {
        instant(kSchedulerTid, e.time_ns, e.detail.empty() ? kind_name(e.kind) : e.detail, "g",
                "{}");
      }
      return;
    }
    const bool known = tracks_.count(e.task_id) != 0;
    TaskTrack& t = track(e.task_id);
    if (!known) {
      t.name = e.task;
      t.begin_ns = e.time_ns;
    }
    const uint64_t me = tid(e.task_id);
    switch (e.kind) {
      case TraceEventKind::kSpawned:
        t.parent = e.parent_id;
        if (e.parent_id != kNoTask && tracks_.count(e.parent_id)) flow(e.parent_id, e);
        break;
      case TraceEventKind::kStep:
        slice(me, e.time_ns, e.time_ns, "step", "step", "{}");
        break;
      case TraceEventKind::kBlocked:
        t.waiting = true;
        t.wait_begin_ns = e.time_ns;
        t.wait_name = e.detail.empty() ? "blocked" : absl::StrCat("blocked ", e.detail);
        break;
      case TraceEventKind::kCancelled:
        instant(me, e.time_ns,
                e.detail.rfind("(deadline)", 0) == 0 ? "deadline expired" : "cancelled", "t",
                absl::StrCat("{\"detail\":", json_string(e.detail), "}"));
        [[fallthrough]];
      case TraceEventKind::kScheduled:
        if (t.waiting) {
          t.waiting = false;
          slice(me, t.wait_begin_ns, e.time_ns, t.wait_name, "wait",
                absl::StrCat("{\"woke\":",
                             json_string(absl::StrCat(kind_name(e.kind), " ", e.detail)), "}"));
        }
        break;
      case TraceEventKind::kExited:
        t.exited = true;
        t.end_ns = e.time_ns;
        instant(me, e.time_ns, "exited", "t", "{}");
        break;
      case TraceEventKind::kYield:
      case TraceEventKind::kIdle:
      case TraceEventKind::kNote:
        break;
    }
  }

  void emit(int64_t ts, int64_t dur, std::string json, int rank = 3) {
    out_.push_back({ts, dur, rank, out_.size(), std::move(json)});
  }

  static std::string head(const char* ph, uint64_t tid, int64_t ts, const std::string& name,
                          const char* cat) {
    return absl::StrCat("{\"ph\":\"", ph, "\",\"pid\":", kPid, ",\"tid\":", tid,
                        ",\"ts\":", micros(ts), ",\"name\":", json_string(name), ",\"cat\":\"", cat,
                        "\"");
  }

  void slice(uint64_t tid, int64_t begin, int64_t end, const std::string& name, const char* cat,
             const std::string& args) {
    const std::string_view c = cat;
    const int rank = c == "task" ? 0 : c == "step" ? 1 : 2;
    emit(begin, end - begin,
         absl::StrCat(head("X", tid, begin, name, cat), ",\"dur\":", micros(end - begin),
                      ",\"args\":", args, "}"),
         rank);
  }

  void instant(uint64_t tid, int64_t ts, const std::string& name, const char* scope,
               const std::string& args) {
    emit(ts, -1,
         absl::StrCat(head("i", tid, ts, name, "event"), ",\"s\":\"", scope, "\",\"args\":", args,
                      "}"));
  }

  // A spawn arrow (flow events, version 1): from the spawner's track to the child's.
  void flow(uint64_t parent_id, const TraceEvent& e) {
    const std::string id = absl::StrCat(",\"id\":", e.task_id, "}");
    emit(e.time_ns, -1, absl::StrCat(head("s", tid(parent_id), e.time_ns, "spawn", "spawn"), id));
    emit(e.time_ns, -1,
         absl::StrCat(head("f", tid(e.task_id), e.time_ns, "spawn", "spawn"), ",\"bp\":\"e\"", id));
  }

  static std::string metadata(const char* what, uint64_t tid, const std::string& value,
                              const char* key = "name") {
    return absl::StrCat("{\"ph\":\"M\",\"pid\":", kPid, ",\"tid\":", tid, ",\"name\":\"", what,
                        "\",\"args\":{\"", key, "\":", value, "}}");
  }

  // "main/worker/worker.5": the names from the outermost task below <init> down to `id`.
  std::string path(uint64_t id) {
    std::vector<const std::string*> names;
    // A parent chain can only go to earlier tasks, so it ends; the bound is a safety net.
    for (uint64_t cur = id; cur != kNoTask && names.size() <= tracks_.size();) {
      const TaskTrack& t = track(cur);
      if (cur != id && cur == 0) break;  // <init> is every run's root: leave it out
      names.push_back(&t.name);
      cur = t.parent;
      if (cur != kNoTask && !tracks_.count(cur)) break;
    }
    std::string out;
    for (size_t i = names.size(); i-- > 0;) {
      out += *names[i];
      if (i) out += '/';
    }
    return out;
  }

  // Tasks in depth-first order of the task tree, children in spawn order.
  std::vector<uint64_t> preorder() {
    std::map<uint64_t, std::vector<uint64_t>> children;
    std::vector<uint64_t> roots;
    for (const auto& [id, t] : tracks_) {
      if (t.parent != kNoTask && tracks_.count(t.parent) && t.parent < id)
        children[t.parent].push_back(id);
      else
        roots.push_back(id);
    }
    std::vector<uint64_t> order;
    std::vector<uint64_t> stack(roots.rbegin(), roots.rend());
    while (!stack.empty()) {
      const uint64_t id = stack.back();
      stack.pop_back();
      order.push_back(id);
      const auto it = children.find(id);
      if (it != children.end()) stack.insert(stack.end(), it->second.rbegin(), it->second.rend());
    }
    return order;
  }

  const Trace& trace_;
  std::map<uint64_t, TaskTrack> tracks_;  // ordered: the output is deterministic
  std::vector<OutEvent> out_;
};

}  // namespace

std::string chrome_trace_json(const Trace& trace, const ChromeTraceOptions& options) {
  return Builder(trace).build(options);
}

std::string write_chrome_trace(const Trace& trace, const std::string& path,
                               const ChromeTraceOptions& options) {
  const std::string json = chrome_trace_json(trace, options);
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (!f) return absl::StrCat("cannot open ", path, ": ", std::strerror(errno));
  const bool written = std::fwrite(json.data(), 1, json.size(), f) == json.size();
  const bool closed = std::fclose(f) == 0;
  if (!written || !closed) return absl::StrCat("cannot write ", path, ": ", std::strerror(errno));
  return "";
}

void PerfettoTracer::after_run() {
  TraceRecorder::after_run();
  if (path_.empty()) return;
  write_error_ = write_chrome_trace(trace(), path_, options_);
  if (!write_error_.empty())
    std::fprintf(stderr, "trio: trace not written: %s\n", write_error_.c_str());
}

std::unique_ptr<PerfettoTracer> tracer_from_env(std::string_view name) {
  const char* dir = std::getenv(kTraceDirEnv);
  if (!dir || !*dir) return nullptr;
  std::string file;
  for (char c : name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '.' || c == '-' || c == '_';
    file += ok ? c : '_';
  }
  if (file.empty()) file = "trace";
  ChromeTraceOptions options;
  options.process_name = std::string(name);
  return std::make_unique<PerfettoTracer>(absl::StrCat(dir, "/", file, ".json"),
                                          std::move(options));
}

std::unique_ptr<PerfettoTracer> tracer_for_current_test() {
  const ::testing::TestInfo* info = ::testing::UnitTest::GetInstance()->current_test_info();
  if (!info) return nullptr;
  return tracer_from_env(absl::StrCat(info->test_suite_name(), ".", info->name()));
}

}  // namespace trio::testing
