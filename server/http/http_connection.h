#pragma once
// Connection: one accepted socket of the HttpServer (internal to server/http;
// declared here only for http_server.cc and http_connection*.cc).
//
// On a TLS port it first looks at the first bytes: a TLS ClientHello gets the
// handshake (the client's certificate, if any, is recorded for every request),
// anything else is taken as plain HTTP and answered 400 "TLS is required". It
// reads a request header first, matches the route, then reads the body whole
// into Request::body or hands it to the handler as a stream (BodyReader); calls
// the handler; writes the Response given to Respond (whole, or pulled chunk by
// chunk from a BodySource); then reads the next request (keep-alive, no
// pipelining), or closes, draining unread request bytes after an error.
//
// Ownership and lifecycle: created by HttpServer::Core::on_accept, then
// start() lists it in Core's connection registry (Core::conns: raw pointers,
// guarded by Core::mu; the destructor removes it). It is owned through
// shared_ptr (see the class comment) and dies when the last owner lets go;
// it holds the Core through shared_ptr. Core::shutdown() calls close_if_idle()
// on its strand and, once the I/O threads are joined, abandon().
//
// Thread-safety: everything runs on the connection's strand (executor()),
// except Respond, which may be called from any thread, and abandon().

#include <atomic>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/buffer_body.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "server/http/flex_stream.h"
#include "server/http/request.h"
#include "server/http/response.h"
#include "server/http/router.h"
#include "server/http/server_core.h"
#include "server/http/websocket_session.h"

namespace corvus::server::http {

// One accepted socket. Owned through shared_ptr by its pending async operations,
// and by itself (self_pending_) while a handler holds its Respond. All members are
// touched only on the connection's strand, except respond_state_/self_pending_
// (handed over to the Respond caller) and what abandon() touches after the I/O
// threads have been joined.
class Connection : public std::enable_shared_from_this<Connection> {
 public:
  Connection(std::shared_ptr<HttpServer::Core> core, tcp::socket socket);
  ~Connection();
  void start();

  const asio::any_io_executor& executor() const { return *ex_; }

  // Shutdown: an idle connection (waiting for the next request) is closed now; a
  // busy one closes after writing its response (core_->stopping).
  void close_if_idle();

  // Called by shutdown() after the I/O threads are joined, with core->mu held.
  // If a handler still holds our Respond, mark it abandoned and release the socket
  // while the io_context still exists; the late Respond then only drops its
  // self-reference.
  void abandon();

 private:
  enum class State { Reading, Handling, Writing, Closing, WebSocket };
  // respond_state_ = generation << 3 | phase. The generation makes a stale
  // compare-exchange from a previous request's Respond fail (no ABA).
  enum class Phase : uint64_t { Idle = 0, Pending = 1, Responding = 2, Responded = 3, Abandoned = 4 };
  static Phase phase_of(uint64_t s) { return static_cast<Phase>(s & 7); }
  static uint64_t with_phase(uint64_t s, Phase p) { return (s & ~uint64_t{7}) | static_cast<uint64_t>(p); }

  // ---- TLS detection and handshake (TLS ports) --------------------------------

  // In http_connection_tls.cc.
  void detect_tls();
  void on_detect(error_code ec, bool is_tls);
  void on_handshake(error_code ec, std::size_t used);
  void reply_tls_required();

  // ---- reading ----------------------------------------------------------------

  void do_read();
  void on_header(error_code ec, std::size_t /*bytes*/);
  void arm_read_timer();
  void cancel_read_timer();
  void on_read(error_code ec, std::size_t /*bytes*/);
  const bhttp::fields* current_fields() const;
  void reply_too_large(uint64_t limit, bool streaming);
  void on_read_error(error_code ec);
  std::string current_target() const;
  void assign_request_id();
  void handle_request();

  // ---- streamed request bodies ------------------------------------------------

