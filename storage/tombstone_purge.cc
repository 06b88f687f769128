// purge_tombstones (replication_items.h): the document tombstones every peer
// has acknowledged go, with their etag entries.
//
// Counter tombstones stay: a counter's per-database totals must never shrink
// (counter_value.h). Were this database to forget its entry of a deleted
// counter, a re-created counter would start its entry from zero while a
// member still holding the tombstone keeps the old, larger totals and their
// deletion snapshot, and the merge would hide the new increments there.
#include <string>
#include <vector>

#include "storage/document.h"
#include "storage/replication_items.h"
#include "storage/write_transaction.h"

namespace corvus::storage {

Result<size_t> purge_tombstones(WriteTransaction& txn, uint64_t up_to_etag, size_t limit) {
  // The tombstones family, not the etag order: a walk proportional to the
  // tombstones held, not to every document below `up_to_etag`.
  std::vector<std::string> doomed;
  {
    auto it = txn.new_iterator(Family::Tombstones);
    for (it->SeekToFirst(); it->Valid() && doomed.size() < limit; it->Next()) {
      auto t = decode_tombstone(std::string_view(it->value().data(), it->value().size()));
      if (!t.ok()) return t.status();
      if (t->etag <= up_to_etag) doomed.push_back(std::move(t->id));
    }
    if (!it->status().ok()) return from_rocksdb(it->status(), "read tombstones to purge");
  }
  for (const auto& id : doomed) {
    auto purged = txn.purge_tombstone(id);
    if (!purged.ok()) return purged.status();
    if (!purged.value()) return Status::Corruption("tombstone of '" + id + "' vanished while purging");
  }
  return doomed.size();
}

}  // namespace corvus::storage
