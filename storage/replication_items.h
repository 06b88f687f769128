#pragma once
// Replication items: the entries of a database's etag order (documents,
// tombstones, counters, attachments, revisions) in the form one member of a
// database group sends another, their application on the receiving side, and
// the positions replication keeps. Storage owns the bytes of an item's
// payload (it reads and applies them); replication/ only moves items and
// positions and never looks inside a payload.
//
// Free functions, no state. Reads take one snapshot per call (any thread);
// writes run inside a WriteTransaction on the merger's writer thread, so a
// batch of items and the position it reaches are one durable batch.

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "storage/replicated_writes.h"
#include "storage/status.h"

namespace corvus::storage {

class DocumentsStorage;
class WriteTransaction;

struct ReplicationItem {
  // kEtagOfDocument, kEtagOfTombstone, kEtagOfCounter, kEtagOfAttachment or
  // kEtagOfRevision (documents_storage.h).
  char kind = 0;
  uint64_t etag = 0;  // the sender's etag of the item
  // The item's own version. Empty for counters: their per-node entries merge
  // idempotently, so a counter item is never skipped by change vector.
  std::string change_vector;
  // Attachments: the base64 SHA-256 whose bytes the receiver must have stored
  // (BlobStore) before the item is applied. Empty for the other kinds.
  std::string attachment_hash;
  // Opaque to replication: written by read_replication_items, read by
  // apply_replication_item.
  std::string payload;
};

struct ReplicationItems {
  std::vector<ReplicationItem> items;
  // The etag of the last item; the `after_etag` asked for when there is none.
  uint64_t scanned_to = 0;
  // The read stopped at `max_items` or `max_bytes` with entries left after
  // scanned_to (false: it reached the end of the etag order).
  bool more = false;
};

// The entries with etag > `after_etag`, ascending, at most `max_items` and
// about `max_bytes` of payload (always at least one item when there is one).
Result<ReplicationItems> read_replication_items(const DocumentsStorage& storage, uint64_t after_etag,
                                                size_t max_items, size_t max_bytes);

// The id of the document an item belongs to (a document, its deletion, a
// revision or conflicted version of it, one of its counters or attachments),
// for pull replication's filtering by id prefix. Counters carry the lowered
// id. InvalidArgument for a malformed payload or an unknown kind.
Result<std::string> replication_item_document_id(const ReplicationItem& item);

// Applies one incoming item in `txn`: documents and tombstones through
// ReplicatedWrites::apply with `policy`; counters merged per node entry (also
// when the document is not here yet or in conflict: its @counters come with
// the document's own item); attachments recorded under their own change
// vector, referencing a blob that must already be stored (InvalidArgument
// otherwise); revisions kept as they are (a revision already stored is
// Ignored). The outcome is Stored, Ignored, Merged, IncomingWon, LocalWon or
// Conflicted as in ReplicatedWrites; a counter is Stored (new here), Merged
// (ours moved) or Ignored (nothing new, nothing written); an attachment record
// concurrent with ours is IncomingWon or LocalWon (attachments_storage.h,
// put_replicated_attachment). InvalidArgument for a malformed item (nothing
// written).
Result<ReplicatedOutcome> apply_replication_item(WriteTransaction& txn, const ReplicationItem& item,
                                                 ConflictPolicy policy);

// --- positions ---

// The last etag of database `source_database_id` applied here (0: none),
// written with the items in the same batch, so a batch is applied once.
Result<uint64_t> incoming_position(const DocumentsStorage& storage, const std::string& source_database_id);
void set_incoming_position(WriteTransaction& txn, const std::string& source_database_id, uint64_t etag);

// What each peer (by node tag) acknowledged having of this database, kept
// durably for tombstone purging.
Result<std::map<std::string, uint64_t>> acknowledged_positions(const DocumentsStorage& storage);
void set_acknowledged_position(WriteTransaction& txn, const std::string& peer_tag, uint64_t etag);
// Forgets a destination's position (an external replication task that was
// deleted), so it no longer holds back tombstone purges.
void remove_acknowledged_position(WriteTransaction& txn, const std::string& peer_tag);

// Removes up to `limit` document tombstones with etag <= `up_to_etag`, with
// their etag entries (the tombstone count follows); returns how many went.
// Counter tombstones stay (a counter's totals must never shrink: see
// tombstone_purge.cc).
Result<size_t> purge_tombstones(WriteTransaction& txn, uint64_t up_to_etag, size_t limit);

}  // namespace corvus::storage
