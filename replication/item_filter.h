#pragma once
// Which items a database that has seen `seen` (its database change vector)
// need not receive: the source skips them for its peer, the destination drops
// them before applying (the copies a third member forwards). Counters have no
// change vector (their merge is idempotent); revisions and attachment records
// always travel: having seen a version does not mean keeping it as a revision,
// and a resolved document re-sends the attachment records it lists under their
// old change vectors (storage/replicated_attachments.cc). Applying either
// twice changes nothing, and attachment bytes go only when missing.

#include "storage/change_vector.h"
#include "storage/documents_storage.h"
#include "storage/replication_items.h"

namespace corvus::replication {

inline bool already_seen(const storage::ChangeVector& seen, const storage::ReplicationItem& item) {
  if (item.change_vector.empty() || item.kind == storage::kEtagOfRevision ||
      item.kind == storage::kEtagOfAttachment) {
    return false;
  }
  auto cv = storage::ChangeVector::parse(item.change_vector);
  if (!cv.ok()) return false;  // apply_replication_item reports it
  const auto order = seen.compare(*cv);
  return order == storage::ChangeVectorOrder::Equal || order == storage::ChangeVectorOrder::Newer;
}

}  // namespace corvus::replication
