#pragma once
// CounterValue: the replicated state of one counter (a CRDT). A plain value
// type: no storage, no locking; copy it freely between threads.
//
// Each database (database id) that ever changed the counter owns one
// CounterNodeEntry. Its `positive` and `negative` totals only ever grow (an
// increment adds to one of them) and only the owning database changes them, so
// two copies of an entry merge by taking the maximum of each total: merging is
// per entry, commutative, associative and idempotent, and concurrent
// increments and decrements on different nodes are never lost.
//
// Deletion. A delete cannot reset the totals (a node's totals would then
// shrink and the merge would bring the old values back). Instead each entry
// also keeps `deleted_positive`/`deleted_negative`: the totals the deleting
// node saw when it deleted. They too only grow and merge by maximum, and they
// never exceed the totals. The value is the sum of what happened since the
// deletions the node has seen:
//     value = sum over entries of (positive - negative) - (deleted_positive - deleted_negative)
// and the counter exists iff some entry was incremented (by any delta, zero
// included) past its deletion snapshot; the count of increments is a third
// grow-only total, snapshotted and merged like the others. So a
// deleted counter is a tombstone that keeps its entries (it replicates like any
// other change), a concurrent increment on another node survives the delete
// (the deleting node did not see it), and a counter incremented again after a
// delete starts from zero instead of resurrecting its old value.
//
// A deletion snapshots every entry, the other nodes' entries included: that is
// the only place a node writes into entries it does not own, and it is safe
// because the snapshot is itself a grow-only maximum bounded by the totals.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "storage/status.h"

namespace corvus::storage {

// Sums of uint64 totals, wide enough to check against int64 without overflow.
__extension__ typedef __int128 CounterSum;

struct CounterNodeEntry {
  std::string database_id;  // the owner; the only database that changes the totals
  std::string node_tag;     // the owner's node tag, for "<node tag>-<database id>" in full replies
  uint64_t etag = 0;        // the owner's database etag at its last change of this entry
  uint64_t positive = 0;
  uint64_t negative = 0;
  uint64_t deleted_positive = 0;  // <= positive
  uint64_t deleted_negative = 0;  // <= negative
  // How many increments the owner made, and the deletion snapshot of that:
  // what tells an increment of zero (which creates the counter) from nothing.
  uint64_t increments = 0;
  uint64_t deleted_increments = 0;  // <= increments

  // This entry's share of the value (may not fit int64 on its own).
  CounterSum contribution() const {
    return (static_cast<CounterSum>(positive) - negative) - (static_cast<CounterSum>(deleted_positive) - deleted_negative);
  }
  bool moved_since_deletion() const { return increments != deleted_increments; }
  bool operator==(const CounterNodeEntry&) const = default;
};

class CounterValue {
 public:
  CounterValue() = default;
  explicit CounterValue(std::string name) : name_(std::move(name)) {}

  // The name as first created (counters are looked up case-insensitively).
  const std::string& name() const { return name_; }
  void set_name(std::string name) { name_ = std::move(name); }
  const std::vector<CounterNodeEntry>& entries() const { return entries_; }

  // False for a tombstone: every entry is at its deletion snapshot.
  bool exists() const;
  // The sum of the entries; InvalidArgument when it does not fit int64.
  Result<int64_t> total() const;
  // The total clamped to int64 (for reads of a merged value that overflowed).
  int64_t saturated_total() const;

  // Adds `delta` to the entry of `database_id` (created if missing), whose
  // etag becomes `etag`. InvalidArgument, and nothing changes, when a total
  // would pass uint64 or the value would pass int64.
  Status increment(std::string_view database_id, std::string_view node_tag, uint64_t etag, int64_t delta);
  // Snapshots every entry (the counter becomes a tombstone); the deleting
  // database's entry takes `etag` (created if missing, so the tombstone names
  // who deleted it).
  void remove(std::string_view database_id, std::string_view node_tag, uint64_t etag);
  // Merges `other` into this value: per database id, the maximum of each total,
  // of each deletion snapshot and of the etag. `other`'s name is ignored.
  void merge(const CounterValue& other);

  // Binary encoding (versioned); Corruption on anything malformed.
  std::string encode() const;
  static Result<CounterValue> decode(std::string_view bytes);

  bool operator==(const CounterValue&) const = default;

 private:
  CounterNodeEntry& entry_for(std::string_view database_id, std::string_view node_tag);

  std::string name_;
  std::vector<CounterNodeEntry> entries_;  // sorted by database id
};

}  // namespace corvus::storage
