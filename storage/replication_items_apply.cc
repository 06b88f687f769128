// The receiving side of replication items: apply_replication_item decodes an
// item's payload (written by read_replication_items, replication_items.cc)
// and applies it in the caller's transaction, per kind.
#include "storage/attachments_storage.h"
#include "storage/change_vector.h"
#include "storage/counters_storage.h"
#include "storage/document.h"
#include "storage/documents_storage.h"
#include "storage/replication_items.h"
#include "storage/replication_payloads.h"
#include "storage/revisions_storage.h"
#include "storage/write_transaction.h"

namespace corvus::storage {
namespace {

// A payload that does not decode is the sender's (or the wire's) fault, not
// this database's: InvalidArgument, and nothing is written.
Status malformed(const ReplicationItem& item, const Status& why) {
  return Status::InvalidArgument("malformed replication item (kind '" + std::string(1, item.kind) + "', etag " +
                                 std::to_string(item.etag) + "): " + why.message());
}

// A document's version or deletion; then the attachment records follow what
// is current (an attachment's deletion travels as the document's version
// without it). Also after an ignored version: the current one may have left
// alternates behind that it no longer needs (drop_unlisted_attachments).
Result<ReplicatedOutcome> apply_version(WriteTransaction& txn, IncomingVersion incoming, ConflictPolicy policy) {
  const std::string id = incoming.id;
  auto outcome = ReplicatedWrites::apply(txn, std::move(incoming), policy);
  if (!outcome.ok()) return outcome;
  if (outcome.value() == ReplicatedOutcome::Conflicted) return outcome;
  if (Status s = drop_unlisted_attachments(txn, id); !s.ok()) return s;
  if (outcome.value() != ReplicatedOutcome::Ignored) {
    if (Status s = reship_resolved_attachments(txn, id); !s.ok()) return s;
  }
  return outcome;
}

Result<ReplicatedOutcome> apply_document(WriteTransaction& txn, const ReplicationItem& item, ConflictPolicy policy) {
  auto doc = decode_document(item.payload);
  if (!doc.ok()) return malformed(item, doc.status());
  IncomingVersion incoming;
  incoming.id = std::move(doc->id);
  incoming.collection = std::move(doc->collection);
  incoming.change_vector = std::move(doc->change_vector);
  incoming.last_modified_us = doc->last_modified_us;
  incoming.flags = doc->flags;
  incoming.json = std::move(doc->json);
  return apply_version(txn, std::move(incoming), policy);
}

Result<ReplicatedOutcome> apply_tombstone(WriteTransaction& txn, const ReplicationItem& item, ConflictPolicy policy) {
  auto t = decode_tombstone(item.payload);
  if (!t.ok()) return malformed(item, t.status());
  IncomingVersion incoming;
  incoming.id = std::move(t->id);
  incoming.collection = std::move(t->collection);
  incoming.change_vector = std::move(t->change_vector);
  incoming.last_modified_us = t->deleted_at_us;
  return apply_version(txn, std::move(incoming), policy);
}

// Counters merge per database entry (counters_storage.h): the outcome is
// Stored for a counter new here, Merged when the merge moved ours, Ignored when
// we had it all (nothing written, no etag taken).
Result<ReplicatedOutcome> apply_counter(WriteTransaction& txn, const ReplicationItem& item) {
  auto counter = decode_counter_payload(item.payload);
  if (!counter.ok()) return malformed(item, counter.status());
  const std::string key = counter_key(counter->document_id, counter->value.name());
  auto before = txn.read(Family::Counters, key);
  if (!before.ok()) return before.status();
  auto merged = CountersStorage::merge_replicated(txn, counter->document_id, counter->value);
  if (!merged.ok()) return merged.status().is_invalid_argument() ? malformed(item, merged.status()) : merged.status();
  if (!merged.value()) return ReplicatedOutcome::Ignored;
  return before.value() ? ReplicatedOutcome::Merged : ReplicatedOutcome::Stored;
}

// The attachment's bytes must be here already (replication ships them first).
Result<ReplicatedOutcome> apply_attachment(WriteTransaction& txn, const ReplicationItem& item) {
  auto a = decode_attachment_payload(item.payload);
  if (!a.ok()) return malformed(item, a.status());
  auto r = put_replicated_attachment(txn, std::move(a).value());
  if (!r.ok()) return r.status();
  switch (r.value()) {
    case ReplicatedAttachment::Stored: return ReplicatedOutcome::Stored;
    case ReplicatedAttachment::Ignored: return ReplicatedOutcome::Ignored;
    case ReplicatedAttachment::Replaced: return ReplicatedOutcome::IncomingWon;
    case ReplicatedAttachment::Kept: return ReplicatedOutcome::LocalWon;
  }
  return Status::Internal("unknown attachment outcome");
}

// A revision is kept as it is (its own change vector, flags, last-modified)
// under a local etag; one already stored is Ignored.
Result<ReplicatedOutcome> apply_revision(WriteTransaction& txn, const ReplicationItem& item) {
  auto rev = decode_document(item.payload);
  if (!rev.ok()) return malformed(item, rev.status());
  auto cv = ChangeVector::parse(rev->change_vector);
  if (!cv.ok()) return malformed(item, cv.status());
  if (cv->empty()) return malformed(item, Status::InvalidArgument("a revision needs a change vector"));
  rev->change_vector = cv->to_string();
  auto stored = RevisionsStorage::put_replicated(txn, std::move(rev).value());
  if (!stored.ok()) return stored.status().is_invalid_argument() ? malformed(item, stored.status()) : stored.status();
  txn.note_change_vector(cv.value());
  return stored.value() ? ReplicatedOutcome::Stored : ReplicatedOutcome::Ignored;
}

}  // namespace

Result<ReplicatedOutcome> apply_replication_item(WriteTransaction& txn, const ReplicationItem& item,
                                                 ConflictPolicy policy) {
  switch (item.kind) {
    case kEtagOfDocument: return apply_document(txn, item, policy);
    case kEtagOfTombstone: return apply_tombstone(txn, item, policy);
    case kEtagOfCounter: return apply_counter(txn, item);
    case kEtagOfAttachment: return apply_attachment(txn, item);
    case kEtagOfRevision: return apply_revision(txn, item);
    default:
      return Status::InvalidArgument("replication item of unknown kind '" + std::string(1, item.kind) + "'");
  }
}

}  // namespace corvus::storage
