#pragma once
// Request: one parsed HTTP request as handed to a Handler.
//
// Owned by the Connection that read it (and reused for its next request). The
// Connection keeps it alive and unchanged until the handler's Respond has been
// called, so a handler may hold `const Request&` across threads until then, and
// must not touch it afterwards. Not synchronized: read-only for the handler.

#include <boost/beast/http/fields.hpp>
#include <boost/beast/http/verb.hpp>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "server/http/query_string.h"

namespace corvus::server::http {

// The body of a request to a streaming route (Router::add with
// RouteOptions::streaming_body), pulled chunk by chunk: one read at a time,
// each bounded by HttpServerOptions::body_idle_timeout, so a slow or stalled
// client holds neither a thread nor more than one chunk of memory. Owned by the
// Connection; valid as long as the Request. Call read() on the handler's
// thread or from inside an OnChunk (both run on the connection's strand), and
// never call Respond while a read is outstanding.
class BodyReader {
 public:
  virtual ~BodyReader() = default;
  // `ok` false: the body failed (client gone, idle timeout, too large,
  // malformed); the handler answers (any error: the connection substitutes its
  // own answer and closes). Otherwise `chunk` (valid during the call only;
  // possibly empty) and `done` at the end of the body.
  using OnChunk = std::function<void(bool ok, std::string_view chunk, bool done)>;
  virtual void read(OnChunk on_chunk) = 0;
  // Content-Length when the client declared one (not for chunked bodies).
  virtual std::optional<uint64_t> content_length() const = 0;
};

// The certificate a client presented in the TLS handshake, as the connection
// saw it. The TLS layer accepts any certificate (or none) and records it here;
// whether it grants anything is the HTTP layer's decision, so that a refusal
// can say why (expired, unknown thumbprint, ...) instead of failing the
// handshake. Filled once per connection; shared by its requests.
struct ClientCertificate {
  std::string thumbprint;       // SHA-1 of the DER certificate, upper-case hex (RavenDB's thumbprint)
  std::string public_key_hash;  // SHA-256 of the DER SubjectPublicKeyInfo, base64
  std::string subject;          // one line, e.g. "CN=client"
  int64_t not_before_unix = 0;  // seconds since the epoch, UTC
  int64_t not_after_unix = 0;
  std::string pem;              // the certificate itself (PEM), for registration by upload
};

struct Request {
  boost::beast::http::verb method = boost::beast::http::verb::unknown;
  std::string method_name;   // as sent; what tells extension methods (RESET) apart
  std::string target;        // raw target as received, e.g. "/databases/db/docs?id=users%2F1"
  std::string path;          // percent-decoded path without query ('+' stays '+')
  QueryString query;
  std::string body;          // empty for streaming routes: see body_reader
  BodyReader* body_reader = nullptr;  // streaming routes only
  boost::beast::http::fields headers;
  std::string request_id;    // short unique id; logged as req=<id> and returned as "Request-Id"
  std::unordered_map<std::string, std::string> params;  // route params ({db} -> "db"), decoded
  bool keep_alive = true;    // what the client asked for (HTTP version + Connection header)
  // Set on a TLS connection whose client presented a certificate; nullptr on
  // plain HTTP and when the client sent none. Valid as long as the Request.
  const ClientCertificate* client_certificate = nullptr;

  // Value of the first header `name` (case-insensitive); "" if absent.
  std::string_view header(std::string_view name) const {
    auto it = headers.find(name);
    return it == headers.end() ? std::string_view() : std::string_view(it->value().data(), it->value().size());
  }
  // Route parameter; "" if absent.
  std::string_view param(const std::string& name) const {
    auto it = params.find(name);
    return it == params.end() ? std::string_view() : std::string_view(it->second);
  }
};

}  // namespace corvus::server::http
