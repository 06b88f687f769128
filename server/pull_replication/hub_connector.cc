#include "server/pull_replication/hub_connector.h"

#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstring>

#include <boost/json.hpp>
#include <openssl/pkcs12.h>
#include <openssl/x509.h>

#include "rachis/cluster/pull_replication_config.h"
#include "server/http/client_certificate.h"
#include "server/pull_replication/hub_tcp_handler.h"
#include "server/security/certificate_upload.h"
#include "server/tcp/tcp_byte_stream.h"
#include "server/tcp/tcp_json_stream.h"

namespace corvus::server::pull_replication {
namespace json = boost::json;
namespace rc = rachis::cluster;

namespace {

constexpr auto kConnectTimeout = std::chrono::seconds(2);
constexpr auto kExchangeTimeout = std::chrono::seconds(5);
constexpr std::size_t kMaxHttpBytes = 1 << 20;

struct Endpoint {
  bool tls = false;
  std::string host;
  std::string port;
};

// "https://host:port" / "tcp://host:port" -> its parts; InvalidArgument otherwise.
Result<Endpoint> parse_endpoint(const std::string& url) {
  const size_t scheme_end = url.find("://");
  if (scheme_end == std::string::npos) return Status::InvalidArgument("'" + url + "' has no scheme");
  Endpoint e;
  e.tls = url.compare(0, scheme_end, "https") == 0;
  std::string rest = url.substr(scheme_end + 3);
  if (const size_t slash = rest.find('/'); slash != std::string::npos) rest.resize(slash);
  const size_t colon = rest.rfind(':');
  if (colon == std::string::npos || colon == 0) return Status::InvalidArgument("'" + url + "' has no port");
  e.host = rest.substr(0, colon);
  if (e.host.size() > 2 && e.host.front() == '[' && e.host.back() == ']') e.host = e.host.substr(1, e.host.size() - 2);
  e.port = rest.substr(colon + 1);
  return e;
}

// A connected blocking TCP socket; Busy when it cannot.
Result<int> dial(const Endpoint& e) {
  const bool v6 = e.host.find(':') != std::string::npos;
  auto fd = replication::connect_tcp((v6 ? "[" + e.host + "]" : e.host) + ":" + e.port, kConnectTimeout);
  if (!fd.ok()) return fd;
  ::fcntl(*fd, F_SETFL, ::fcntl(*fd, F_GETFL) & ~O_NONBLOCK);
  int one = 1;
  ::setsockopt(*fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  ::setsockopt(*fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof one);
  return fd;
}

// A stream to `e`, TLS with `tls` when e.tls.
Result<std::shared_ptr<tcp::TcpJsonStream>> open_stream(const Endpoint& e, SSL_CTX* tls) {
  auto fd = dial(e);
  if (!fd.ok()) return fd.status();
  auto stream = std::make_shared<tcp::TcpJsonStream>(*fd, kMaxHttpBytes);
  if (e.tls) {
    if (!tls) return Status::InvalidArgument("the hub is https but the sink has no certificate");
    if (Status s = stream->connect_tls(tls, kExchangeTimeout); !s.ok()) return s;
  }
  return stream;
}

std::string url_encode(std::string_view s) {
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out;
}

// GET `target` with Connection: close; the status and the body (chunked or not).
Result<std::pair<unsigned, std::string>> http_get(tcp::TcpJsonStream& stream, const Endpoint& e,
                                                 const std::string& target) {
  const std::string request = "GET " + target + " HTTP/1.1\r\nHost: " + e.host + ":" + e.port +
                              "\r\nConnection: close\r\nAccept: application/json\r\n\r\n";
  if (Status s = stream.write(request, kExchangeTimeout); !s.ok()) return s;
  std::string response;
  const auto deadline = std::chrono::steady_clock::now() + kExchangeTimeout;
  char buf[16 * 1024];
  for (;;) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return Status::Busy("no whole answer from " + e.host + ":" + e.port);
    auto n = stream.read_bytes(buf, sizeof buf, left, -1);
    if (!n.ok()) {
      if (n.status().code() == StatusCode::IOError) break;  // closed: the answer is complete
      return n.status();
    }
    response.append(buf, *n);
    if (response.size() > kMaxHttpBytes) return Status::Busy("answer too large from " + e.host);
  }
  const size_t head_end = response.find("\r\n\r\n");
  if (response.rfind("HTTP/1.", 0) != 0 || head_end == std::string::npos || response.size() < 12) {
    return Status::Busy("not an HTTP answer from " + e.host + ":" + e.port);
  }
  const unsigned status = static_cast<unsigned>(std::atoi(response.c_str() + 9));
  std::string head = response.substr(0, head_end);
  for (auto& c : head) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  std::string body = response.substr(head_end + 4);
  if (head.find("transfer-encoding: chunked") != std::string::npos) {
    std::string joined;
    size_t pos = 0;
    for (;;) {
      const size_t line_end = body.find("\r\n", pos);
      if (line_end == std::string::npos) break;
      const size_t size = std::strtoul(body.c_str() + pos, nullptr, 16);
      if (size == 0) break;
      joined.append(body, line_end + 2, size);
      pos = line_end + 2 + size + 2;
    }
    body = std::move(joined);
  }
  return std::make_pair(status, std::move(body));
}

// Reads one JSON answer and checks its Status is "Ok"; the message otherwise.
Status expect_ok(tcp::TcpJsonStream& stream, const std::string& what) {
  auto answer = stream.read_value(kExchangeTimeout);
  if (!answer.ok()) return Status::Busy(what + ": " + answer.status().message());
  if (!answer->is_object()) return Status::Busy(what + ": not a JSON object");
  const auto& o = answer->as_object();
  const json::value* status = o.if_contains("Status");
  if (status && status->is_string() && status->as_string() == "Ok") return Status::Ok();
  const json::value* message = o.if_contains("Message");
  return Status::Busy(what + " refused: " +
                      (message && message->is_string() ? std::string(message->as_string()) : json::serialize(o)));
}

}  // namespace

Result<std::shared_ptr<SSL_CTX>> sink_tls_context(const std::string& pfx_base64, const std::string& password) {
  std::string der;
  {
    // Base64 via OpenSSL's decoder (ignores line breaks).
    std::string clean;
    for (char c : pfx_base64) {
      if (!std::isspace(static_cast<unsigned char>(c))) clean += c;
    }
    der.resize(clean.size());
    const int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(der.data()),
                                  reinterpret_cast<const unsigned char*>(clean.data()), static_cast<int>(clean.size()));
    if (n < 0) return Status::InvalidArgument("the sink certificate is not base64");
    size_t pad = 0;
    while (pad < 2 && pad < clean.size() && clean[clean.size() - 1 - pad] == '=') ++pad;
    der.resize(static_cast<size_t>(n) - pad);
  }
  const auto* p = reinterpret_cast<const unsigned char*>(der.data());
  std::unique_ptr<PKCS12, decltype(&PKCS12_free)> p12(d2i_PKCS12(nullptr, &p, static_cast<long>(der.size())),
                                                      &PKCS12_free);
  if (!p12) return Status::InvalidArgument("the sink certificate is not a PKCS#12 bundle");
  EVP_PKEY* key = nullptr;
  X509* cert = nullptr;
  STACK_OF(X509)* ca = nullptr;
  if (PKCS12_parse(p12.get(), password.c_str(), &key, &cert, &ca) != 1 || !key || !cert) {
    EVP_PKEY_free(key);
    X509_free(cert);
    if (ca) sk_X509_pop_free(ca, X509_free);
    return Status::InvalidArgument("cannot open the sink's PKCS#12 bundle (wrong CertificatePassword?)");
  }
  std::shared_ptr<SSL_CTX> ctx(SSL_CTX_new(TLS_client_method()), &SSL_CTX_free);
  const bool ok = ctx && SSL_CTX_use_certificate(ctx.get(), cert) == 1 && SSL_CTX_use_PrivateKey(ctx.get(), key) == 1;
  EVP_PKEY_free(key);
  X509_free(cert);
  if (ca) sk_X509_pop_free(ca, X509_free);
  if (!ok) return Status::InvalidArgument("cannot use the sink's certificate and key");
  // The hub's certificate is checked against the one it advertises on
  // /info/remote-task/tcp (pinned per connection), not against a CA.
  SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_NONE, nullptr);
  return ctx;
}

