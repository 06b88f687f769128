#pragma once
// The attachment records and their blob references as stored (layout in
// attachments_storage.h), shared by the local attachment writes
// (attachments_storage.cc) and the replicated ones (replicated_attachments.cc).
// Internal to storage. Free functions inside a WriteTransaction, on the
// merger's writer thread.
//
// An "alternate" is a record of an attachment name that is not the attachment
// now (a concurrent record not chosen, or one the document's conflict
// resolution may still pick): key = attachment key, a 0 byte, the hash; etag
// 0 and no etag entry (never shipped), not counted as an attachment, but it
// holds a reference on its blob.

#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "storage/attachments_storage.h"
#include "storage/status.h"
#include "storage/write_transaction.h"

namespace corvus::storage::attachment_records {

// lowered document id \0 lowered name.
std::string attachment_key(std::string_view document_id, std::string_view name);
std::string alternate_key(const std::string& key, const std::string& hash);
std::string encode_attachment(const AttachmentInfo& a);
Result<AttachmentInfo> decode_attachment(std::string_view bytes);
// The record under `key` as the transaction sees it; nullopt when absent.
Result<std::optional<AttachmentInfo>> read_in_txn(WriteTransaction& txn, const std::string& key);

// Reference counts of the blobs (Family::AttachmentHashes); dropping the last
// reference collects the blob once the transaction is durable.
Status add_reference(WriteTransaction& txn, const std::string& hash);
Status drop_reference(WriteTransaction& txn, const std::string& hash);

// A document's records: its attachments (by lowered name) and alternates.
struct Records {
  struct Entry {
    std::string key;
    AttachmentInfo info;
  };
  std::map<std::string, Entry> primaries;        // lowered name ->
  std::multimap<std::string, Entry> alternates;  // lowered name ->
};
Result<Records> records_of(WriteTransaction& txn, std::string_view document_id);

// Removes an attachment (record, etag entry, reference, count) or an alternate
// (record, reference).
Status drop_record(WriteTransaction& txn, const std::string& key, const AttachmentInfo& a);
Status drop_alternate(WriteTransaction& txn, const std::string& key, const AttachmentInfo& a);
// Drops the alternates of attachment `name` of the document (all of them when
// `name` is empty): a local write of the attachment supersedes them.
Status drop_alternate_attachments(WriteTransaction& txn, std::string_view document_id, std::string_view name);

}  // namespace corvus::storage::attachment_records
