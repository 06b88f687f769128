#include "tests/support/http_client.h"

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
    buffer.clear();
    return true;
  }

  // Writes `req` and reads the answer into `parser`, bounded by `timeout`
  // end to end. Asynchronous on purpose: a blocking read with SO_RCVTIMEO is
  // retried by Asio without limit against a server that accepted the
  // connection but never answers (a SIGSTOPped node).
  boost::system::error_code exchange(http::request<http::string_body>& req,
                                     http::response_parser<http::string_body>& parser) {
    boost::system::error_code result;
    bool done = false;
    http::async_write(socket, req, [&](boost::system::error_code ec, std::size_t) {
      if (ec) {
        result = ec;
        done = true;
        return;
      }
      http::async_read(socket, buffer, parser, [&](boost::system::error_code ec2, std::size_t) {
        result = ec2;
        done = true;
      });
    });
    io.restart();
    io.run_for(timeout);
    if (!done) {
      boost::system::error_code ignored;
      socket.close(ignored);  // cancels the pending operation
      io.restart();
      io.run();
      result = asio::error::timed_out;
    }
    return result;
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
    // JSON unless the caller says otherwise (multipart batches).
    if (req.find(http::field::content_type) == req.end()) req.set(http::field::content_type, "application/json");
  }
  req.prepare_payload();
  req.keep_alive(true);
  // One retry: a keep-alive connection the server closed between requests.
  for (int attempt = 0; attempt < 2; ++attempt) {
    if (!impl_->socket.is_open() && !impl_->connect(result.error)) return result;
    http::response_parser<http::string_body> parser;
    parser.body_limit(256u << 20);
    if (method == "HEAD") parser.skip(true);
    boost::system::error_code ec = impl_->exchange(req, parser);
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
