#include "tests/support/linearizability_checker.h"

#include <algorithm>
#include <map>
#include <optional>
#include <unordered_map>
#include <unordered_set>
#include <utility>

namespace corvus::testing {

namespace {

std::uint64_t mix(std::uint64_t x) {  // splitmix64's finalizer
  x += 0x9E3779B97F4A7C15ULL;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
  return x ^ (x >> 31);
}

// The model state of one key.
//   absent:            `index` is a floor: every later version's index is greater.
//   present, exact:    the version has index `index`.
//   present, !exact:   written by an operation with an unknown outcome, so its index
//                      is only known to be greater than `index`; the first operation
//                      that reports it fixes it.
struct State {
  bool present = false;
  bool exact = true;
  std::uint32_t value = 0;  // interned; 0 = none
  std::uint64_t index = 0;
};

// One operation of one key, values interned.
struct KeyOp {
  const CmpXchgOp* op = nullptr;
  bool definite = true;
  std::uint32_t value = 0;     // Put: the value written
  std::uint32_t observed = 0;  // when op->found
  // Whether the operation is part of the memo key; see Search.
  bool memoized = true;
};

// The register model of one key. Besides the rules of the header it knows, from
// the history, which value each reported index belongs to: indexes are unique per
// version, so a version written by an operation with an unknown outcome cannot take
// an index that the history shows belonged to another value. That is implied by any
// valid linearization, so it only prunes; it also lets check_key drop unknown
// writes nobody observed (see there).
class Model {
 public:
  explicit Model(std::unordered_map<std::uint64_t, std::uint32_t> value_of_index)
      : value_of_index_(std::move(value_of_index)) {}

  // The state after `k` takes effect in `s`, or nullopt if `k` cannot be next.
  // For an operation with an unknown outcome this is the branch where it took
  // effect; "never happened" is the search leaving it out (and "happened but
  // failed" changes nothing, so it is the same branch).
  std::optional<State> step(const State& s, const KeyOp& k) const {
    const CmpXchgOp& op = *k.op;
    switch (op.kind) {
      case CmpXchgKind::Get:
        if (!op.found) return s.present ? std::nullopt : std::optional<State>(s);
        if (!s.present || s.value != k.observed) return std::nullopt;
        return observe(s, op.index);

      case CmpXchgKind::Put: {
        // The state with the version the put expects, if it can be the current one.
        std::optional<State> match;
        if (!s.present) {
          if (op.expected_index == 0) match = s;
        } else if (op.expected_index != 0) {
          match = observe(s, op.expected_index);
        }
        if (!k.definite) {
          if (!match) return std::nullopt;
          return State{true, false, k.value, match->index};  // new index > the previous one
        }
        if (op.successful) {
          if (!match || op.index <= match->index) return std::nullopt;
          return State{true, true, k.value, op.index};
        }
        return failed_write(s, k, match.has_value());
      }

      case CmpXchgKind::Delete: {
        std::optional<State> match;
        if (s.present && op.expected_index != 0) match = observe(s, op.expected_index);
        if (!k.definite) {
          if (!match) return std::nullopt;
          return State{false, true, 0, match->index};
        }
        if (op.successful) {
          // Either the delete's own Raft index or the deleted entry's: >= the latter.
          if (!match || op.index < match->index) return std::nullopt;
          return State{false, true, 0, op.index};
        }
        return failed_write(s, k, false);
      }
    }
    return std::nullopt;
  }

 private:
  // `s` with the index of its version fixed to `index`, or nullopt if it cannot be.
  std::optional<State> observe(State s, std::uint64_t index) const {
    if (!s.present) return std::nullopt;
    if (s.exact) return s.index == index ? std::optional<State>(s) : std::nullopt;
    if (index <= s.index) return std::nullopt;
    auto it = value_of_index_.find(index);
    if (it != value_of_index_.end() && it->second != s.value) return std::nullopt;
    s.exact = true;
    s.index = index;
    return s;
  }

  // A write that definitely failed is a read of the current version: its index and
  // value, or "absent" when no value was reported. `would_match`: for an absent key.
  std::optional<State> failed_write(const State& s, const KeyOp& k, bool would_match) const {
    const CmpXchgOp& op = *k.op;
    if (!s.present) {
      // The index reported for an absent key is not specified.
      if (would_match || op.found) return std::nullopt;
      return s;
    }
    if (!op.found || k.observed != s.value) return std::nullopt;
    auto seen = observe(s, op.index);
    if (!seen || op.expected_index == seen->index) return std::nullopt;
    return seen;
  }