  class StreamReader final : public BodyReader {
   public:
    explicit StreamReader(Connection& c) : c_(c) {}
    void read(OnChunk on_chunk) override { c_.stream_read(std::move(on_chunk)); }
    std::optional<uint64_t> content_length() const override {
      if (!c_.stream_parser_) return std::nullopt;
      auto n = c_.stream_parser_->content_length();
      return n ? std::optional<uint64_t>(*n) : std::nullopt;
    }

   private:
    Connection& c_;
  };

  void stream_read(BodyReader::OnChunk on_chunk);
  void on_stream_read(error_code ec, std::size_t /*bytes*/);
  void arm_idle_timer(const char* what);
  void cancel_idle_timer();

  // ---- responding -------------------------------------------------------------

  void respond(Response r);
  void on_respond(Response r, uint64_t gen);
  // The handler answered Response::websocket: hand the socket to a
  // WebSocketSession (http_connection_tls.cc), or answer 400 when the request
  // is not an upgrade (false).
  bool start_websocket();
  void reply_error_and_close(Response r);
  void append_header(std::string_view name, std::string_view value);
  static bool header_safe(std::string_view s);
  void write_response(bool close, bool drain, bool head);
  void on_write(error_code ec, std::size_t /*bytes*/);
  bool body_pending() const;
  int64_t pull_chunk();
  void frame_chunk(int64_t n);
  void write_next_chunk();

  // ---- closing ----------------------------------------------------------------

  void do_close(bool drain);
  void do_drain();
  void on_drain(error_code ec, std::size_t n);
  void fail(error_code ec, const char* what);

  std::shared_ptr<HttpServer::Core> core_;
  std::optional<asio::any_io_executor> ex_;  // the strand
  std::optional<FlexStream> transport_;
  // TLS ports: set once the handshake is done (client_cert_ when the client
  // presented one; req_ points at it for every request of the connection).
  std::optional<ClientCertificate> client_cert_;
  // A plain-HTTP client on the TLS port: its first request is answered 400.
  bool tls_required_ = false;
  beast::flat_buffer buffer_;
  // The header is read by header_parser_, then moved into parser_ (whole
  // body) or stream_parser_ (streaming routes).
  std::optional<bhttp::request_parser<bhttp::empty_body>> header_parser_;
  std::optional<bhttp::request_parser<bhttp::string_body>> parser_;
  std::optional<bhttp::request_parser<bhttp::buffer_body>> stream_parser_;
  std::string_view raw_path_;  // into req_.target
  StreamReader stream_reader_{*this};
  BodyReader::OnChunk pending_chunk_;
  bool expect_continue_ = false;  // a streamed body's client waits for "100 Continue"
  std::optional<Response> stream_failure_;  // a streamed request body that failed
  std::vector<char> chunk_buf_;             // streamed bodies, both directions
  // How a streamed response body is delimited: Content-Length, chunked
  // transfer encoding, or (HTTP/1.0, length unknown) closing the connection.
  enum class Framing { Sized, Chunked, UntilClose };
  Framing framing_ = Framing::Sized;
  uint64_t source_remaining_ = 0;  // Sized: streamed response bytes not yet written
  bool source_more_ = false;       // Chunked/UntilClose: the source has not reached its end
  std::string chunk_head_;         // Chunked: "<hex size>\r\n" of the chunk being written
  std::vector<asio::const_buffer> out_buffers_;  // what the current write sends
  std::optional<asio::steady_timer> idle_timer_;
  Request req_;
  Response resp_;
  std::string head_;
  std::string method_label_;
  const Router::Route* route_ = nullptr;
  std::chrono::steady_clock::time_point started_{};
  State state_ = State::Reading;
  bool http10_ = false;
  bool close_after_write_ = false;
  bool drain_after_write_ = false;
  size_t drained_ = 0;
  std::optional<asio::steady_timer> drain_timer_;
  std::optional<asio::steady_timer> read_timer_;
  uint64_t generation_ = 0;
  std::atomic<uint64_t> respond_state_{0};
  std::shared_ptr<Connection> self_pending_;
  // After an upgrade: the session that owns the socket now (and us).
  std::weak_ptr<WebSocketSession> websocket_;
};

}  // namespace corvus::server::http
