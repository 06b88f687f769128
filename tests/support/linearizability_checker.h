#pragma once
// A linearizability checker for histories of compare-exchange operations with
// RavenDB's semantics, as recorded by clients of a real cluster
// (tests/cluster/cmpxchg_faults_test.cc).
//
// Model, per key: absent, or (value, index). A successful put or delete moves the
// key to a new Raft index, strictly greater than any index the key had before;
// the checker does not know that index in advance and takes the one the server
// reported. An operation whose outcome is unknown (timeout, network error, 5xx)
// may have taken effect at any moment after it was invoked, or never; when it did,
// its index is unknown until a later operation reveals it.
//
// Search: Wing & Gong's, with Lowe's just-in-time list of call/return events and
// memoization of (set of linearized operations, state), the shape of Porcupine.
// Keys are independent registers, so each key is checked on its own
// (P-compositionality, Horn & Kroening 2015). Two cross-key rules that follow from
// indexes being Raft indexes are checked as well (see check_cmpxchg_history).
//
// Stateless functions of their input: no threads, no I/O, no clock. Thread-safe.

#include <cstddef>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

namespace corvus::testing {

// `complete` of an operation whose outcome is unknown.
inline constexpr std::uint64_t kNotCompleted = std::numeric_limits<std::uint64_t>::max();

enum class CmpXchgKind : std::uint8_t { Put, Delete, Get };

// One client operation as the client saw it. Times are in any one monotonic unit
// shared by the whole history (the fault test uses microseconds).
struct CmpXchgOp {
  std::string key;
  CmpXchgKind kind = CmpXchgKind::Get;
  std::uint64_t invoke = 0;                // before the request was sent
  std::uint64_t complete = kNotCompleted;  // after the answer came; kNotCompleted: unknown outcome

  // Request.
  std::uint64_t expected_index = 0;  // Put/Delete: 0 = "only if absent" (a Delete with 0 never succeeds)
  std::string value;                 // Put: the value written; unique per write, so reads identify writes

  // Outcome; ignored when complete == kNotCompleted.
  bool successful = false;  // Put/Delete
  // Put success: the new index. Delete success: the delete's own Raft index or the
  // deleted entry's index (both accepted: it must be >= the entry's index).
  // Put/Delete failure: the key's current index (not checked when the key is absent:
  // the protocol does not say what to report then).
  // Get: the index read, when `found`.
  std::uint64_t index = 0;
  // Get: the key was present and `observed` is its value.
  // Put/Delete failure: the key was present and `observed` is its current value
  // (the server reports it); false: the server reported no value, the key was absent.
  bool found = false;
  std::string observed;

  int client = -1;  // for messages only
};

enum class Linearizability { Linearizable, NotLinearizable, TooExpensive };
const char* to_string(Linearizability l);

struct CheckOptions {
  // Search steps (list entries visited) allowed per key; beyond it that key's
  // verdict is TooExpensive. Default: 100'000'000, one or two seconds of CPU.
  std::size_t budget_per_key = 100'000'000;
  // Memoized configurations allowed per key (about 60 bytes each); beyond it,
  // TooExpensive too. Default: 4'000'000 (~250 MB).
  std::size_t max_memo_entries = 4'000'000;
};

struct KeyVerdict {
  std::string key;
  Linearizability result = Linearizability::Linearizable;
  std::size_t ops = 0;      // operations checked (reads with an unknown outcome are dropped)
  std::size_t unknown = 0;  // writes with an unknown outcome among them
  std::size_t dropped = 0;  // unknown writes left out because no operation could observe them
  std::size_t steps = 0;
  std::string explanation;  // when not Linearizable: where the search got stuck
};

struct HistoryVerdict {
  // NotLinearizable if any key or cross-key rule fails, else TooExpensive if any
  // key ran out of budget, else Linearizable.
  Linearizability result = Linearizability::Linearizable;
  std::vector<KeyVerdict> keys;         // sorted by key
  std::vector<std::string> violations;  // one readable paragraph each
  std::size_t ops_checked = 0;
  std::string summary() const;
};

// Checks a whole history: every key on its own, plus two rules across keys that
// hold because indexes are Raft log indexes:
//   - no two successful puts report the same index;
//   - a successful put invoked after another successful put completed reports a
//     greater index (a committed entry is in every later leader's log, §5.4).
// Malformed operations (complete < invoke) are reported as violations.
HistoryVerdict check_cmpxchg_history(const std::vector<CmpXchgOp>& ops, const CheckOptions& options = {});

// "[12, 40] c3 put(k1, expected 7, \"c3-17\") -> ok index 9"
std::string describe(const CmpXchgOp& op);

}  // namespace corvus::testing
