#include "server/tcp/tcp_negotiation.h"

#include <algorithm>

namespace corvus::server::tcp {
namespace json = boost::json;

Result<TcpConnectionHeader> parse_connection_header(const json::value& v) {
  if (!v.is_object()) return Status::InvalidArgument("the TCP header must be a JSON object");
  const auto& o = v.as_object();
  TcpConnectionHeader h;
  const auto* op = o.if_contains("Operation");
  if (!op || !op->is_string() || op->as_string().empty()) {
    return Status::InvalidArgument("the TCP header needs an Operation");
  }
  h.operation = std::string(op->as_string());
  const auto* ver = o.if_contains("OperationVersion");
  if (!ver || !(ver->is_int64() || ver->is_uint64())) {
    return Status::InvalidArgument("the TCP header needs a numeric OperationVersion");
  }
  h.version = ver->is_int64() ? ver->as_int64() : static_cast<std::int64_t>(ver->as_uint64());
  if (const auto* db = o.if_contains("DatabaseName"); db && db->is_string()) h.database = std::string(db->as_string());
  if (const auto* tag = o.if_contains("SourceNodeTag"); tag && tag->is_string()) {
    h.source_node_tag = std::string(tag->as_string());
  }
  if (const auto* info = o.if_contains("AuthorizeInfo"); info && info->is_object()) {
    if (const auto* as = info->as_object().if_contains("AuthorizeAs"); as && as->is_string()) {
      h.authorize_as = std::string(as->as_string());
    }
    if (const auto* f = info->as_object().if_contains("AuthorizationFor"); f && f->is_string()) {
      h.authorization_for = std::string(f->as_string());
    }
  }
  return h;
}

json::object NegotiationReply::to_json() const {
  json::object o{{"Status", agreed ? "Ok" : "TcpVersionMismatch"},
                 {"Version", version},
                 {"LicensedFeatures", json::object{{"DataCompression", false}}}};
  if (!message.empty()) o["Message"] = message;
  return o;
}

NegotiationReply negotiate(const std::vector<std::int64_t>& supported, const TcpConnectionHeader& header) {
  NegotiationReply r;
  if (supported.empty()) {
    r.version = -1;
    r.message = "Operation '" + header.operation + "' is not supported by this server";
    return r;
  }
  if (std::find(supported.begin(), supported.end(), header.version) != supported.end()) {
    r.agreed = true;
    r.version = header.version;
    return r;
  }
  // The newest version below the client's: it has every older one too, if any.
  std::int64_t best = -1;
  for (std::int64_t v : supported) {
    if (v < header.version && v > best) best = v;
  }
  r.version = best;
  r.message = best < 0 ? "Version " + std::to_string(header.version) + " of operation '" + header.operation +
                             "' is older than any this server speaks"
                       : "Version " + std::to_string(header.version) + " of operation '" + header.operation +
                             "' is not supported; this server offers " + std::to_string(best);
  return r;
}

}  // namespace corvus::server::tcp
