// SPDX-License-Identifier: Apache-2.0 OR MIT
//
// A rapidcheck generator of cancel_model programs, and their JSON form, for cancel_prop_test.cc
// only.
//
// Programs have gen.py's statements, blocks nest at most 4 deep and a program keeps at most
// `max_statements` statements (counted in pre-order; later ones are dropped). The generator is
// built from rapidcheck combinators so that shrinking can delete any statement of any block
// (not only trailing ones) and turn a compound statement into a sleep; ids and tags are
// assigned afterwards in pre-order, so a shrunk program reads "scope 1, nursery 2, ...".
#ifndef TRIO_RUNTIME_TESTING_CANCEL_PROP_GEN_H_
#define TRIO_RUNTIME_TESTING_CANCEL_PROP_GEN_H_

#include <rapidcheck.h>

#include <iterator>
#include <ostream>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/string_view.h"
#include "runtime/testing/cancel_model.h"

namespace trio::cancel_model {

// A program as gen.py's JSON: readable, and runnable on real Trio by run_trio.py.
inline std::string to_json(const Block& block);
inline std::string to_json(const Stmt& s) {
  const auto q = [](absl::string_view x) { return absl::StrCat("\"", x, "\""); };
  const auto json = [](std::string* out, const Block& b) { out->append(to_json(b)); };
  switch (s.op) {
    case Op::kSleep:
      return absl::StrCat("[\"sleep\", ", s.ticks, "]");
    case Op::kLog:
      return absl::StrCat("[\"log\", ", q(s.tag), "]");
    case Op::kRaise:
      return absl::StrCat("[\"raise\", ", q(kind_name(s.kind)), ", ", q(s.tag), "]");
    case Op::kCancelNursery:
      return "[\"cancel_nursery\"]";
    case Op::kScope:
      return absl::StrCat("[\"scope\", ", s.id, ", ",
                          s.deadline ? absl::StrCat(*s.deadline) : "null", ", ",
                          s.shield ? "true" : "false", ", ", s.precancel ? "true" : "false", ", ",
                          to_json(s.body), "]");
    case Op::kNursery:
      return absl::StrCat("[\"nursery\", ", s.id, ", ", to_json(s.body), ", [",
                          absl::StrJoin(s.children, ", ", json), "]]");
    case Op::kCatchCancelled:
      return absl::StrCat("[\"catch_cancelled\", ", to_json(s.body), ", ", to_json(s.handler), "]");
    case Op::kCatch:
      return absl::StrCat("[\"catch\", ", q(kind_name(s.kind)), ", ", to_json(s.body), "]");
  }
  return "?";
}
inline std::string to_json(const Block& block) {
  const auto json = [](std::string* out, const Stmt& s) { out->append(to_json(s)); };
  return absl::StrCat("[", absl::StrJoin(block, ", ", json), "]");
}

// How rapidcheck prints a drawn program (a std::vector<Stmt>).
inline void showValue(const Stmt& stmt, std::ostream& os) { os << to_json(stmt); }

struct GenOptions {
  bool nurseries = true;  // false: single-task programs
  int max_statements = 20;
  // Sleeps and deadlines of 0–3 ticks, so that wake-ups coincide, and more nurseries, raises and
  // cancel_nursery: programs with races.
  bool race_prone = false;
};

namespace gen_detail {

inline constexpr int kMaxDepth = 4;

// Uniform in [lo, hi) whatever rapidcheck's size (inRange alone is size-scaled); shrinks to lo.
inline rc::Gen<int> uniform(int lo, int hi) {
  return rc::gen::resize(rc::kNominalSize, rc::gen::inRange(lo, hi));
}

inline rc::Gen<int> ticks(const GenOptions& opt) {
  static constexpr int kTicks[] = {0, 0, 1, 2, 3, 5, 8, 13, 21, 34, 55, 89, 144};
  if (opt.race_prone) return uniform(0, 4);
  return rc::gen::map(uniform(0, static_cast<int>(std::size(kTicks))),
                      [](int i) { return kTicks[i]; });
}

inline rc::Gen<ErrKind> err_kind() {
  return rc::gen::map(uniform(0, 2),
                      [](int i) { return i ? ErrKind::kKeyError : ErrKind::kValueError; });
}

inline Stmt leaf(Op op, int ticks = 0) {
  Stmt s;
  s.op = op;
  s.ticks = ticks;
  return s;
}

inline rc::Gen<Block> block(GenOptions opt, int depth, bool in_nursery);

// One statement of a block at `depth`. Earlier ops are what shrinking moves towards (sleep).
inline rc::Gen<Stmt> stmt(GenOptions opt, int depth, bool in_nursery) {
  std::vector<std::pair<int, Op>> ops = {
      {6, Op::kSleep}, {1, Op::kLog}, {opt.race_prone ? 2 : 1, Op::kRaise}};
  if (in_nursery) ops.push_back({opt.race_prone ? 3 : 2, Op::kCancelNursery});
  if (depth < kMaxDepth) {
    ops.push_back({5, Op::kScope});
    if (opt.nurseries) ops.push_back({opt.race_prone ? 5 : 3, Op::kNursery});
    ops.push_back({2, Op::kCatchCancelled});
    ops.push_back({2, Op::kCatch});
  }
  int total = 0;
  for (const auto& [w, op] : ops) total += w;
  return rc::gen::mapcat(uniform(0, total), [=](int pick) -> rc::Gen<Stmt> {
    Op op = ops.back().second;
    for (const auto& [w, o] : ops) {
      if (pick < w) {
        op = o;
        break;
      }
      pick -= w;
    }
    const int inner = depth + 1;
    switch (op) {
      case Op::kSleep:
        return rc::gen::map(ticks(opt), [](int t) { return leaf(Op::kSleep, t); });
      case Op::kLog:
      case Op::kCancelNursery:
        return rc::gen::just(leaf(op));
      case Op::kRaise:
        return rc::gen::map(err_kind(), [](ErrKind k) {
          Stmt s = leaf(Op::kRaise);
          s.kind = k;
          return s;
        });
      case Op::kScope:
        return rc::gen::map(rc::gen::tuple(uniform(0, 2), ticks(opt), uniform(0, 4), uniform(0, 6),
                                           block(opt, inner, in_nursery)),
                            [](std::tuple<int, int, int, int, Block> t) {
                              Stmt s = leaf(Op::kScope);
                              if (std::get<0>(t)) s.deadline = std::get<1>(t);
                              s.shield = std::get<2>(t) == 3;     // 1 in 4
                              s.precancel = std::get<3>(t) == 5;  // 1 in 6
                              s.body = std::move(std::get<4>(t));
                              return s;
                            });
      case Op::kNursery:
        return rc::gen::map(
            rc::gen::pair(
                rc::gen::resize(3, rc::gen::container<std::vector<Block>>(block(opt, inner, true))),
                block(opt, inner, true)),
            [](std::pair<std::vector<Block>, Block> p) {
              Stmt s = leaf(Op::kNursery);
              s.children = std::move(p.first);
              s.body = std::move(p.second);
              return s;
            });
      case Op::kCatchCancelled:
        return rc::gen::map(
            rc::gen::tuple(block(opt, inner, in_nursery), uniform(0, 3), ticks(opt)),
            [](std::tuple<Block, int, int> t) {
              Stmt s = leaf(Op::kCatchCancelled);
              s.body = std::move(std::get<0>(t));
              s.handler.push_back(leaf(Op::kLog));
              if (std::get<1>(t) == 2) s.handler.push_back(leaf(Op::kSleep, std::get<2>(t)));
              return s;
            });
      case Op::kCatch:
        return rc::gen::map(rc::gen::pair(err_kind(), block(opt, inner, in_nursery)),
                            [](std::pair<ErrKind, Block> p) {
                              Stmt s = leaf(Op::kCatch);
                              s.kind = p.first;
                              s.body = std::move(p.second);
                              return s;
                            });
    }
    return rc::gen::just(leaf(Op::kLog));
  });
}

// 0–4 statements (0–2 in the deepest blocks); shrinking removes any of them.
inline rc::Gen<Block> block(GenOptions opt, int depth, bool in_nursery) {
  return rc::gen::lazy([=] {
    return rc::gen::resize(depth < 3 ? 4 : 2,
                           rc::gen::container<Block>(stmt(opt, depth, in_nursery)));
  });
}

// Keeps the first `left` statements in pre-order (a handler's statements are not counted).
inline void trim(Block& b, int& left) {
  size_t keep = 0;
  for (Stmt& s : b) {
    if (left == 0) break;
    --left;
    ++keep;
    trim(s.body, left);
    for (Block& c : s.children) trim(c, left);
  }
  b.resize(keep);
}

// Ids and tags in pre-order: scopes and nurseries get ids, logs L<n>, raises E<n>, handlers H<n>.
inline void number(Block& b, int& next) {
  for (Stmt& s : b) {
    switch (s.op) {
      case Op::kLog:
        s.tag = absl::StrCat("L", ++next);
        break;
      case Op::kRaise:
        s.tag = absl::StrCat("E", ++next);
        break;
      case Op::kScope:
      case Op::kNursery:
        s.id = ++next;
        break;
      default:
        break;
    }
    number(s.body, next);
    for (Block& c : s.children) number(c, next);
    for (Stmt& h : s.handler)
      if (h.op == Op::kLog) h.tag = absl::StrCat("H", ++next);
  }
}

}  // namespace gen_detail

// A whole program: a non-empty top-level block of the main task.
inline rc::Gen<Block> program(GenOptions opt) {
  return rc::gen::map(rc::gen::suchThat(gen_detail::block(opt, 0, false),
                                        [](const Block& b) { return !b.empty(); }),
                      [opt](Block b) {
                        int left = opt.max_statements, next = 0;
                        gen_detail::trim(b, left);
                        gen_detail::number(b, next);
                        return b;
                      });
}

}  // namespace trio::cancel_model

#endif  // TRIO_RUNTIME_TESTING_CANCEL_PROP_GEN_H_
