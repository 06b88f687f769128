#pragma once
// Document and Tombstone: what DocumentsStorage returns, and their on-disk
// encoding. The stored JSON is the full document as served, `@metadata`
// included (@id, @collection, @change-vector, @last-modified, @flags), rendered
// once by the writer so a read is a copy, not a parse-and-serialize.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "storage/status.h"

namespace corvus::storage {

// Document flags, RavenDB's names (see `flags_to_string`).
enum DocumentFlags : uint32_t {
  kNoFlags = 0,
  kHasRevisions = 1u << 0,
  kHasAttachments = 1u << 1,
  kHasCounters = 1u << 2,
  kFromReplication = 1u << 3,
  kConflicted = 1u << 4,
  kResolved = 1u << 5,
  // A stored revision, and a revision recording a delete (storage/revisions_storage.h).
  kRevision = 1u << 8,
  kDeleteRevision = 1u << 9,
};

// "HasRevisions, HasCounters" as in @flags; empty when no flag is set.
std::string flags_to_string(uint32_t flags);

struct Document {
  std::string id;             // original casing
  std::string collection;     // as given in @collection; empty means "@empty"
  uint64_t etag = 0;
  std::string change_vector;
  int64_t last_modified_us = 0;
  uint32_t flags = kNoFlags;
  std::string json;           // the whole document, @metadata included
};

struct Tombstone {
  std::string id;
  std::string collection;
  uint64_t etag = 0;
  std::string change_vector;
  int64_t deleted_at_us = 0;
};

// Encoding: fixed-width header then length-prefixed strings; JSON last, unprefixed.
std::string encode_document(const Document& doc);
// encode_document without the JSON: the caller appends doc.json's bytes to
// `out` itself (serializing straight into the record, not through a string).
void encode_document_header(const Document& doc, std::string& out);
Result<Document> decode_document(std::string_view bytes);
std::string encode_tombstone(const Tombstone& t);
Result<Tombstone> decode_tombstone(std::string_view bytes);

// Keys: ids are case-insensitive, so the key is the lowered id: ASCII, and the
// Latin-1, Latin Extended-A, Greek and Cyrillic letters of UTF-8 text; other
// bytes (and scripts whose case mapping changes length) are kept as they are.
std::string lower_id(std::string_view id);
// The key prefix of what a module stores beside document `id` (counters,
// attachments, revisions, conflicts): the lowered id and a 0 byte, so that
// "users/1" does not prefix the keys of "users/10".
std::string document_key_prefix(std::string_view id);

// Eight big-endian bytes, so that RocksDB's bytewise order is numeric order:
// etag keys, and the counters kept in the meta family.
std::string encode_big_endian(uint64_t v);
// 0 unless `bytes` is exactly eight bytes.
uint64_t decode_big_endian(std::string_view bytes);

}  // namespace corvus::storage
