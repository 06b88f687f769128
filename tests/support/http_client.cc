#include "tests/support/http_client.h"

#include <sys/socket.h>
#include <sys/time.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>

namespace corvus::testing {

namespace asio = boost::asio;
namespace http = boost::beast::http;
using tcp = asio::ip::tcp;

struct HttpClient::Impl {
  std::string host;
  uint16_t port;
  std::chrono::milliseconds timeout;
  asio::io_context io;
  tcp::socket socket{io};
  boost::beast::flat_buffer buffer;

  bool connect(std::string& error) {
    boost::system::error_code ec;
    socket = tcp::socket(io);
    socket.connect(tcp::endpoint(asio::ip::make_address(host), port), ec);
    if (ec) {
      error = "connect: " + ec.message();
      return false;
    }
    timeval tv{};
    tv.tv_sec = timeout.count() / 1000;
    tv.tv_usec = (timeout.count() % 1000) * 1000;
    ::setsockopt(socket.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    ::setsockopt(socket.native_handle(), SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    buffer.clear();
    return true;
  }
};

HttpClient::HttpClient(std::string host, uint16_t port, std::chrono::milliseconds timeout)
    : impl_(std::make_unique<Impl>()) {
  impl_->host = std::move(host);
  impl_->port = port;
  impl_->timeout = timeout;
}

HttpClient::~HttpClient() = default;

HttpResult HttpClient::request(const std::string& method, const std::string& target, const std::string& body,
                               const std::map<std::string, std::string>& headers) {
  HttpResult result;
  http::request<http::string_body> req(http::string_to_verb(method), target, 11);
  req.set(http::field::host, impl_->host);
  for (const auto& [k, v] : headers) req.set(k, v);
  if (!body.empty() || method == "PUT" || method == "POST") {
    req.body() = body;
    req.set(http::field::content_type, "application/json");
  }
  req.prepare_payload();
  req.keep_alive(true);
  // One retry: a keep-alive connection the server closed between requests.
  for (int attempt = 0; attempt < 2; ++attempt) {
    if (!impl_->socket.is_open() && !impl_->connect(result.error)) return result;
    boost::system::error_code ec;
    http::write(impl_->socket, req, ec);
    http::response_parser<http::string_body> parser;
    parser.body_limit(256u << 20);
    if (method == "HEAD") parser.skip(true);
    if (!ec) http::read(impl_->socket, impl_->buffer, parser, ec);
    if (ec) {
      result.error = ec.message();
      boost::system::error_code ignored;
      impl_->socket.close(ignored);
      // Only a stale keep-alive connection is retried; a timeout is an answer.
      if (attempt == 0 && (ec == http::error::end_of_stream || ec == asio::error::connection_reset ||
                           ec == asio::error::broken_pipe))
        continue;
      return result;
    }
    auto res = parser.release();
    result.status = static_cast<int>(res.result_int());
    result.body = std::move(res.body());
    for (const auto& f : res) {
      std::string name(f.name_string());
      for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      result.headers[name] = std::string(f.value());
    }
    result.error.clear();
    if (!res.keep_alive()) impl_->socket.close(ec);
    return result;
  }
  return result;
}

}  // namespace corvus::testing