  std::unordered_map<std::uint64_t, std::uint32_t> value_of_index_;
};

// The search for one key. Lowe's version of Wing & Gong: a doubly linked list of
// call and return events in time order; the next operation to linearize is a call
// that comes before the first return still in the list (it was invoked before the
// earliest pending operation completed). Linearizing lifts both events out of the
// list; reaching a return event means that operation had to be linearized already,
// so the search backtracks. An unknown outcome's return is at infinity: reaching
// one means every definite operation is placed, and the rest may never happen.
//
// Memo key: (linearized set, state), as 2x64-bit fingerprints (Zobrist hashing of
// the set, updated incrementally); a collision (probability ~ steps^2 / 2^128)
// could only prune a path, never accept a wrong history. Unknown writes with an
// expected index e > 0 are left out of the set: they can take effect only while the
// key's version has index e, so once linearized the key has moved past e and they
// are inert, exactly like the ones that never happened. Without this, every such
// write would double the configurations that follow it.
class Search {
 public:
  Search(Model model, std::vector<KeyOp> ops, std::vector<std::string> names, const CheckOptions& options)
      : model_(std::move(model)), ops_(std::move(ops)), names_(std::move(names)), options_(options) {
    build_list();
  }

  Linearizability run() {
    State state;  // absent, floor 0
    std::uint64_t lin_a = 0, lin_b = 0;
    std::vector<Frame> stack;
    int node = entries_[kHead].next;
    while (true) {
      if (node == tail_) return Linearizability::Linearizable;
      if (++steps_ > options_.budget_per_key || memo_.size() > options_.max_memo_entries) {
        return Linearizability::TooExpensive;
      }
      const Entry& e = entries_[node];
      if (e.call) {
        const KeyOp& k = ops_[e.op];
        if (auto next = model_.step(state, k)) {
          const std::uint64_t a = lin_a ^ (k.memoized ? zobrist(e.op, 1) : 0);
          const std::uint64_t b = lin_b ^ (k.memoized ? zobrist(e.op, 2) : 0);
          if (memo_.insert(fingerprint(a, b, *next)).second) {
            stack.push_back(Frame{node, state, lin_a, lin_b});
            state = *next;
            lin_a = a;
            lin_b = b;
            lift(e.op);
            node = entries_[kHead].next;
            continue;
          }
        }
        node = e.next;
        continue;
      }
      if (!ops_[e.op].definite) return Linearizability::Linearizable;
      note_dead_end(stack, state, node);
      if (stack.empty()) return Linearizability::NotLinearizable;
      const Frame f = stack.back();
      stack.pop_back();
      state = f.state;
      lin_a = f.lin_a;
      lin_b = f.lin_b;
      unlift(entries_[f.node].op);
      node = entries_[f.node].next;
    }
  }

  std::size_t steps() const { return steps_; }

  // Where the search got furthest: the linearized prefix, the state, and the
  // operation that could not be placed before it completed.
  std::string explain() const {
    std::string out = "longest linearizable prefix: " + std::to_string(best_depth_) + " of " +
                      std::to_string(ops_.size()) + " operations";
    if (!best_tail_.empty()) out += ", ending with\n";
    for (int i : best_tail_) out += "    " + describe(*ops_[i].op) + "\n";
    out += "  state then: " + describe_state(best_state_) + "\n";
    if (best_blocker_ >= 0) {
      out += "  and this operation could not take effect before it completed:\n    " +
             describe(*ops_[best_blocker_].op) + "\n";
    }
    if (!best_candidates_.empty()) out += "  other operations that could have come next:\n";
    for (int i : best_candidates_) out += "    " + describe(*ops_[i].op) + "\n";
    return out;
  }

 private:
  static constexpr int kHead = 0;
  static constexpr std::size_t kShown = 8;

