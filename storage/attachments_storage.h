#pragma once
// Attachments: named binary attachments of a document, stored beside it.
//
// Layout (engine.h): Family::Attachments  lowered doc id \0 lowered name ->
// JSON {DocumentId, Name, ContentType, Hash, Size, ChangeVector, Etag};
// Family::AttachmentHashes  base64 SHA-256 -> big-endian reference count.
// The bytes live once per hash in the BlobStore (blob_store.h); a reference is
// counted in the same transaction that writes the attachment record, and the
// transaction that drops a hash's last reference schedules its blob's unlink
// for after that commit is durable. Each attachment write takes an etag (its
// own change vector) and makes a new document version whose @attachments
// (sorted by lowered name, as RavenDB lists them) and HasAttachments flag say
// what is attached.
//
// Free functions, no state: reads are thread-safe (one snapshot each); writes
// run inside a WriteTransaction on the merger's writer thread.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "storage/document.h"
#include "storage/status.h"
#include "storage/write_transaction.h"

namespace corvus::storage {

class DocumentsStorage;
class Engine;

struct AttachmentInfo {
  std::string document_id;
  std::string name;
  std::string content_type;
  std::string hash;  // base64 SHA-256
  uint64_t size = 0;
  std::string change_vector;
  uint64_t etag = 0;
};

struct AttachmentWriteResult {
  AttachmentInfo attachment;
  std::string document_change_vector;  // the document's new version
};

// --- reads ---
// nullopt when the document has no attachment of that name (or no such document).
Result<std::optional<AttachmentInfo>> read_attachment(const DocumentsStorage& storage, std::string_view document_id,
                                                      std::string_view name);
// Whether the committed state references `hash` (the BlobStore's collector asks).
Result<bool> attachment_hash_referenced(const Engine& engine, const std::string& hash);

// --- writes (inside a transaction) ---
// `expected_change_vector` of the attachment: nullopt = no check; otherwise it
// must equal the current attachment's (ConcurrencyConflict). NotFound when the
// document does not exist. Replacing an attachment moves its reference.
Result<AttachmentWriteResult> put_attachment(WriteTransaction& txn, std::string_view document_id,
                                             std::string_view name, std::string_view content_type,
                                             const std::string& hash, uint64_t size,
                                             const std::optional<std::string>& expected_change_vector);
// nullopt when there was no such attachment (nothing written); otherwise the
// document's new change vector.
Result<std::optional<std::string>> delete_attachment(WriteTransaction& txn, std::string_view document_id,
                                                     std::string_view name,
                                                     const std::optional<std::string>& expected_change_vector);
// Adds a reference to the bytes of (source_id, source_name) as (destination_id,
// destination_name); `expected_change_vector` is the source attachment's.
// NotFound when the source attachment or the destination document does not
// exist; ConcurrencyConflict when the destination attachment already does.
Result<AttachmentWriteResult> copy_attachment(WriteTransaction& txn, std::string_view source_id,
                                              std::string_view source_name, std::string_view destination_id,
                                              std::string_view destination_name,
                                              const std::optional<std::string>& expected_change_vector);

// The document is being deleted: drop its attachment records and references
// (WriteTransaction::remove calls this before writing the tombstone).
Status drop_document_attachments(WriteTransaction& txn, const Document& document);

// A name the server accepts: non-empty, no control characters.
Status validate_attachment_name(std::string_view name);

// --- replication (replication_items.h; replicated_attachments.cc) ---

// The stored record's encoding (the JSON above); Corruption when malformed.
Result<AttachmentInfo> decode_attachment_record(std::string_view bytes);

// What put_replicated_attachment did.
enum class ReplicatedAttachment {
  Stored,    // new here, or newer than ours: it is the attachment now
  Ignored,   // ours is the same or newer, or the document here moved past it without it
  Replaced,  // not newer than ours but chosen (listed by the document here, or the
             // larger text of two concurrent change vectors); ours waits as an alternate
  Kept,      // not chosen (ours is listed, or wins the text); it waits as an alternate
};

// Records attachment `incoming` (another member's record: its change vector,
// not ours) and takes a reference on its hash, without making a new document
// version: the document's own item carries @attachments. The document may be
// absent (its item may come later) or in conflict. Of it and the record of
// the same name here, the one the document here lists is the attachment,
// else the newer, else the larger change vector text; a record not chosen
// that a version may still pick waits as an alternate (attachment_records.h).
// The attachment takes this database's next etag. The blob must already be
// stored here (InvalidArgument otherwise); the caller keeps it pinned until
// the transaction is durable, as an upload does. InvalidArgument for an empty
// id or hash, a bad name or change vector (nothing written).
Result<ReplicatedAttachment> put_replicated_attachment(WriteTransaction& txn, AttachmentInfo incoming);

// After a replicated version of `document_id` (document or deletion) became
// current (or was ignored): the records follow it. An alternate it lists
// becomes the attachment; records it has seen (change vector covered) and
// does not list go, with their references (that is how an attachment's
// deletion travels: there is no attachment tombstone), or wait as alternates
// when the version won a conflict (flag Resolved: the losing side may still
// be picked elsewhere). Records it has not seen stay: their document version
// has not arrived yet.
Status drop_unlisted_attachments(WriteTransaction& txn, std::string_view document_id);

// After a version that won a conflict (flag Resolved) became current here by
// replication: the records it lists take new etags, so they travel again
// after it. A member whose own resolution picked the other side, or that
// deleted the document, may have dropped them, and nothing else would send
// them again (they are identical elsewhere: applied twice, they change nothing).
Status reship_resolved_attachments(WriteTransaction& txn, std::string_view document_id);

}  // namespace corvus::storage
