#include "replication/messages.h"

#include <boost/json.hpp>

#include "storage/byte_codec.h"

namespace corvus::replication {
namespace json = boost::json;
namespace {

Result<json::object> parse_object(std::string_view payload, const char* what) {
  boost::system::error_code ec;
  json::value v = json::parse(payload, ec);
  if (ec || !v.is_object()) return Status::InvalidArgument(std::string("malformed ") + what);
  return std::move(v.as_object());
}

std::string text(const json::object& o, const char* key) {
  const auto* v = o.if_contains(key);
  return v && v->is_string() ? std::string(v->as_string()) : std::string();
}

uint64_t number(const json::object& o, const char* key) {
  const auto* v = o.if_contains(key);
  if (!v) return 0;
  if (v->is_uint64()) return v->as_uint64();
  if (v->is_int64() && v->as_int64() >= 0) return static_cast<uint64_t>(v->as_int64());
  return 0;
}

}  // namespace

std::string encode(const Handshake& h) {
  return json::serialize(json::object{{"Version", h.version},
                                      {"ClusterId", h.cluster_id},
                                      {"From", h.from},
                                      {"To", h.to},
                                      {"Database", h.database},
                                      {"SourceDatabaseId", h.source_database_id}});
}

Result<Handshake> decode_handshake(std::string_view payload) {
  auto o = parse_object(payload, "replication handshake");
  if (!o.ok()) return o.status();
  Handshake h;
  h.version = static_cast<int>(number(*o, "Version"));
  h.cluster_id = text(*o, "ClusterId");
  h.from = text(*o, "From");
  h.to = text(*o, "To");
  h.database = text(*o, "Database");
  h.source_database_id = text(*o, "SourceDatabaseId");
  if (h.from.empty() || h.database.empty() || h.source_database_id.empty()) {
    return Status::InvalidArgument("replication handshake without From, Database or SourceDatabaseId");
  }
  return h;
}

std::string encode(const Position& p) {
  return json::serialize(
      json::object{{"LastEtagAccepted", p.last_etag_accepted}, {"DatabaseChangeVector", p.database_change_vector}});
}

Result<Position> decode_position(std::string_view payload) {
  auto o = parse_object(payload, "replication position");
  if (!o.ok()) return o.status();
  return Position{number(*o, "LastEtagAccepted"), text(*o, "DatabaseChangeVector")};
}

std::string encode(const BatchHeader& b) {
  json::array hashes;
  for (const auto& h : b.hashes) hashes.emplace_back(h);
  return json::serialize(json::object{{"Items", b.items},
                                      {"LastEtag", b.last_etag},
                                      {"Hashes", std::move(hashes)},
                                      {"CompleteChangeVector", b.complete_change_vector}});
}

Result<BatchHeader> decode_batch(std::string_view payload) {
  auto o = parse_object(payload, "replication batch header");
  if (!o.ok()) return o.status();
  BatchHeader b;
  b.items = number(*o, "Items");
  b.last_etag = number(*o, "LastEtag");
  b.complete_change_vector = text(*o, "CompleteChangeVector");
  if (const auto* h = o->if_contains("Hashes"); h && h->is_array()) {
    for (const auto& x : h->as_array()) {
      if (!x.is_string()) return Status::InvalidArgument("replication batch header: a hash is not a string");
      b.hashes.emplace_back(x.as_string());
    }
  }
  return b;
}

std::string encode_hashes(const std::vector<std::string>& hashes) {
  json::array a;
  for (const auto& h : hashes) a.emplace_back(h);
  return json::serialize(a);
}

Result<std::vector<std::string>> decode_hashes(std::string_view payload) {
  boost::system::error_code ec;
  json::value v = json::parse(payload, ec);
  if (ec || !v.is_array()) return Status::InvalidArgument("malformed wanted-hashes frame");
  std::vector<std::string> out;
  for (const auto& x : v.as_array()) {
    if (!x.is_string()) return Status::InvalidArgument("malformed wanted-hashes frame");
    out.emplace_back(x.as_string());
  }
  return out;
}

std::string encode(const storage::ReplicationItem& item) {
  std::string out;
  out.reserve(1 + 8 + 3 * 4 + item.change_vector.size() + item.attachment_hash.size() + item.payload.size());
  out.push_back(item.kind);
  storage::put_u64(out, item.etag);
  storage::put_str(out, item.change_vector);
  storage::put_str(out, item.attachment_hash);
  storage::put_str(out, item.payload);
  return out;
}

Result<storage::ReplicationItem> decode_item(std::string_view payload) {
  storage::ReplicationItem item;
  if (payload.empty()) return Status::InvalidArgument("empty replication item");
  item.kind = payload[0];
  storage::ByteReader r{payload.substr(1)};
  item.etag = r.u(8);
  item.change_vector = r.str();
  item.attachment_hash = r.str();
  item.payload = r.str();
  if (r.bad || !r.in.empty()) return Status::InvalidArgument("malformed replication item");
  return item;
}

}  // namespace corvus::replication