  struct Entry {
    int op = -1;
    bool call = false;
    int prev = -1;
    int next = -1;
  };
  struct Frame {
    int node;  // the call entry of the operation linearized
    State state;
    std::uint64_t lin_a, lin_b;
  };
  struct Fingerprint {
    std::uint64_t a, b;
    bool operator==(const Fingerprint&) const = default;
  };
  struct FingerprintHash {
    std::size_t operator()(const Fingerprint& f) const { return static_cast<std::size_t>(f.a); }
  };

  void build_list() {
    struct Event {
      std::uint64_t time;
      bool ret;
      int op;
    };
    std::vector<Event> events;
    for (std::size_t i = 0; i < ops_.size(); ++i) {
      const CmpXchgOp& op = *ops_[i].op;
      events.push_back({op.invoke, false, static_cast<int>(i)});
      events.push_back({ops_[i].definite ? op.complete : kNotCompleted, true, static_cast<int>(i)});
    }
    // At equal times calls come first: the two operations count as concurrent,
    // which can only accept more histories, never flag a correct one.
    std::stable_sort(events.begin(), events.end(), [](const Event& x, const Event& y) {
      return x.time != y.time ? x.time < y.time : (!x.ret && y.ret);
    });
    entries_.assign(events.size() + 2, Entry{});
    tail_ = static_cast<int>(events.size()) + 1;
    call_node_.assign(ops_.size(), -1);
    return_node_.assign(ops_.size(), -1);
    for (std::size_t i = 0; i < events.size(); ++i) {
      const int n = static_cast<int>(i) + 1;
      entries_[n] = Entry{events[i].op, !events[i].ret, n - 1, n + 1};
      (events[i].ret ? return_node_ : call_node_)[events[i].op] = n;
    }
    entries_[kHead].next = 1;
    entries_[tail_].prev = tail_ - 1;
  }

  void remove(int n) {
    entries_[entries_[n].prev].next = entries_[n].next;
    entries_[entries_[n].next].prev = entries_[n].prev;
  }
  void restore(int n) {
    entries_[entries_[n].prev].next = n;
    entries_[entries_[n].next].prev = n;
  }
  void lift(int op) {
    remove(call_node_[op]);
    remove(return_node_[op]);
  }
  void unlift(int op) {  // the reverse of lift, so the links come back exactly
    restore(return_node_[op]);
    restore(call_node_[op]);
  }

  static std::uint64_t zobrist(int op, std::uint64_t lane) { return mix((static_cast<std::uint64_t>(op) << 2) | lane); }
  static Fingerprint fingerprint(std::uint64_t a, std::uint64_t b, const State& s) {
    const std::uint64_t w = static_cast<std::uint64_t>(s.present) | (static_cast<std::uint64_t>(s.exact) << 1) |
                            (static_cast<std::uint64_t>(s.value) << 2);
    return Fingerprint{a ^ mix(w ^ mix(s.index)), b ^ mix(mix(w + 0x632BE59BD9B4E019ULL) ^ s.index)};
  }

  void note_dead_end(const std::vector<Frame>& stack, const State& state, int return_node) {
    if (best_blocker_ >= 0 && stack.size() <= best_depth_) return;
    best_depth_ = stack.size();
    best_state_ = state;
    best_blocker_ = entries_[return_node].op;
    best_tail_.clear();
    for (std::size_t i = stack.size() > kShown ? stack.size() - kShown : 0; i < stack.size(); ++i) {
      best_tail_.push_back(entries_[stack[i].node].op);
    }
    best_candidates_.clear();
    for (int n = entries_[kHead].next; n != return_node && best_candidates_.size() < kShown; n = entries_[n].next) {
      if (entries_[n].op != best_blocker_) best_candidates_.push_back(entries_[n].op);
    }
  }

  std::string describe_state(const State& s) const {
    if (!s.present) return "absent (any new index > " + std::to_string(s.index) + ")";
    return "\"" + names_[s.value] + "\" " +
           (s.exact ? "index " + std::to_string(s.index) : "index unknown, > " + std::to_string(s.index));
  }

  Model model_;
  std::vector<KeyOp> ops_;
  std::vector<std::string> names_;  // interned values
  CheckOptions options_;
  std::size_t steps_ = 0;
  std::vector<Entry> entries_;
  int tail_ = 0;
  std::vector<int> call_node_, return_node_;
  std::unordered_set<Fingerprint, FingerprintHash> memo_;

