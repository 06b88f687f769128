#include "storage/document.h"

#include <cstring>

#include "storage/byte_codec.h"

namespace corvus::storage {
namespace {

constexpr char kDocumentVersion = 1;
constexpr char kTombstoneVersion = 1;

}  // namespace

std::string flags_to_string(uint32_t flags) {
  static constexpr std::pair<uint32_t, const char*> kNames[] = {
      {kHasRevisions, "HasRevisions"}, {kHasAttachments, "HasAttachments"},
      {kHasCounters, "HasCounters"},   {kFromReplication, "FromReplication"},
      {kConflicted, "Conflicted"},     {kResolved, "Resolved"},
      {kRevision, "Revision"},         {kDeleteRevision, "DeleteRevision"},
  };
  std::string out;
  for (const auto& [bit, name] : kNames) {
    if (flags & bit) {
      if (!out.empty()) out += ", ";
      out += name;
    }
  }
  return out;
}

std::string encode_document(const Document& doc) {
  std::string out;
  out.reserve(doc.json.size() + doc.id.size() + doc.change_vector.size() + 64);
  encode_document_header(doc, out);
  out.append(doc.json);
  return out;
}

void encode_document_header(const Document& doc, std::string& out) {
  out.push_back(kDocumentVersion);
  put_u64(out, doc.etag);
  put_u64(out, static_cast<uint64_t>(doc.last_modified_us));
  put_u32(out, doc.flags);
  put_str(out, doc.id);
  put_str(out, doc.collection);
  put_str(out, doc.change_vector);
}

Result<Document> decode_document(std::string_view bytes) {
  if (bytes.empty() || bytes[0] != kDocumentVersion) return Status::Corruption("unknown document record version");
  ByteReader r{bytes.substr(1)};
  Document d;
  d.etag = r.u(8);
  d.last_modified_us = static_cast<int64_t>(r.u(8));
  d.flags = static_cast<uint32_t>(r.u(4));
  d.id = r.str();
  d.collection = r.str();
  d.change_vector = r.str();
  if (r.bad) return Status::Corruption("truncated document record");
  d.json = std::string(r.in);
  return d;
}

std::string encode_tombstone(const Tombstone& t) {
  std::string out;
  out.push_back(kTombstoneVersion);
  put_u64(out, t.etag);
  put_u64(out, static_cast<uint64_t>(t.deleted_at_us));
  put_str(out, t.id);
  put_str(out, t.collection);
  put_str(out, t.change_vector);
  return out;
}

Result<Tombstone> decode_tombstone(std::string_view bytes) {
  if (bytes.empty() || bytes[0] != kTombstoneVersion) return Status::Corruption("unknown tombstone record version");
  ByteReader r{bytes.substr(1)};
  Tombstone t;
  t.etag = r.u(8);
  t.deleted_at_us = static_cast<int64_t>(r.u(8));
  t.id = r.str();
  t.collection = r.str();
  t.change_vector = r.str();
  if (r.bad) return Status::Corruption("truncated tombstone record");
  return t;
}

namespace {

// Lower case of a code point from the two-byte UTF-8 range, for the scripts
// where case mapping is one-to-one and keeps the encoded length: Latin-1,
// Latin Extended-A, Greek and Cyrillic. Anything else is returned unchanged.
uint32_t lower_two_byte(uint32_t cp) {
  if ((cp >= 0xC0 && cp <= 0xDE && cp != 0xD7) ||            // À..Þ except ×
      (cp >= 0x391 && cp <= 0x3AB && cp != 0x3A2) ||         // Greek capitals
      (cp >= 0x410 && cp <= 0x42F))                          // Cyrillic А..Я
    return cp + 0x20;
  if (cp >= 0x400 && cp <= 0x40F) return cp + 0x50;          // Cyrillic Ѐ..Џ
  if (cp == 0x178) return 0xFF;                              // Ÿ
  // Latin Extended-A pairs: upper case on even code points, then (after the
  // ĸ/Ŀ shift) on odd ones. İ (U+0130) has no one-to-one lower case; kept.
  if ((cp >= 0x100 && cp <= 0x12F) || (cp >= 0x132 && cp <= 0x137) || (cp >= 0x14A && cp <= 0x177))
    return cp % 2 == 0 ? cp + 1 : cp;
  if ((cp >= 0x139 && cp <= 0x148) || (cp >= 0x179 && cp <= 0x17E)) return cp % 2 == 1 ? cp + 1 : cp;
  return cp;
}

}  // namespace

std::string lower_id(std::string_view id) {
  std::string out(id);
  for (size_t i = 0; i < out.size(); ++i) {
    const auto c = static_cast<unsigned char>(out[i]);
    if (c >= 'A' && c <= 'Z') {
      out[i] = static_cast<char>(c - 'A' + 'a');
    } else if ((c & 0xE0) == 0xC0 && i + 1 < out.size() &&
               (static_cast<unsigned char>(out[i + 1]) & 0xC0) == 0x80) {
      const uint32_t cp = ((c & 0x1Fu) << 6) | (static_cast<unsigned char>(out[i + 1]) & 0x3Fu);
      const uint32_t lower = lower_two_byte(cp);
      out[i] = static_cast<char>(0xC0 | (lower >> 6));
      out[i + 1] = static_cast<char>(0x80 | (lower & 0x3F));
      ++i;
    }
  }
  return out;
}

std::string encode_big_endian(uint64_t v) {
  std::string out;
  put_u64(out, v);
  return out;
}

uint64_t decode_big_endian(std::string_view bytes) {
  if (bytes.size() != 8) return 0;
  ByteReader r{bytes};
  return r.u(8);
}

std::string document_key_prefix(std::string_view id) {
  std::string p = lower_id(id);
  p.push_back('\0');
  return p;
}

}  // namespace corvus::storage
