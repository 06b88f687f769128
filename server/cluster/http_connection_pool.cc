#include "server/cluster/http_connection_pool.h"

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include "server/options/server_options.h"

namespace corvus::server::cluster {
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
namespace asio = boost::asio;
using Clock = std::chrono::steady_clock;

struct HttpConnectionPool::Connection {
  asio::io_context io;
  beast::tcp_stream stream{io};
  // https: TLS over `stream` (whose deadlines still apply).
  std::unique_ptr<asio::ssl::stream<beast::tcp_stream&>> tls;
  beast::flat_buffer buffer;
  Clock::time_point idle_since;
  bool reused = false;
};

HttpConnectionPool::HttpConnectionPool() = default;
HttpConnectionPool::~HttpConnectionPool() = default;

void HttpConnectionPool::set_tls(std::shared_ptr<const NodeTls> tls, std::function<std::string(X509*)> check) {
  tls_ = std::move(tls);
  check_ = std::move(check);
}

std::unique_ptr<HttpConnectionPool::Connection> HttpConnectionPool::take(const std::string& base_url) {
  std::lock_guard lock(mu_);
  auto& list = idle_[base_url];
  while (!list.empty()) {
    auto c = std::move(list.back());
    list.pop_back();
    if (Clock::now() - c->idle_since < kMaxIdle) {
      c->reused = true;
      return c;
    }
  }
  return nullptr;
}

void HttpConnectionPool::give_back(const std::string& base_url, std::unique_ptr<Connection> c) {
  c->idle_since = Clock::now();
  std::lock_guard lock(mu_);
  auto& list = idle_[base_url];
  if (list.size() < kMaxIdlePerUrl) list.push_back(std::move(c));
}

Result<HttpReply> HttpConnectionPool::call(bhttp::verb method, const std::string& base_url, const std::string& target,
                                           const std::string& body, std::chrono::milliseconds timeout,
                                           const std::string& extra_header_name,
                                           const std::string& extra_header_value) {
  auto hp = parse_http_url(base_url);
  if (!hp.ok()) return hp.status();
  if (hp->https && !tls_) {
    return Status::InvalidArgument("cannot call " + base_url +
                                   ": this node has no certificate, so it cannot talk to a secured (https) node");
  }
  if (!hp->https && tls_) {
    return Status::InvalidArgument("cannot call " + base_url +
                                   ": this node is secured (it has a certificate) and talks to https:// nodes only");
  }
  bhttp::request<bhttp::string_body> req{method, target, 11};
  req.set(bhttp::field::host, hp->host + ":" + std::to_string(hp->port));
  req.set(bhttp::field::content_type, "application/json; charset=utf-8");
  req.keep_alive(true);
  if (!extra_header_name.empty()) req.set(extra_header_name, extra_header_value);
  req.body() = body;
  req.prepare_payload();

  for (int attempt = 0; attempt < 2; ++attempt) {
    std::unique_ptr<Connection> c = take(base_url);
    boost::system::error_code ec;
    if (!c) {
      c = std::make_unique<Connection>();
      asio::ip::tcp::resolver resolver(c->io);
      auto results = resolver.resolve(hp->host, std::to_string(hp->port), ec);
      if (ec) return Status::IOError("cannot resolve " + base_url + ": " + ec.message());
      c->stream.expires_after(timeout);
      c->stream.async_connect(results, [&](boost::system::error_code e, const asio::ip::tcp::endpoint&) { ec = e; });
      c->io.run();
      c->io.restart();
      if (ec) return Status::Busy("cannot connect to " + base_url + ": " + ec.message() + " (nothing sent)");
      if (hp->https) {
        c->tls = std::make_unique<asio::ssl::stream<beast::tcp_stream&>>(c->stream, tls_->context());
        c->tls->async_handshake(asio::ssl::stream_base::client, [&](boost::system::error_code e) { ec = e; });
        c->io.run();
        c->io.restart();
        if (ec) {
          return Status::Busy("TLS handshake with " + base_url + " failed: " + ec.message() + " (nothing sent)");
        }
        if (std::string why = check_(SSL_get0_peer_certificate(c->tls->native_handle())); !why.empty()) {
          return Status::Busy("refusing the certificate of " + base_url + ": " + why + " (nothing sent)");
        }
      }
    }
    bool sent = false;
    bhttp::response<bhttp::string_body> res;
    c->stream.expires_after(timeout);
    const auto exchange = [&](auto& stream) {
      bhttp::async_write(stream, req, [&](boost::system::error_code e, std::size_t) {
        ec = e;
        if (e) return;
        sent = true;
        bhttp::async_read(stream, c->buffer, res, [&](boost::system::error_code e2, std::size_t) { ec = e2; });
      });
    };
    if (c->tls) {
      exchange(*c->tls);
    } else {
      exchange(c->stream);
    }
    c->io.run();
    c->io.restart();
    if (!ec) {
      const bool keep = res.keep_alive();
      HttpReply reply{res.result_int(), std::move(res.body())};
      if (keep) give_back(base_url, std::move(c));
      return reply;
    }
    // A kept-alive connection the peer closed while idle fails on the write,
    // or on the first read byte; a fresh connection is worth one more try.
    const bool stale = c->reused && (!sent || ec == bhttp::error::end_of_stream || ec == asio::error::connection_reset ||
                                     ec == asio::ssl::error::stream_truncated);
    if (stale && attempt == 0) continue;
    if (!sent) return Status::Busy("cannot send to " + base_url + ": " + ec.message() + " (nothing sent)");
    if (ec == beast::error::timeout) return Status::Timeout("no answer from " + base_url + " in time");
    return Status::IOError("request to " + base_url + target + " failed: " + ec.message());
  }
  return Status::IOError("request to " + base_url + target + " failed");
}

}  // namespace corvus::server::cluster
