#pragma once
// SentByPeer: the versions a peer sent us itself, which our push to it skips,
// so nothing goes back where it came from and nothing ping-pongs. Exact
// versions only (change vector texts of the items it sent): a database change
// vector says which write events a member has seen, not which versions it
// holds (a merge of two versions is covered by the change vector of a member
// that never saw that merge), so it cannot decide what a member lacks.
// Counters have no change vector (their merge is idempotent) and attachment
// records always travel (a resolved document re-sends the ones it lists under
// their old change vectors); applying either twice changes nothing.
//
// Bounded: the oldest entries go first (items travel back soon after they
// came, if at all). Thread-safety: none; the owner locks.

#include <cstddef>
#include <deque>
#include <string>
#include <unordered_set>

#include "storage/documents_storage.h"
#include "storage/replication_items.h"

namespace corvus::replication {

class SentByPeer {
 public:
  static constexpr size_t kKept = 200000;

  void add(const storage::ReplicationItem& item) {
    if (!skippable(item)) return;
    std::string k = key(item);
    if (!versions_.insert(k).second) return;
    order_.push_back(std::move(k));
    if (order_.size() > kKept) {
      versions_.erase(order_.front());
      order_.pop_front();
    }
  }
  bool contains(const storage::ReplicationItem& item) const {
    return skippable(item) && versions_.count(key(item)) > 0;
  }

 private:
  // The kind too: a revision with a document's change vector is another item
  // (a member that sent us a document may still lack the revision we keep of it).
  static std::string key(const storage::ReplicationItem& item) { return item.kind + item.change_vector; }
  static bool skippable(const storage::ReplicationItem& item) {
    return !item.change_vector.empty() && item.kind != storage::kEtagOfAttachment;
  }

  std::unordered_set<std::string> versions_;
  std::deque<std::string> order_;
};

}  // namespace corvus::replication
