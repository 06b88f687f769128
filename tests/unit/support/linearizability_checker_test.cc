// Checks the compare-exchange linearizability checker: the fault test is only as
// good as its verdict. Hand-written histories for each rule, then random histories
// produced by a real register (linearizable by construction) at the sizes the
// fault test records, with and without an injected stale read.

#include "tests/support/linearizability_checker.h"

#include <map>
#include <random>

#include <doctest/doctest.h>

namespace corvus::testing {
namespace {

using L = Linearizability;

CmpXchgOp put(const std::string& key, std::uint64_t expected, const std::string& value, std::uint64_t invoke,
              std::uint64_t complete, bool ok, std::uint64_t index, const std::string& current = "") {
  CmpXchgOp op;
  op.key = key;
  op.kind = CmpXchgKind::Put;
  op.expected_index = expected;
  op.value = value;
  op.invoke = invoke;
  op.complete = complete;
  op.successful = ok;
  op.index = index;
  op.found = !current.empty();
  op.observed = current;
  return op;
}

CmpXchgOp del(const std::string& key, std::uint64_t expected, std::uint64_t invoke, std::uint64_t complete, bool ok,
              std::uint64_t index, const std::string& current = "") {
  CmpXchgOp op = put(key, expected, "", invoke, complete, ok, index, current);
  op.kind = CmpXchgKind::Delete;
  return op;
}

CmpXchgOp get(const std::string& key, std::uint64_t invoke, std::uint64_t complete, const std::string& value = "",
              std::uint64_t index = 0) {
  CmpXchgOp op;
  op.key = key;
  op.invoke = invoke;
  op.complete = complete;
  op.found = !value.empty();
  op.observed = value;
  op.index = index;
  return op;
}

CmpXchgOp unknown_put(const std::string& key, std::uint64_t expected, const std::string& value, std::uint64_t invoke) {
  return put(key, expected, value, invoke, kNotCompleted, false, 0);
}

CmpXchgOp unknown_del(const std::string& key, std::uint64_t expected, std::uint64_t invoke) {
  return del(key, expected, invoke, kNotCompleted, false, 0);
}

// CHECK_VERDICT(expected, {ops...}): the checker's verdict, with its explanation
// when it is not the expected one.
#define CHECK_VERDICT(expected, ...)                                                     \
  do {                                                                                   \
    const HistoryVerdict v_ = check_cmpxchg_history(std::vector<CmpXchgOp> __VA_ARGS__); \
    CHECK_MESSAGE(v_.result == (expected), v_.summary());                                \
  } while (0)

TEST_CASE("linearizability checker: sequential histories with RavenDB semantics") {
  SUBCASE("create, read, update with the current index, delete, create again") {
    CHECK_VERDICT(L::Linearizable,
                  {get("k", 1, 2), put("k", 0, "a", 3, 4, true, 5), get("k", 5, 6, "a", 5),
                   put("k", 5, "b", 7, 8, true, 9), get("k", 9, 10, "b", 9), del("k", 9, 11, 12, true, 13),
                   get("k", 13, 14), put("k", 0, "c", 15, 16, true, 20), get("k", 17, 18, "c", 20)});
  }
  SUBCASE("failed writes report the current index and value") {
    CHECK_VERDICT(L::Linearizable, {put("k", 0, "a", 1, 2, true, 5), put("k", 0, "b", 3, 4, false, 5, "a"),
                                    put("k", 4, "b", 5, 6, false, 5, "a"), del("k", 7, 7, 8, false, 5, "a")});
    // Wrong current index, wrong current value, absent while present, present while absent.
    CHECK_VERDICT(L::NotLinearizable, {put("k", 0, "a", 1, 2, true, 5), put("k", 0, "b", 3, 4, false, 6, "a")});
    CHECK_VERDICT(L::NotLinearizable, {put("k", 0, "a", 1, 2, true, 5), put("k", 0, "b", 3, 4, false, 5, "z")});
    CHECK_VERDICT(L::NotLinearizable, {put("k", 0, "a", 1, 2, true, 5), del("k", 3, 3, 4, false, 5)});
    CHECK_VERDICT(L::NotLinearizable, {put("k", 3, "a", 1, 2, false, 5, "a")});
  }
  SUBCASE("a write whose expected index matches must succeed") {
    CHECK_VERDICT(L::NotLinearizable, {put("k", 0, "a", 1, 2, true, 5), put("k", 5, "b", 3, 4, false, 5, "a")});
    CHECK_VERDICT(L::NotLinearizable, {put("k", 0, "a", 1, 2, false, 0)});  // create on an absent key
    CHECK_VERDICT(L::NotLinearizable, {put("k", 0, "a", 1, 2, true, 5), del("k", 5, 3, 4, false, 5, "a")});
  }
  SUBCASE("a write on an absent key with an index other than 0 fails; any index may be reported") {
    CHECK_VERDICT(L::Linearizable, {put("k", 3, "a", 1, 2, false, 0), del("k", 3, 3, 4, false, 77), get("k", 5, 6)});
    CHECK_VERDICT(L::NotLinearizable, {put("k", 3, "a", 1, 2, true, 4)});
    CHECK_VERDICT(L::NotLinearizable, {del("k", 3, 1, 2, true, 4)});
  }
  SUBCASE("a new index must be greater than every earlier index of the key") {
    CHECK_VERDICT(L::NotLinearizable, {put("k", 0, "a", 1, 2, true, 5), put("k", 5, "b", 3, 4, true, 5)});
    CHECK_VERDICT(L::NotLinearizable, {put("k", 0, "a", 1, 2, true, 5), put("k", 5, "b", 3, 4, true, 3)});
    // After a delete too.
    CHECK_VERDICT(L::NotLinearizable,
                  {put("k", 0, "a", 1, 2, true, 5), del("k", 5, 3, 4, true, 6), put("k", 0, "b", 5, 6, true, 6)});
    // A successful delete may report its own index or the deleted entry's, not less.
    CHECK_VERDICT(L::Linearizable, {put("k", 0, "a", 1, 2, true, 5), del("k", 5, 3, 4, true, 5)});
    CHECK_VERDICT(L::NotLinearizable, {put("k", 0, "a", 1, 2, true, 5), del("k", 5, 3, 4, true, 4)});
  }
  SUBCASE("a read reports the index of the value's write") {
    CHECK_VERDICT(L::NotLinearizable, {put("k", 0, "a", 1, 2, true, 5), get("k", 3, 4, "a", 6)});
  }
}

TEST_CASE("linearizability checker: classic violations") {
  SUBCASE("stale read after a completed write") {
    CHECK_VERDICT(L::NotLinearizable,
                  {put("k", 0, "a", 1, 2, true, 5), put("k", 5, "b", 3, 4, true, 7), get("k", 5, 6, "a", 5)});
    CHECK_VERDICT(L::NotLinearizable, {put("k", 0, "a", 1, 2, true, 5), get("k", 3, 4)});  // absent
    CHECK_VERDICT(L::NotLinearizable,
                  {put("k", 0, "a", 1, 2, true, 5), del("k", 5, 3, 4, true, 7), get("k", 5, 6, "a", 5)});
  }
  SUBCASE("two successful creates of the same key") {
    CHECK_VERDICT(L::NotLinearizable, {put("k", 0, "a", 1, 2, true, 5), put("k", 0, "b", 3, 4, true, 7)});
    CHECK_VERDICT(L::NotLinearizable, {put("k", 0, "a", 1, 10, true, 5), put("k", 0, "b", 2, 9, true, 7)});
    // Unless a delete came between them.
    CHECK_VERDICT(L::Linearizable,
                  {put("k", 0, "a", 1, 10, true, 5), put("k", 0, "b", 2, 9, true, 7), del("k", 5, 3, 8, true, 6)});
  }
  SUBCASE("lost acknowledged write") {
    // Acknowledged, then the key reads as before it.
    CHECK_VERDICT(L::NotLinearizable,
                  {put("k", 0, "a", 1, 2, true, 5), put("k", 5, "b", 3, 4, true, 8), get("k", 9, 10, "a", 5)});
    // Acknowledged, then a write expecting its index is refused with the old one.
    CHECK_VERDICT(L::NotLinearizable, {put("k", 0, "a", 1, 2, true, 5), put("k", 5, "b", 3, 4, true, 8),
                                       put("k", 8, "c", 5, 6, false, 5, "a")});
  }
  SUBCASE("read of a value never written") {
    CHECK_VERDICT(L::NotLinearizable, {put("k", 0, "a", 1, 2, true, 5), get("k", 3, 4, "ghost", 5)});
    CHECK_VERDICT(L::NotLinearizable, {get("k", 1, 2, "ghost", 3)});
  }
  SUBCASE("values cannot flip back under concurrency") {
    // Each read is concurrent with the write, but the second read is after the first.
    CHECK_VERDICT(L::NotLinearizable, {put("k", 0, "a", 1, 2, true, 5), put("k", 5, "b", 3, 20, true, 7),
                                       get("k", 4, 5, "b", 7), get("k", 6, 7, "a", 5)});
  }
}

TEST_CASE("linearizability checker: concurrent operations may take effect in either order") {
  const auto a = put("k", 0, "a", 1, 2, true, 5);
  CHECK_VERDICT(L::Linearizable, {a, put("k", 5, "b", 3, 10, true, 7), get("k", 4, 5, "a", 5)});
  CHECK_VERDICT(L::Linearizable, {a, put("k", 5, "b", 3, 10, true, 7), get("k", 4, 5, "b", 7)});
  // Two concurrent writes expecting the same index: one wins, the other sees it.
  CHECK_VERDICT(L::Linearizable, {a, put("k", 5, "b", 3, 10, true, 7), put("k", 5, "c", 4, 9, false, 7, "b")});
  CHECK_VERDICT(L::NotLinearizable, {a, put("k", 5, "b", 3, 10, true, 7), put("k", 5, "c", 4, 9, true, 8)});
  // Answered at the instant the read was sent: concurrent, either order.
  CHECK_VERDICT(L::Linearizable, {a, put("k", 5, "b", 3, 6, true, 7), get("k", 6, 8, "a", 5)});
  // Order follows the indexes: c (8) after b (7) here, even though c finished first.
  CHECK_VERDICT(L::Linearizable,
                {a, put("k", 5, "b", 3, 10, true, 7), put("k", 7, "c", 4, 9, true, 8), get("k", 11, 12, "c", 8)});
}

TEST_CASE("linearizability checker: writes with an unknown outcome, both ways") {
  const auto a = put("k", 0, "a", 1, 2, true, 5);
  SUBCASE("it took effect: a later read reveals its index, a write expects it") {
    CHECK_VERDICT(L::Linearizable,
                  {a, unknown_put("k", 5, "b", 3), get("k", 10, 11, "b", 9), put("k", 9, "c", 12, 13, true, 14)});
    // A write's failure reveals it too.
    CHECK_VERDICT(L::Linearizable, {a, unknown_put("k", 5, "b", 3), put("k", 5, "c", 10, 11, false, 9, "b")});
    // Its index must be above the one it replaced.
    CHECK_VERDICT(L::NotLinearizable, {a, unknown_put("k", 5, "b", 3), get("k", 10, 11, "b", 4)});
  }
  SUBCASE("it took effect, revealed only by a write expecting its index") {
    const std::vector<CmpXchgOp> ops = {a, unknown_put("k", 5, "b", 3), put("k", 9, "c", 10, 11, true, 14)};
    const HistoryVerdict v = check_cmpxchg_history(ops);
    CHECK_MESSAGE(v.result == L::Linearizable, v.summary());
    REQUIRE(v.keys.size() == 1);
    CHECK(v.keys[0].dropped == 0);  // it explains the write expecting 9: it must stay in
  }
  SUBCASE("it never happened") {
    CHECK_VERDICT(L::Linearizable,
                  {a, unknown_put("k", 5, "b", 3), get("k", 10, 11, "a", 5), put("k", 5, "c", 12, 13, true, 14)});
  }
  SUBCASE("one nobody could observe is left out") {
    const std::vector<CmpXchgOp> ops = {a, unknown_put("k", 5, "b", 3), get("k", 10, 11, "a", 5),
                                        put("k", 5, "c", 12, 13, true, 14)};
    const HistoryVerdict v = check_cmpxchg_history(ops);
    CHECK_MESSAGE(v.result == L::Linearizable, v.summary());
    REQUIRE(v.keys.size() == 1);
    CHECK(v.keys[0].dropped == 1);
    CHECK(v.keys[0].unknown == 0);
  }
  SUBCASE("it took effect long after it was invoked, then no going back") {
    CHECK_VERDICT(L::Linearizable,
                  {a, unknown_put("k", 5, "b", 3), get("k", 10, 11, "a", 5), get("k", 20, 21, "b", 30)});
    CHECK_VERDICT(L::NotLinearizable,
                  {a, unknown_put("k", 5, "b", 3), get("k", 10, 11, "b", 9), get("k", 20, 21, "a", 5)});
  }
  SUBCASE("it cannot take effect once its expected index is gone") {
    CHECK_VERDICT(L::NotLinearizable,
                  {a, unknown_put("k", 5, "b", 3), put("k", 5, "c", 4, 6, true, 8), get("k", 10, 11, "b", 9)});
  }
  SUBCASE("an unknown create may take effect in a later absent window") {
    CHECK_VERDICT(L::Linearizable, {unknown_put("k", 0, "x", 1), put("k", 0, "a", 2, 3, true, 5),
                                    del("k", 5, 4, 5, true, 6), get("k", 10, 11, "x", 12)});
    // ...but not while the key exists.
    CHECK_VERDICT(L::NotLinearizable,
                  {unknown_put("k", 0, "x", 1), put("k", 0, "a", 2, 3, true, 5), get("k", 10, 11, "x", 12)});
  }
  SUBCASE("unknown deletes") {
    CHECK_VERDICT(L::Linearizable, {a, unknown_del("k", 5, 3), get("k", 10, 11)});
    CHECK_VERDICT(L::Linearizable, {a, unknown_del("k", 5, 3), get("k", 10, 11, "a", 5)});
    CHECK_VERDICT(L::NotLinearizable, {a, unknown_del("k", 5, 3), get("k", 10, 11), get("k", 12, 13, "a", 5)});
    CHECK_VERDICT(L::NotLinearizable, {a, unknown_del("k", 4, 3), get("k", 10, 11)});  // wrong index
  }
  SUBCASE("a read with an unknown outcome tells nothing") {
    CHECK_VERDICT(L::Linearizable, {a, get("k", 3, kNotCompleted, "never", 99)});
  }
}

TEST_CASE("linearizability checker: keys are independent; the verdict names the key") {
  const std::vector<CmpXchgOp> ops = {put("x", 0, "a", 1, 2, true, 5), put("y", 0, "b", 3, 4, true, 6),
                                      get("x", 5, 6, "a", 5), get("y", 7, 8)};
  const HistoryVerdict v = check_cmpxchg_history(ops);
  CHECK(v.result == L::NotLinearizable);
  REQUIRE(v.keys.size() == 2);
  CHECK(v.keys[0].key == "x");
  CHECK(v.keys[0].result == L::Linearizable);
  CHECK(v.keys[1].result == L::NotLinearizable);
  REQUIRE(v.violations.size() == 1);
  CHECK(v.violations[0].find("key y") != std::string::npos);
  CHECK(v.ops_checked == 4);
}

TEST_CASE("linearizability checker: indexes are Raft indexes across keys") {
  // Two successful puts with one index.
  CHECK_VERDICT(L::NotLinearizable, {put("x", 0, "a", 1, 2, true, 5), put("y", 0, "b", 3, 4, true, 5)});
  // A put invoked after another completed gets a greater index, whatever the key.
  CHECK_VERDICT(L::NotLinearizable, {put("x", 0, "a", 1, 2, true, 9), put("y", 0, "b", 3, 4, true, 7)});
  CHECK_VERDICT(L::Linearizable, {put("x", 0, "a", 1, 4, true, 9), put("y", 0, "b", 3, 5, true, 7)});
  // A malformed operation is reported.
  CHECK_VERDICT(L::NotLinearizable, {get("x", 5, 4)});
}

TEST_CASE("linearizability checker: a budget bounds the search") {
  std::vector<CmpXchgOp> ops;
  for (int i = 0; i < 20; ++i) ops.push_back(get("k", 1, 100));
  ops.push_back(put("k", 0, "a", 101, 102, true, 5));
  CheckOptions tiny;
  tiny.budget_per_key = 5;
  CHECK(check_cmpxchg_history(ops, tiny).result == L::TooExpensive);
  CHECK(check_cmpxchg_history(ops).result == L::Linearizable);
}

// A history of `n` operations on `keys` registers, linearizable by construction:
// each operation takes effect at its own instant inside [invoke, complete] on a
// real register. Writes have an unknown outcome with probability `unknown`; half
// of those took effect. Writes expect the index their client last learned from an
// answer, as the fault test's clients do, or (`omniscient`) the register's true
// index, which also reveals unknown writes nobody observed. Returns also a value
// that was certainly overwritten.
struct Generated {
  std::vector<CmpXchgOp> ops;
  std::string overwritten_key, overwritten_value;
};

Generated random_history(std::uint64_t seed, int n, int keys, double unknown, bool omniscient) {
  std::mt19937_64 rng(seed);
  auto chance = [&](double p) { return std::uniform_real_distribution<>(0, 1)(rng) < p; };
  struct Register {
    bool present = false;
    std::string value;
    std::uint64_t index = 0;
    std::vector<std::uint64_t> indexes;   // every index it had
    std::uint64_t learned = 0;            // the index the last answer showed (0: absent)
    std::vector<std::uint64_t> answered;  // every index answers showed
  };
  std::map<std::string, Register> regs;
  Generated g;
  std::uint64_t raft = 0;
  for (int j = 0; j < n; ++j) {
    const std::string key = "k" + std::to_string(rng() % keys);
    Register& r = regs[key];
    // Instants 100 apart, intervals up to 300 on each side: ~6 overlapping operations.
    const std::uint64_t at = 1000 + 100 * static_cast<std::uint64_t>(j);
    CmpXchgOp op;
    op.key = key;
    op.client = static_cast<int>(rng() % 8);
    op.invoke = at - rng() % 300;
    op.complete = at + rng() % 300;
    const auto kind = rng() % 20;
    if (kind < 8) {
      op.kind = CmpXchgKind::Get;
      op.found = r.present;
      op.observed = r.value;
      op.index = r.present ? r.index : 0;
      r.learned = op.index;
      if (r.present) r.answered.push_back(r.index);
      g.ops.push_back(op);
      continue;
    }
    op.kind = kind < 17 ? CmpXchgKind::Put : CmpXchgKind::Delete;
    const auto& known = omniscient ? r.indexes : r.answered;
    if (chance(0.7) || known.empty()) {
      op.expected_index = omniscient ? (r.present ? r.index : 0) : r.learned;
    } else if (chance(0.3)) {
      op.expected_index = 0;
    } else {
      op.expected_index = known[rng() % known.size()];
    }
    op.value = "v" + std::to_string(j);
    ++raft;  // every write is a Raft command, successful or not
    const bool matches = op.kind == CmpXchgKind::Put
                             ? (r.present ? op.expected_index == r.index : op.expected_index == 0)
                             : (r.present && op.expected_index == r.index);
    const bool lost = chance(unknown);
    if (lost) op.complete = kNotCompleted;
    if (lost && chance(0.5)) {
      g.ops.push_back(op);  // never happened
      continue;
    }
    op.successful = matches;
    if (matches) {
      if (r.present && !lost && op.kind == CmpXchgKind::Put) {
        g.overwritten_key = key;
        g.overwritten_value = r.value;
      }
      r.present = op.kind == CmpXchgKind::Put;
      r.value = r.present ? op.value : "";
      r.index = raft;
      r.indexes.push_back(raft);
      op.index = raft;
    } else {
      op.index = r.present ? r.index : 0;
      op.found = r.present;
      op.observed = r.value;
    }
    if (!lost) {
      r.learned = op.successful && op.kind == CmpXchgKind::Delete ? 0 : op.index;
      if (r.learned != 0) r.answered.push_back(r.learned);
    }
    g.ops.push_back(op);
  }
  return g;
}

TEST_CASE("linearizability checker: random histories of fault-test size") {
  for (std::uint64_t seed = 1; seed <= 6; ++seed) {
    const bool omniscient = seed > 4;
    CAPTURE(seed);
    CAPTURE(omniscient);
    const Generated g = random_history(seed, 3000, 5, seed % 2 ? 0.05 : 0.15, omniscient);
    const HistoryVerdict ok = check_cmpxchg_history(g.ops);
    CHECK_MESSAGE(ok.result == L::Linearizable, ok.summary());
    CHECK(ok.ops_checked > 2000);

    // A read after everything completed of a value that was overwritten.
    REQUIRE(!g.overwritten_value.empty());
    std::vector<CmpXchgOp> bad = g.ops;
    bad.push_back(get(g.overwritten_key, 1'000'000'000, 1'000'000'001, g.overwritten_value, 1));
    const HistoryVerdict v = check_cmpxchg_history(bad);
    CHECK_MESSAGE(v.result == L::NotLinearizable, v.summary());
  }
}

}  // namespace
}  // namespace corvus::testing
