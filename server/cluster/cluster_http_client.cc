#include "server/cluster/cluster_http_client.h"

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include "server/options/server_options.h"

namespace corvus::server::cluster {
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
namespace asio = boost::asio;

Result<HttpReply> http_call(bhttp::verb method, const std::string& base_url, const std::string& target,
                            const std::string& body, std::chrono::milliseconds timeout,
                            const std::string& extra_header_name, const std::string& extra_header_value) {
  auto hp = parse_http_url(base_url);
  if (!hp.ok()) return hp.status();
  asio::io_context io;
  beast::tcp_stream stream(io);
  asio::ip::tcp::resolver resolver(io);
  boost::system::error_code ec;
  auto results = resolver.resolve(hp->host, std::to_string(hp->port), ec);
  if (ec) return Status::IOError("cannot resolve " + base_url + ": " + ec.message());

  bhttp::request<bhttp::string_body> req{method, target, 11};
  req.set(bhttp::field::host, hp->host + ":" + std::to_string(hp->port));
  req.set(bhttp::field::content_type, "application/json; charset=utf-8");
  if (!extra_header_name.empty()) req.set(extra_header_name, extra_header_value);
  req.body() = body;
  req.prepare_payload();

  bhttp::response<bhttp::string_body> res;
  beast::flat_buffer buffer;
  bool done = false;
  stream.expires_after(timeout);
  stream.async_connect(results, [&](boost::system::error_code e, const asio::ip::tcp::endpoint&) {
    if (e) {
      ec = e;
      done = true;
      return;
    }
    bhttp::async_write(stream, req, [&](boost::system::error_code e2, std::size_t) {
      if (e2) {
        ec = e2;
        done = true;
        return;
      }
      bhttp::async_read(stream, buffer, res, [&](boost::system::error_code e3, std::size_t) {
        ec = e3;
        done = true;
      });
    });
  });
  io.run();
  boost::system::error_code ignored;
  stream.socket().shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
  if (!done || ec) {
    if (ec == beast::error::timeout) return Status::Timeout("no answer from " + base_url + " in time");
    return Status::IOError("request to " + base_url + target + " failed: " + ec.message());
  }
  return HttpReply{res.result_int(), std::move(res.body())};
}

}  // namespace corvus::server::cluster