  std::size_t best_depth_ = 0;
  int best_blocker_ = -1;
  State best_state_;
  std::vector<int> best_tail_, best_candidates_;
};

// Prepares one key's operations and searches them.
//   - A read that may not have happened tells nothing. A delete expecting 0 never
//     succeeds, so with an unknown outcome it has no effect either way.
//   - An unknown put whose value no operation reports can be left out when every
//     index that writes of the key expect is known to belong to some value: had it
//     taken effect, nothing could follow it (a read or a failure would report its
//     value, a write would have to expect its index, which is another value's), so
//     it could only have been last, which is the same as never. The fault test's
//     clients learn indexes only from answers, so this drops most unknown puts.
KeyVerdict check_key(const std::string& key, const std::vector<const CmpXchgOp*>& history,
                     const CheckOptions& options) {
  KeyVerdict v;
  v.key = key;
  std::unordered_map<std::string, std::uint32_t> ids;
  std::vector<std::string> names = {""};
  auto intern = [&](const std::string& s) {
    auto [it, added] = ids.emplace(s, static_cast<std::uint32_t>(names.size()));
    if (added) names.push_back(s);
    return it->second;
  };

  std::unordered_map<std::uint64_t, std::uint32_t> value_of_index;
  std::unordered_set<std::uint32_t> known_values;
  for (const CmpXchgOp* op : history) {
    if (op->complete == kNotCompleted) continue;
    std::optional<std::uint32_t> value;
    if (op->kind == CmpXchgKind::Put && op->successful) value = intern(op->value);
    if (op->found && (op->kind == CmpXchgKind::Get || !op->successful)) value = intern(op->observed);
    if (value) {
      value_of_index.emplace(op->index, *value);  // a second, different value makes the history fail anyway
      known_values.insert(*value);
    }
  }
  bool expectations_known = true;
  for (const CmpXchgOp* op : history) {
    if (op->kind != CmpXchgKind::Get && op->expected_index != 0 && !value_of_index.contains(op->expected_index)) {
      expectations_known = false;
    }
  }

  std::vector<KeyOp> ops;
  for (const CmpXchgOp* op : history) {
    KeyOp k;
    k.op = op;
    k.definite = op->complete != kNotCompleted;
    if (op->kind == CmpXchgKind::Put) k.value = intern(op->value);
    if (!k.definite) {
      if (op->kind == CmpXchgKind::Get) continue;
      if (op->kind == CmpXchgKind::Delete && op->expected_index == 0) continue;
      if (op->kind == CmpXchgKind::Put && expectations_known && !known_values.contains(k.value)) {
        ++v.dropped;
        continue;
      }
      k.memoized = op->expected_index == 0;
      ++v.unknown;
    }
    if (k.definite && op->found) k.observed = intern(op->observed);
    ops.push_back(k);
  }
  v.ops = ops.size();
  Search search(Model(std::move(value_of_index)), std::move(ops), std::move(names), options);
  v.result = search.run();
  v.steps = search.steps();
  if (v.result == Linearizability::NotLinearizable) {
    v.explanation = "key " + key + ": no linearization; " + search.explain();
  } else if (v.result == Linearizability::TooExpensive) {
    v.explanation = "key " + key + ": search budget exhausted after " + std::to_string(v.steps) + " steps (" +
                    std::to_string(v.ops) + " operations, " + std::to_string(v.unknown) + " unknown)";
  }
  return v;
}

// The cross-key rules on successful puts; see the header.
void check_put_indexes(const std::vector<CmpXchgOp>& ops, std::vector<std::string>& violations) {
  constexpr std::size_t kMaxReported = 10;
  std::vector<const CmpXchgOp*> puts;
  for (const auto& op : ops) {
    if (op.kind == CmpXchgKind::Put && op.complete != kNotCompleted && op.successful) puts.push_back(&op);
  }
  std::map<std::uint64_t, const CmpXchgOp*> by_index;
  std::size_t reported = 0;
  for (const CmpXchgOp* p : puts) {
    auto [it, added] = by_index.emplace(p->index, p);
    if (!added && reported++ < kMaxReported) {
      violations.push_back("two successful puts report index " + std::to_string(p->index) + ":\n    " +
                           describe(*it->second) + "\n    " + describe(*p));
    }
  }
  // Sweep the puts in invoke order, keeping the greatest index among those that
  // completed before the current one was invoked.
  std::vector<const CmpXchgOp*> by_complete = puts;
  std::sort(puts.begin(), puts.end(), [](auto* x, auto* y) { return x->invoke < y->invoke; });
  std::sort(by_complete.begin(), by_complete.end(), [](auto* x, auto* y) { return x->complete < y->complete; });
  const CmpXchgOp* greatest = nullptr;
  std::size_t next = 0;
  reported = 0;
  for (const CmpXchgOp* p : puts) {
    for (; next < by_complete.size() && by_complete[next]->complete < p->invoke; ++next) {
      if (!greatest || by_complete[next]->index > greatest->index) greatest = by_complete[next];
    }
    if (greatest && greatest->index >= p->index && reported++ < kMaxReported) {
      violations.push_back("a put invoked after another put completed got a smaller index:\n    " +
                           describe(*greatest) + "\n    " + describe(*p));
    }
  }
}

}  // namespace

const char* to_string(Linearizability l) {
  switch (l) {
    case Linearizability::Linearizable: return "Linearizable";
    case Linearizability::NotLinearizable: return "NotLinearizable";
    case Linearizability::TooExpensive: return "TooExpensive";
  }
  return "?";
}

HistoryVerdict check_cmpxchg_history(const std::vector<CmpXchgOp>& ops, const CheckOptions& options) {
  HistoryVerdict verdict;
  std::map<std::string, std::vector<const CmpXchgOp*>> by_key;
  for (const auto& op : ops) {
    if (op.complete != kNotCompleted && op.complete < op.invoke) {
      verdict.violations.push_back("malformed operation, completed before it was invoked:\n    " + describe(op));
      continue;
    }
    by_key[op.key].push_back(&op);
  }
  check_put_indexes(ops, verdict.violations);
  bool too_expensive = false;
  for (const auto& [key, history] : by_key) {
    verdict.keys.push_back(check_key(key, history, options));
    const KeyVerdict& k = verdict.keys.back();
    verdict.ops_checked += k.ops;
    if (k.result == Linearizability::NotLinearizable) verdict.violations.push_back(k.explanation);
    if (k.result == Linearizability::TooExpensive) too_expensive = true;
  }
  verdict.result = !verdict.violations.empty() ? Linearizability::NotLinearizable
                   : too_expensive             ? Linearizability::TooExpensive
                                               : Linearizability::Linearizable;
  return verdict;
}

std::string HistoryVerdict::summary() const {
  std::string out = std::string(to_string(result)) + ": " + std::to_string(ops_checked) + " operations checked on " +
                    std::to_string(keys.size()) + " keys\n";
  for (const auto& k : keys) {
    out += "  key " + k.key + ": " + to_string(k.result) + ", " + std::to_string(k.ops) + " ops (" +
           std::to_string(k.unknown) + " unknown writes; " + std::to_string(k.dropped) +
           " unobserved unknown writes left out), " + std::to_string(k.steps) + " search steps\n";
    if (k.result == Linearizability::TooExpensive) out += "  " + k.explanation + "\n";
  }
  for (const auto& v : violations) out += "VIOLATION " + v + "\n";
  return out;
}

std::string describe(const CmpXchgOp& op) {
  const bool definite = op.complete != kNotCompleted;
  std::string out = "[" + std::to_string(op.invoke) + ", " + (definite ? std::to_string(op.complete) : "?") + "] ";
  if (op.client >= 0) out += "c" + std::to_string(op.client) + " ";
  switch (op.kind) {
    case CmpXchgKind::Get: out += "get(" + op.key + ")"; break;
    case CmpXchgKind::Put:
      out += "put(" + op.key + ", expected " + std::to_string(op.expected_index) + ", \"" + op.value + "\")";
      break;
    case CmpXchgKind::Delete:
      out += "delete(" + op.key + ", expected " + std::to_string(op.expected_index) + ")";
      break;
  }
  if (!definite) return out + " -> unknown";
  if (op.kind == CmpXchgKind::Get) {
    return out + (op.found ? " -> \"" + op.observed + "\" index " + std::to_string(op.index) : " -> absent");
  }
  out += (op.successful ? " -> ok, index " : " -> failed, index ") + std::to_string(op.index);
  if (!op.successful && op.found) out += ", current \"" + op.observed + "\"";
  return out;
}

}  // namespace corvus::testing