HubConnector::HubConnector(HubTarget target, std::string sink_database, std::string sink_database_id,
                           std::string sink_url)
    : target_(std::move(target)),
      sink_database_(std::move(sink_database)),
      sink_database_id_(std::move(sink_database_id)),
      sink_url_(std::move(sink_url)) {}

std::string HubConnector::last_url() const {
  std::lock_guard lock(mu_);
  return connected_once_ && preferred_ < target_.urls.size() ? target_.urls[preferred_] : std::string();
}

Result<std::unique_ptr<replication::FrameSocket>> HubConnector::connect(std::uint8_t direction) {
  TcpNegotiation n;
  n.operation = kPullReplicationOperation;
  n.version = kPullReplicationVersion;
  n.authorize_info = json::object{{"AuthorizeAs", "PullReplication"}, {"AuthorizationFor", target_.hub}};
  n.hello = json::object{{"Direction", rc::pull_replication_mode_name(direction)},
                         {"SinkDatabaseId", sink_database_id_},
                         {"SinkDatabase", sink_database_},
                         {"SinkUrl", sink_url_}};
  n.what = "pull replication hub '" + target_.hub + "'";
  return connect(n);
}

Result<std::unique_ptr<replication::FrameSocket>> HubConnector::connect(const TcpNegotiation& negotiation) {
  size_t start;
  {
    std::lock_guard lock(mu_);
    start = preferred_;
  }
  std::string errors;
  const size_t n = target_.urls.size();
  for (size_t i = 0; i < n; ++i) {
    const size_t index = (start + i) % n;
    auto socket = connect_via(target_.urls[index], negotiation);
    if (socket.ok()) {
      std::lock_guard lock(mu_);
      preferred_ = index;
      connected_once_ = true;
      return socket;
    }
    if (!errors.empty()) errors += "; ";
    errors += target_.urls[index] + ": " + socket.status().message();
  }
  {
    // Next time start after the node that was preferred: it just failed.
    std::lock_guard lock(mu_);
    if (n > 0 && preferred_ == start) preferred_ = (start + 1) % n;
  }
  return Status::Busy("no node of " + negotiation.what + " answered: " + errors);
}

