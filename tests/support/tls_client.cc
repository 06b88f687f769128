// TlsClient: see tls_client.h.

#include "tests/support/tls_client.h"

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/host_name_verification.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <optional>
#include <stdexcept>

namespace corvus::testing {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = boost::beast::http;
using tcp = asio::ip::tcp;
using error_code = boost::system::error_code;

struct TlsClient::Impl {
  uint16_t port;
  TlsClientOptions options;
  asio::io_context io;
  asio::ssl::context ctx{asio::ssl::context::tls_client};
  std::optional<beast::ssl_stream<beast::tcp_stream>> stream;
  beast::flat_buffer buffer;
  int handshakes = 0;

  Impl(uint16_t p, TlsClientOptions o) : port(p), options(std::move(o)) {
    if (!options.ca_file.empty()) {
      ctx.load_verify_file(options.ca_file);
      ctx.set_verify_mode(asio::ssl::verify_peer);
      ctx.set_verify_callback(asio::ssl::host_name_verification("localhost"));
    } else {
      ctx.set_verify_mode(asio::ssl::verify_none);
    }
    if (!options.certificate_file.empty()) {
      ctx.use_certificate_chain_file(options.certificate_file);
      ctx.use_private_key_file(options.private_key_file, asio::ssl::context::pem);
    }
  }

  // Runs the queued operations for at most the timeout; on expiry the
  // tcp_stream's own deadline has already cancelled them (same bound).
  void run() {
    io.restart();
    io.run();
  }

  std::string connect() {
    stream.reset();
    buffer.clear();
    stream.emplace(io, ctx);
    SSL_set_tlsext_host_name(stream->native_handle(), "localhost");
    auto& layer = beast::get_lowest_layer(*stream);
    layer.expires_after(options.timeout);
    error_code result;
    layer.async_connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port), [&](error_code ec) {
      if (ec) {
        result = ec;
        return;
      }
      stream->async_handshake(asio::ssl::stream_base::client, [&](error_code hec) { result = hec; });
    });
    run();
    if (result) {
      stream.reset();
      return "connect/handshake: " + result.message();
    }
    ++handshakes;
    return "";
  }

  error_code exchange(http::request<http::string_body>& req, http::response_parser<http::string_body>& parser) {
    error_code result;
    beast::get_lowest_layer(*stream).expires_after(options.timeout);
    http::async_write(*stream, req, [&](error_code ec, std::size_t) {
      if (ec) {
        result = ec;
        return;
      }
      http::async_read(*stream, buffer, parser, [&](error_code rec, std::size_t) { result = rec; });
    });
    run();
    return result;
  }
};

TlsClient::TlsClient(uint16_t port, TlsClientOptions options) : impl_(std::make_unique<Impl>(port, std::move(options))) {}
TlsClient::~TlsClient() = default;

std::string TlsClient::handshake() { return impl_->connect(); }
int TlsClient::handshakes() const { return impl_->handshakes; }

HttpResult TlsClient::request(const std::string& method, const std::string& target, const std::string& body,
                              const std::map<std::string, std::string>& headers) {
  HttpResult out;
  http::request<http::string_body> req{http::string_to_verb(method), target, 11};
  req.set(http::field::host, "localhost:" + std::to_string(impl_->port));
  for (const auto& [k, v] : headers) req.set(k, v);
  req.body() = body;
  req.prepare_payload();
  req.keep_alive(true);
  // A kept-alive connection the server closed fails at once: one fresh retry.
  for (int attempt = 0; attempt < 2; ++attempt) {
    const bool fresh = !impl_->stream;
    if (fresh) {
      if (std::string err = impl_->connect(); !err.empty()) {
        out.error = err;
        return out;
      }
    }
    http::response_parser<http::string_body> parser;
    parser.body_limit(256 * 1024 * 1024);
    error_code ec = impl_->exchange(req, parser);
    if (ec) {
      impl_->stream.reset();
      out.error = "exchange: " + ec.message();
      if (fresh) return out;
      continue;
    }
    auto& res = parser.get();
    out.status = static_cast<int>(res.result_int());
    out.body = res.body();
    for (const auto& f : res) {
      std::string name(f.name_string());
      for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      out.headers[name] = std::string(f.value());
    }
    out.error.clear();
    if (!res.keep_alive()) impl_->stream.reset();
    return out;
  }
  return out;
}

}  // namespace corvus::testing
