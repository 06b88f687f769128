#include "rachis/core/raft_log.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>

namespace corvus::rachis::core {

namespace {
[[noreturn]] void log_fatal(const char* what) {
  std::fprintf(stderr, "rachis core: RaftLog invariant broken: %s\n", what);
  std::abort();
}
}  // namespace

RaftLog::RaftLog(Index snapshot_index, Term snapshot_term, std::vector<Entry> entries)
    : snapshot_index_(snapshot_index), snapshot_term_(snapshot_term) {
  for (auto& e : entries) append(std::move(e));
}

Term RaftLog::last_term() const {
  return entries_.empty() ? snapshot_term_ : entries_.back().term;
}

std::optional<Term> RaftLog::term(Index i) const {
  if (i == snapshot_index_) return snapshot_term_;
  if (i < snapshot_index_ || i > last_index()) return std::nullopt;
  return at(i).term;
}

std::vector<Entry> RaftLog::slice(Index lo, Index hi, std::size_t max_entries) const {
  std::vector<Entry> out;
  lo = std::max(lo, first_index());
  hi = std::min(hi, last_index());
  for (Index i = lo; i <= hi && out.size() < max_entries; ++i) out.push_back(at(i));
  return out;
}

void RaftLog::append(Entry e) {
  if (e.index != last_index() + 1) log_fatal("append out of order");
  if (e.term < last_term()) log_fatal("append with decreasing term");
  entries_.push_back(std::move(e));
}

void RaftLog::truncate_from(Index i) {
  if (i <= snapshot_index_) log_fatal("truncate into the snapshot");
  if (i > last_index()) return;
  entries_.resize(i - first_index());
}

void RaftLog::compact(Index i, Term t) {
  if (i <= snapshot_index_ || i > last_index()) log_fatal("compact out of range");
  if (at(i).term != t) log_fatal("compact with wrong term");
  entries_.erase(entries_.begin(), entries_.begin() + static_cast<std::ptrdiff_t>(i - snapshot_index_));
  snapshot_index_ = i;
  snapshot_term_ = t;
}

void RaftLog::reset(Index i, Term t) {
  entries_.clear();
  snapshot_index_ = i;
  snapshot_term_ = t;
}

bool RaftLog::is_up_to_date(Index li, Term lt) const {
  return lt > last_term() || (lt == last_term() && li >= last_index());
}

Index RaftLog::last_index_with_term_at_most(Index from, Term t) const {
  Index i = std::min(from, last_index());
  while (i > snapshot_index_ && at(i).term > t) --i;
  return i;
}

}  // namespace corvus::rachis::core
