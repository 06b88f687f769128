// Connection, TLS ports: detecting TLS from the first bytes, the handshake
// and the client's certificate, and the answer to plain HTTP. See
// http_connection.h; the request logic is in http_connection.cc.

#include <boost/beast/core/bind_handler.hpp>
#include <boost/beast/core/detect_ssl.hpp>
#include <boost/beast/http/field.hpp>
#include <openssl/ssl.h>
#include <string>

#include "server/http/client_certificate.h"
#include "server/http/error_response.h"
#include "server/http/http_connection.h"
#include "server/logging/logger.h"

namespace corvus::server::http {

// Strand. Bounded by the read timeout like any first request.
void Connection::detect_tls() {
  if (!transport_) return;
  arm_read_timer();
  beast::async_detect_ssl(*transport_, buffer_, beast::bind_front_handler(&Connection::on_detect, shared_from_this()));
}

void Connection::on_detect(error_code ec, bool is_tls) {
  if (ec) {
    cancel_read_timer();
    fail(ec, "detect tls");
    return;
  }
  if (!is_tls) {
    // Read the plain request as usual, so the answer can name its https URL.
    tls_required_ = true;
    do_read();
    return;
  }
  transport_->start_tls(*core_->tls);
  // The bytes detect_ssl read are the start of the ClientHello.
  transport_->tls().async_handshake(asio::ssl::stream_base::server, buffer_.data(),
                                    beast::bind_front_handler(&Connection::on_handshake, shared_from_this()));
}

void Connection::on_handshake(error_code ec, std::size_t used) {
  cancel_read_timer();
  if (ec) {
    // E.g. a client that does not trust our certificate: nothing HTTP can say.
    log::debug("tls handshake failed").kv("error", ec.message());
    fail(ec, "tls handshake");
    return;
  }
  buffer_.consume(used);
  if (X509* peer = SSL_get0_peer_certificate(transport_->tls().native_handle())) {
    client_cert_ = describe_certificate(peer);
    req_.client_certificate = &*client_cert_;
    log::debug("tls client certificate")
        .kv("thumbprint", client_cert_->thumbprint)
        .kv("subject", client_cert_->subject);
  }
  do_read();
}

// A plain-HTTP request on the TLS port: 400, in plain HTTP, naming the URL
// the client should have used (its own Host header when it is a plain
// host[:port], else this listener's address; the port this request reached
// when Host names none), then close.
void Connection::reply_tls_required() {
  std::string host;
  if (const auto* f = current_fields()) {
    if (auto it = f->find(bhttp::field::host); it != f->end()) host = std::string(it->value());
  }
  const bool host_ok = !host.empty() && host.size() <= 255 &&
                       host.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-:[]") ==
                           std::string::npos;
  if (!host_ok) host = core_->opts.host;
  // No port in Host (or no usable Host): the port this request reached, which
  // is the one that serves HTTPS.
  const size_t bracket = host.rfind(']');
  const size_t colon = host.rfind(':');
  if (colon == std::string::npos || (bracket != std::string::npos && colon < bracket)) {
    host += ":" + std::to_string(core_->bound_port);
  }
  const std::string target = current_target();
  const std::string url = "https://" + host + (target.empty() || target.front() != '/' ? "/" : target);
  reply_error_and_close(error_response(
      400, kBadRequestType,
      "This server requires TLS: the request came as plain HTTP to a port that serves HTTPS only. Use " + url,
      target));
}

void Connection::close_if_idle() {
  cancel_read_timer();
  if (auto ws = websocket_.lock()) {
    ws->close(1001, "The server is stopping");
    return;
  }
  if (state_ == State::Reading && transport_) {
    error_code ec;
    transport_->socket().shutdown(tcp::socket::shutdown_both, ec);
    transport_->socket().close(ec);
  }
}

void Connection::abandon() {
  uint64_t s = respond_state_.load(std::memory_order_seq_cst);
  while (phase_of(s) == Phase::Pending) {
    if (respond_state_.compare_exchange_weak(s, with_phase(s, Phase::Abandoned), std::memory_order_seq_cst)) {
      drain_timer_.reset();
      read_timer_.reset();
      idle_timer_.reset();
      transport_.reset();
      ex_.reset();
      return;
    }
  }
  // Any other phase: the connection is owned by queued operations (or a Respond
  // is handing over right now, which shutdown() waits for through `responders`)
  // and dies with the io_context.
}

}  // namespace corvus::server::http
