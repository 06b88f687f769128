// WebSocketSession: see websocket_session.h.

#include "server/http/websocket_session.h"

#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <boost/beast/core/bind_handler.hpp>
#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/http/field.hpp>
#include <boost/beast/websocket/error.hpp>
#include <chrono>

#include "server/logging/logger.h"

namespace corvus::server::http {

namespace {
namespace websocket = boost::beast::websocket;
using boost::system::error_code;

// Largest message a peer may send (commands are a few hundred bytes).
constexpr std::size_t kMaxIncomingMessage = 64 * 1024;
// How long a peer has to take our close frame before the socket is cut.
constexpr auto kCloseTimeout = std::chrono::seconds(3);
}  // namespace

void teardown(boost::beast::role_type, FlexStream& stream, error_code& ec) {
  stream.socket().shutdown(boost::asio::ip::tcp::socket::shutdown_both, ec);
  error_code ignored;
  stream.socket().close(ignored);
  if (ec == boost::asio::error::not_connected) ec = {};
}

void beast_close_socket(FlexStream& stream) {
  error_code ignored;
  stream.socket().close(ignored);
}

WebSocketSession::WebSocketSession(std::shared_ptr<void> owner, FlexStream stream,
                                   std::shared_ptr<WebSocketEndpoint> endpoint)
    : owner_(std::move(owner)), ws_(std::move(stream)), endpoint_(std::move(endpoint)) {}

WebSocketSession::~WebSocketSession() {
  if (!finished_ && endpoint_) endpoint_->on_closed();  // the io_context went away under us
}

void WebSocketSession::start(boost::beast::http::request<boost::beast::http::empty_body> request) {
  ws_.set_option(websocket::stream_base::timeout::suggested(boost::beast::role_type::server));
  ws_.set_option(websocket::stream_base::decorator([](websocket::response_type& res) {
    res.set(boost::beast::http::field::server, "corvus");
    res.set("Raven-Server-Version", "7.0.0");
  }));
  ws_.read_message_max(kMaxIncomingMessage);
  ws_.async_accept(request, boost::beast::bind_front_handler(&WebSocketSession::on_accept, shared_from_this()));
}

void WebSocketSession::on_accept(error_code ec) {
  if (ec) {
    log::debug("websocket upgrade failed").kv("error", ec.message());
    finish();
    return;
  }
  open_ = true;
  endpoint_->on_open(weak_from_this());
  do_read();
  pump();
}

void WebSocketSession::do_read() {
  ws_.async_read(read_buf_, boost::beast::bind_front_handler(&WebSocketSession::on_read, shared_from_this()));
}

void WebSocketSession::on_read(error_code ec, std::size_t) {
  if (ec) {
    if (ec != websocket::error::closed) log::debug("websocket read ended").kv("error", ec.message());
    finish();
    return;
  }
  if (!finished_ && !closing_) {
    const std::string text = boost::beast::buffers_to_string(read_buf_.data());
    endpoint_->on_message(text);
  }
  read_buf_.consume(read_buf_.size());
  do_read();
}

void WebSocketSession::wake() {
  boost::asio::dispatch(ws_.get_executor(), [self = shared_from_this()] { self->pump(); });
}

void WebSocketSession::pump() {
  if (!open_ || finished_ || writing_ || closing_) return;
  if (close_pending_) {
    start_close();
    return;
  }
  auto next = endpoint_->next_outgoing();
  if (!next) return;
  out_ = std::move(*next);
  writing_ = true;
  ws_.text(true);
  ws_.async_write(boost::asio::buffer(out_),
                  boost::beast::bind_front_handler(&WebSocketSession::on_write, shared_from_this()));
}

void WebSocketSession::on_write(error_code ec, std::size_t) {
  writing_ = false;
  out_.clear();
  if (ec) {
    log::debug("websocket write failed").kv("error", ec.message());
    finish();
    return;
  }
  pump();
}

void WebSocketSession::close(uint16_t code, std::string reason) {
  if (reason.size() > 123) reason.resize(123);  // a close frame's payload is at most 125 bytes
  boost::asio::dispatch(ws_.get_executor(), [self = shared_from_this(), code, reason = std::move(reason)]() mutable {
    if (self->finished_ || self->close_pending_ || self->closing_) return;
    self->close_pending_.emplace(static_cast<websocket::close_code>(code), reason);
    // A peer that does not read never lets the pending write or the close
    // frame go: cut the socket after a bounded time.
    self->close_timer_.emplace(self->ws_.get_executor());
    self->close_timer_->expires_after(kCloseTimeout);
    self->close_timer_->async_wait([weak = self->weak_from_this()](error_code tec) {
      if (tec) return;
      if (auto s = weak.lock(); s && !s->finished_) {
        log::debug("websocket peer did not take the close frame: cut off");
        error_code ignored;
        s->ws_.next_layer().socket().shutdown(boost::asio::ip::tcp::socket::shutdown_both, ignored);
        s->ws_.next_layer().socket().close(ignored);
      }
    });
    if (!self->open_) return;  // still accepting: on_accept's pump() closes
    self->pump();
  });
}

void WebSocketSession::start_close() {
  closing_ = true;
  ws_.async_close(*close_pending_, [self = shared_from_this()](error_code ec) {
    if (ec) log::trace("websocket close").kv("error", ec.message());
    self->finish();
  });
}

void WebSocketSession::finish() {
  if (finished_) return;
  finished_ = true;
  open_ = false;
  if (close_timer_) close_timer_->cancel();
  error_code ignored;
  ws_.next_layer().socket().close(ignored);  // ends the pending read, if any
  endpoint_->on_closed();
  // The Connection goes once the last pending operation lets go of us.
  boost::asio::post(ws_.get_executor(), [self = shared_from_this()] { self->owner_.reset(); });
}

}  // namespace corvus::server::http
