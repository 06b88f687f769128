#include "tests/sim/linearizability.h"

#include <algorithm>
#include <unordered_set>

namespace corvus::rachis::sim {

namespace {

struct MemoKey {
  std::uint64_t mask;
  std::int64_t state;
  bool operator==(const MemoKey&) const = default;
};
struct MemoHash {
  std::size_t operator()(const MemoKey& k) const {
    return std::hash<std::uint64_t>()(k.mask * 0x9E3779B97F4A7C15ULL ^ static_cast<std::uint64_t>(k.state));
  }
};

class Search {
 public:
  explicit Search(const std::vector<Op>& ops, std::size_t budget) : ops_(ops), budget_(budget) {
    for (std::size_t i = 0; i < ops_.size(); ++i) {
      if (ops_[i].complete != kNever) required_ |= (1ULL << i);
    }
  }

  CheckResult run() {
    bool ok = dfs(0, 0);
    if (exhausted_) return CheckResult::TooExpensive;
    return ok ? CheckResult::Linearizable : CheckResult::NotLinearizable;
  }

 private:
  // Linearizes the operations not in `done`, starting from `state`. An operation
  // may come next only if it was invoked before every remaining operation
  // completed; indeterminate operations may also never happen at all.
  bool dfs(std::uint64_t done, std::int64_t state) {
    if ((done & required_) == required_) return true;
    if (++steps_ > budget_) {
      exhausted_ = true;
      return false;
    }
    if (!seen_.insert(MemoKey{done, state}).second) return false;
    std::uint64_t min_complete = kNever;
    for (std::size_t i = 0; i < ops_.size(); ++i) {
      if (!(done & (1ULL << i))) min_complete = std::min(min_complete, ops_[i].complete);
    }
    for (std::size_t i = 0; i < ops_.size() && !exhausted_; ++i) {
      if (done & (1ULL << i)) continue;
      const Op& op = ops_[i];
      if (op.invoke > min_complete) continue;
      std::int64_t next = state;
      bool determinate = op.complete != kNever;
      switch (op.kind) {
        case OpKind::Put: next = op.value; break;
        case OpKind::Get:
          if (op.value != state) continue;
          break;
        case OpKind::Cas: {
          bool would = state == op.expected;
          if (determinate && would != op.cas_ok) continue;
          if (would) next = op.value;
          break;
        }
      }
      if (dfs(done | (1ULL << i), next)) return true;
    }
    return false;
  }

  const std::vector<Op>& ops_;
  std::size_t budget_;
  std::size_t steps_ = 0;
  bool exhausted_ = false;
  std::uint64_t required_ = 0;
  std::unordered_set<MemoKey, MemoHash> seen_;
};

}  // namespace

CheckResult check_key_history(const std::vector<Op>& ops, std::size_t budget) {
  if (ops.size() > 64) return CheckResult::TooExpensive;
  return Search(ops, budget).run();
}

std::string describe(const std::vector<Op>& ops) {
  std::string out;
  for (const Op& op : ops) {
    out += "  [" + std::to_string(op.invoke) + ", " +
           (op.complete == kNever ? std::string("?") : std::to_string(op.complete)) + "] ";
    switch (op.kind) {
      case OpKind::Put: out += "put " + std::to_string(op.value); break;
      case OpKind::Get: out += "get -> " + std::to_string(op.value); break;
      case OpKind::Cas:
        out += "cas " + std::to_string(op.expected) + "->" + std::to_string(op.value) +
               (op.complete == kNever ? " -> ?" : (op.cas_ok ? " -> ok" : " -> fail"));
        break;
    }
    out += "\n";
  }
  return out;
}

}  // namespace corvus::rachis::sim
