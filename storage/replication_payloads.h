#pragma once
// The payloads of replication items whose stored record is not already what
// the receiver needs (documents, tombstones and revisions travel as their
// stored encode_document/encode_tombstone record). Internal to storage: only
// replication_items*.cc read and write them. Pure functions, any thread.
//
// Format: one version byte, then length-prefixed fields (u32 big-endian
// length, as document.cc's encodings), fixed-width integers big-endian.

#include <cstdint>
#include <string>
#include <string_view>

#include "storage/attachments_storage.h"
#include "storage/counter_value.h"
#include "storage/status.h"

namespace corvus::storage {

// A counter item: the (lowered) document id and the counter's whole state
// (CounterValue::encode, which carries the counter's name).
struct CounterPayload {
  std::string document_id;
  CounterValue value;
};
std::string encode_counter_payload(std::string_view document_id, std::string_view counter_value_encoding);
// InvalidArgument when the bytes are not a counter payload.
Result<CounterPayload> decode_counter_payload(std::string_view bytes);

// An attachment item: the record as the sender keeps it, without its local
// etag (document id, name, content type, hash, size, change vector).
std::string encode_attachment_payload(const AttachmentInfo& attachment);
// InvalidArgument when the bytes are not an attachment payload.
Result<AttachmentInfo> decode_attachment_payload(std::string_view bytes);

}  // namespace corvus::storage
