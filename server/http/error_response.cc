#include "server/http/error_response.h"

namespace corvus::server::http {

void append_json_string(std::string& out, std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  out.push_back('"');
  for (char c : s) {
    auto u = static_cast<unsigned char>(c);
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      default:
        if (u < 0x20) {
          out += "\\u00";
          out.push_back(kHex[u >> 4]);
          out.push_back(kHex[u & 0xf]);
        } else {
          out.push_back(c);  // UTF-8 passes through unchanged
        }
    }
  }
  out.push_back('"');
}

Response error_response(unsigned status, std::string_view type, std::string_view message, std::string_view url) {
  std::string body;
  body.reserve(48 + url.size() + type.size() + 2 * message.size());
  body += "{\"Url\":";
  append_json_string(body, url);
  body += ",\"Type\":";
  append_json_string(body, type);
  body += ",\"Message\":";
  append_json_string(body, message);
  body += ",\"Error\":";
  append_json_string(body, message);
  body += "}";
  return Response::json(status, std::move(body));
}

ErrorMapping map_status(StatusCode code) {
  switch (code) {
    case StatusCode::NotFound: return {404, "Raven.Client.Exceptions.Documents.DocumentDoesNotExistException"};
    case StatusCode::ConcurrencyConflict:
    case StatusCode::AlreadyExists: return {409, "Raven.Client.Exceptions.ConcurrencyException"};
    case StatusCode::InvalidArgument: return {400, kBadRequestType};
    case StatusCode::AccessDenied: return {403, "Raven.Client.Exceptions.Security.AuthorizationException"};
    case StatusCode::Timeout: return {408, "System.TimeoutException"};
    case StatusCode::NotLeader: return {503, "Raven.Client.Exceptions.Cluster.NoLeaderException"};
    case StatusCode::Busy:
      return {503, "Raven.Client.Exceptions.Database.DatabaseConcurrentLoadTimeoutException"};
    case StatusCode::ShuttingDown: return {503, "Raven.Client.Exceptions.Database.DatabaseDisabledException"};
    case StatusCode::Ok:
    case StatusCode::IOError:
    case StatusCode::Corruption:
    case StatusCode::Internal: return {500, kInternalErrorType};
  }
  return {500, kInternalErrorType};
}

Response error_response(const Status& s, std::string_view url) {
  ErrorMapping m = map_status(s.code());
  std::string message;
  switch (s.code()) {
    case StatusCode::NotLeader:
      message = s.message().empty() ? "This node is not the cluster leader and the leader is unknown"
                                    : "This node is not the cluster leader; leader: " + s.message();
      break;
    case StatusCode::Ok: message = "Internal error: an OK status was reported as an error"; break;
    case StatusCode::IOError:
    case StatusCode::Corruption:
    case StatusCode::Internal: message = s.to_string(); break;
    default: message = s.message();
  }
  return error_response(m.status, m.type, message, url);
}

}  // namespace corvus::server::http
