#include "replication/messages.h"

#include <boost/json.hpp>

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

void put_u64(std::string& out, uint64_t v) {
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}
void put_bytes(std::string& out, std::string_view b) {
  put_u64(out, b.size());
  out.append(b);
}

struct Reader {
  std::string_view in;
  bool u64(uint64_t* v) {
    if (in.size() < 8) return false;
    *v = 0;
    for (int i = 0; i < 8; ++i) *v |= uint64_t(static_cast<unsigned char>(in[i])) << (8 * i);
    in.remove_prefix(8);
    return true;
  }
  bool bytes(std::string* out) {
    uint64_t n = 0;
    if (!u64(&n) || in.size() < n) return false;
    out->assign(in.substr(0, n));
    in.remove_prefix(n);
    return true;
  }
};

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
  out.reserve(1 + 8 * 5 + item.change_vector.size() + item.attachment_hash.size() + item.payload.size());
  out.push_back(item.kind);
  put_u64(out, item.etag);
  put_bytes(out, item.change_vector);
  put_bytes(out, item.attachment_hash);
  put_bytes(out, item.payload);
  return out;
}

Result<storage::ReplicationItem> decode_item(std::string_view payload) {
  storage::ReplicationItem item;
  if (payload.empty()) return Status::InvalidArgument("empty replication item");
  item.kind = payload[0];
  Reader r{payload.substr(1)};
  if (!r.u64(&item.etag) || !r.bytes(&item.change_vector) || !r.bytes(&item.attachment_hash) ||
      !r.bytes(&item.payload) || !r.in.empty()) {
    return Status::InvalidArgument("malformed replication item");
  }
  return item;
}

}  // namespace corvus::replication
