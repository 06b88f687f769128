#pragma once
// RaftLog: the in-memory copy of one node's Raft log after its last snapshot.
//
// Owned by Raft. It holds entries (snapshot.index, last_index] contiguously plus the
// position (index, term) of the snapshot that precedes them. The whole suffix after
// the snapshot lives in memory: the cluster log is small and compacted regularly
// (Ready::compact_hint), and keeping it here keeps the core free of I/O. The shell
// mirrors every change durably through Ready. Not thread-safe.

#include <cstddef>
#include <deque>
#include <optional>
#include <vector>

#include "rachis/core/types.h"

namespace corvus::rachis::core {

class RaftLog {
 public:
  // `entries` must be contiguous and start at snapshot_index + 1.
  RaftLog(Index snapshot_index, Term snapshot_term, std::vector<Entry> entries);

  Index snapshot_index() const { return snapshot_index_; }
  Term snapshot_term() const { return snapshot_term_; }
  Index first_index() const { return snapshot_index_ + 1; }
  Index last_index() const { return snapshot_index_ + entries_.size(); }
  Term last_term() const;

  // Term of the entry at `i`; the snapshot's term for i == snapshot_index; nullopt
  // when `i` was compacted away or lies beyond the end of the log.
  std::optional<Term> term(Index i) const;
  bool matches(Index i, Term t) const {
    auto tt = term(i);
    return tt && *tt == t;
  }

  // Precondition: first_index() <= i <= last_index().
  const Entry& at(Index i) const { return entries_[i - first_index()]; }

  // Entries [lo, hi] (clamped to the log), at most `max_entries` of them.
  std::vector<Entry> slice(Index lo, Index hi, std::size_t max_entries) const;

  // Precondition: e.index == last_index() + 1.
  void append(Entry e);
  // Removes every entry with index >= i. Precondition: i > snapshot_index().
  void truncate_from(Index i);
  // Drops entries <= i; the log then starts after a snapshot at (i, t).
  // Precondition: snapshot_index() < i <= last_index().
  void compact(Index i, Term t);
  // Replaces everything by an empty log following a snapshot at (i, t).
  void reset(Index i, Term t);

  // §5.4.1: is a log ending at (last_term, last_index) at least as up to date?
  bool is_up_to_date(Index last_index, Term last_term) const;

  // Largest index <= from whose term is <= t, or snapshot_index() when every entry
  // up to `from` has a larger term. Both sides of the fast log back-off use it: an
  // entry with a term above the other side's term at that position cannot match.
  Index last_index_with_term_at_most(Index from, Term t) const;

 private:
  Index snapshot_index_;
  Term snapshot_term_;
  std::deque<Entry> entries_;
};

}  // namespace corvus::rachis::core
