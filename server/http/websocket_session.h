#pragma once
// WebSocketSession: a Connection taken over by a WebSocketEndpoint after the
// handler answered Response::websocket (internal to server/http). Accepts the
// upgrade, reads messages one at a time into the endpoint, and writes what the
// endpoint gives it (pulled when the previous write is done), with Beast's
// suggested server timeouts (idle pings, so a vanished peer is noticed).
//
// Ownership: owned through shared_ptr by its pending operations and by the
// endpoint's channel users (weakly); it owns the endpoint and keeps its
// Connection (and so the server's registry entry) alive until the socket is
// closed. Thread-safety: runs on the connection's strand; wake(), close() and
// stop() post onto it and may be called from any thread.

#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/websocket/stream.hpp>
#include <memory>
#include <optional>
#include <string>

#include "server/http/flex_stream.h"
#include "server/http/websocket.h"

namespace corvus::server::http {

// Beast's websocket::stream closes its next layer through these (found by
// argument-dependent lookup): shut the TCP socket down and close it. No TLS
// close_notify is sent, as for the HTTP responses of this layer.
void teardown(boost::beast::role_type role, FlexStream& stream, boost::system::error_code& ec);
// And Beast closes it with this when a websocket operation times out.
void beast_close_socket(FlexStream& stream);
template <class TeardownHandler>
void async_teardown(boost::beast::role_type role, FlexStream& stream, TeardownHandler&& handler) {
  boost::system::error_code ec;
  teardown(role, stream, ec);
  boost::asio::post(stream.get_executor(),
                    [h = std::forward<TeardownHandler>(handler), ec]() mutable { std::move(h)(ec); });
}

class WebSocketSession final : public WebSocketChannel, public std::enable_shared_from_this<WebSocketSession> {
 public:
  // `owner` is the Connection (kept alive until closed); `stream` its socket.
  WebSocketSession(std::shared_ptr<void> owner, FlexStream stream, std::shared_ptr<WebSocketEndpoint> endpoint);
  ~WebSocketSession() override;

  // Strand. Answers the upgrade `request` (101), then starts reading.
  void start(boost::beast::http::request<boost::beast::http::empty_body> request);

  void wake() override;
  void close(uint16_t code, std::string reason) override;

 private:
  void on_accept(boost::system::error_code ec);
  void do_read();
  void on_read(boost::system::error_code ec, std::size_t bytes);
  void pump();
  void on_write(boost::system::error_code ec, std::size_t bytes);
  void start_close();
  void finish();

  std::shared_ptr<void> owner_;
  boost::beast::websocket::stream<FlexStream> ws_;
  std::shared_ptr<WebSocketEndpoint> endpoint_;
  boost::beast::flat_buffer read_buf_;
  std::string out_;
  std::optional<boost::asio::steady_timer> close_timer_;
  std::optional<boost::beast::websocket::close_reason> close_pending_;
  bool open_ = false;      // accepted and not yet finished
  bool writing_ = false;
  bool closing_ = false;   // async_close issued
  bool finished_ = false;
};

}  // namespace corvus::server::http