Status HubConnector::check_pin(X509* presented, const std::string& where) const {
  if (target_.server_key_hash.empty()) return Status::Ok();
  const std::string presented_hash = presented ? http::describe_certificate(presented).public_key_hash : std::string();
  if (presented_hash == target_.server_key_hash) return Status::Ok();
  return Status::Busy(where + " presented a certificate whose public key hash is '" + presented_hash +
                      "', not the connection string's ServerKeyHash '" + target_.server_key_hash +
                      "': refused before sending anything");
}

Result<std::unique_ptr<replication::FrameSocket>> HubConnector::connect_via(const std::string& url,
                                                                           const TcpNegotiation& negotiation) {
  auto http = parse_endpoint(url);
  if (!http.ok()) return http.status();
  // Where the hub's TCP port is, and the certificate it presents there.
  auto info_stream = open_stream(*http, target_.tls.get());
  if (!info_stream.ok()) return info_stream.status();
  if (http->tls) {
    if (Status s = check_pin((*info_stream)->peer_certificate(), url); !s.ok()) return s;
  }
  auto info = http_get(**info_stream, *http,
                       "/info/remote-task/tcp?database=" + url_encode(target_.database) +
                           "&remote-task=" + url_encode(target_.hub) + "&verify-database=true");
  if (!info.ok()) return info.status();
  if (info->first != 200) {
    return Status::Busy("GET /info/remote-task/tcp answered " + std::to_string(info->first) + ": " + info->second);
  }
  boost::system::error_code ec;
  const json::value tcp_info = json::parse(info->second, ec);
  if (ec || !tcp_info.is_object() || !tcp_info.as_object().contains("Url") ||
      !tcp_info.as_object().at("Url").is_string()) {
    return Status::Busy("GET /info/remote-task/tcp: no Url in " + info->second);
  }
  std::string tcp_url(tcp_info.as_object().at("Url").as_string());
  std::string pinned;
  if (const json::value* c = tcp_info.as_object().if_contains("Certificate"); c && c->is_string()) {
    pinned = std::string(c->as_string());
  }
  auto tcp = parse_endpoint(tcp_url);
  if (!tcp.ok()) return tcp.status();
  tcp->tls = http->tls;  // the TCP listener speaks TLS exactly when the hub serves https
  auto stream = open_stream(*tcp, target_.tls.get());
  if (!stream.ok()) return stream.status();
  if (tcp->tls) {
    X509* presented = (*stream)->peer_certificate();
    if (!presented || (!pinned.empty() && security::der_base64(presented) != pinned)) {
      return Status::Busy(tcp_url + " presented a certificate other than the one the hub advertises");
    }
    if (Status s = check_pin(presented, tcp_url); !s.ok()) return s;
  }
  json::object header{{"DatabaseName", target_.database},
                      {"Operation", negotiation.operation},
                      {"OperationVersion", negotiation.version}};
  if (!negotiation.authorize_info.empty()) header["AuthorizeInfo"] = negotiation.authorize_info;
  if (Status s = (*stream)->write(json::serialize(header), kExchangeTimeout); !s.ok()) return s;
  if (Status s = expect_ok(**stream, "the TCP negotiation with " + tcp_url); !s.ok()) return s;
  if (Status s = (*stream)->write(json::serialize(negotiation.hello), kExchangeTimeout); !s.ok()) return s;
  if (Status s = expect_ok(**stream, negotiation.what); !s.ok()) return s;
  return std::make_unique<replication::FrameSocket>(std::make_unique<tcp::TcpByteStream>(*stream));
}

}  // namespace corvus::server::pull_replication
