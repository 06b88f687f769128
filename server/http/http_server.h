#pragma once
// HttpServer: corvusd's HTTP/1.1 listener (Boost.Beast over Asio).
//
// Owns an io_context run by N I/O threads, the acceptor, and one Connection per
// accepted socket (internal, in http_connection.h). A Connection reads a request,
// routes it through the Router, calls the Handler on its strand, and writes the
// Response the handler passes to Respond (possibly from another thread); then it
// reads the next request on the same socket (keep-alive, no pipelining).
//
// Streaming routes (RouteOptions::streaming_body, or streaming_body_if for
// this request's header) get their body through Request::body_reader, one
// chunk (<= 256 KiB) at a time as the handler asks; a Response with a
// BodySource is written chunk by chunk as the client takes it. Both directions
// are bounded per chunk by body_idle_timeout (the connection is closed). The
// header is read first for every request; the route then decides how the body
// is read (whole into Request::body, or streamed). Expect: 100-continue is
// answered when the body is wanted. A streamed body that fails (cut off,
// malformed, over max_streamed_body_bytes) is answered 400/413 by the
// connection itself, whatever the handler answers, then the connection closes
// (the duration metric of a streamed request includes reading its body).
//
// Every response carries Server: corvus, Raven-Server-Version: 7.0.0, Request-Id,
// Content-Length and (when there is a body) Content-Type. Errors are explained,
// never a bare hang-up: malformed HTTP -> 400 JSON then close; body over
// max_body_bytes -> 413 JSON (decided from Content-Length before reading the body)
// then close; header block over max_header_bytes -> 431; unknown route or method ->
// 400 RouteNotFoundException; a throwing handler -> 500 JSON.
//
// Metrics recorded for every request into the Registry given to start():
//   corvus_http_requests_total{route,method,status}      counter
//   corvus_http_request_duration_seconds{route,method}   histogram: from the
//        complete request being read (streamed: its header) until the
//        handler's response is ready to write
//   corvus_http_open_connections                         gauge
// Requests that never reach a route get route="unmatched" (no route for the path)
// or route="invalid_request" (malformed, too large).
//
// TLS (certificate_path set): one listener serves TLS and detects plain HTTP
// from the first bytes (the "flex" pattern, FlexStream); a plain-HTTP request
// is answered 400 in plain HTTP, naming the https URL to use, and closed.
//
// Lifecycle: start() -> running -> shutdown() (or the destructor). The Router and
// the Registry must outlive the HttpServer. Thread-safety: port() any time;
// shutdown() from any thread except an I/O thread (a handler), idempotent.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "server/http/router.h"
#include "server/metrics/registry.h"
#include "storage/status.h"

namespace corvus::server::http {

struct HttpServerOptions {
  // Address or host name to bind; port 0 picks a free port (see HttpServer::port()).
  // Default: 127.0.0.1:8080
  std::string host = "127.0.0.1";
  uint16_t port = 8080;
  // Largest request body; bigger requests get 413 and nothing is handled.
  // Default: 64 MiB
  size_t max_body_bytes = 64 * 1024 * 1024;
  // Largest request line + headers; bigger get 431. Long query strings (many ids)
  // need room. Default: 64 KiB
  size_t max_header_bytes = 64 * 1024;
  // I/O threads; 0 = std::thread::hardware_concurrency(). Handlers run on these
  // threads, so a handler that blocks holds one. Default: 0
  int threads = 0;
  // How long shutdown() waits for in-flight requests before abandoning them (their
  // late Respond calls are then dropped). Default: 10 s
  std::chrono::milliseconds shutdown_timeout{10000};
  // A connection must deliver its next complete request within this time or
  // it is closed: frees idle keep-alive connections and trickling senders.
  // Larger keeps idle clients connected longer; smaller bounds slow uploads.
  // Default: 120 s.
  std::chrono::milliseconds read_timeout{120000};
  // Streamed bodies (RouteOptions::streaming_body requests, Response::source
  // responses): the largest request body accepted, and how long one chunk may
  // take to arrive or to be taken by the client before the connection is
  // closed. Per chunk, so a 2 GB transfer has no overall deadline but a
  // stalled peer is dropped. Defaults: 64 GiB, 30 s.
  uint64_t max_streamed_body_bytes = uint64_t{64} << 30;
  std::chrono::milliseconds body_idle_timeout{30000};
  // The node's certificate (PEM with certificate and private key, or PKCS#12
  // .pfx) and the password of its key, if any. Set: the port serves HTTPS (a
  // plain-HTTP request gets a 400 naming the https URL); every TLS client is
  // asked for a certificate and any (or none) is accepted, recorded in
  // Request::client_certificate. Empty: plain HTTP only. Default: empty
  std::string certificate_path;
  std::string certificate_password;
};

class HttpServer {
 public:
  // Binds, listens and starts the I/O threads. Errors: InvalidArgument if `host`
  // is not an address and does not resolve, or the certificate cannot be used; IOError if binding/listening fails
  // (e.g. "cannot listen on 127.0.0.1:8080: Address already in use").
  static Result<std::unique_ptr<HttpServer>> start(HttpServerOptions options, const Router& router,
                                                   metrics::Registry& metrics);

  ~HttpServer();  // shutdown()
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // The bound port (the real one when options.port was 0).
  uint16_t port() const;

  // Stops accepting, closes idle keep-alive connections, lets in-flight requests
  // finish and write their response (up to options.shutdown_timeout), then stops
  // and joins the I/O threads. Connections still waiting for a handler after the
  // timeout are abandoned: their Respond becomes a no-op.
  void shutdown();

  struct Core;  // implementation detail (server_core.h), public only for the .cc files

 private:
  explicit HttpServer(std::shared_ptr<Core> core);
  std::shared_ptr<Core> core_;
};

}  // namespace corvus::server::http
