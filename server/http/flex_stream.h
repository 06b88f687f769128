#pragma once
// FlexStream: one accepted connection's byte stream, plain TCP or TLS, behind
// the one AsyncReadStream/AsyncWriteStream interface Beast and Asio use. The
// Connection's request logic (header read, bodies, responses, drain) is written
// once against it; which of the two streams carries the bytes is decided after
// the first bytes arrived (Connection: beast::async_detect_ssl), when
// start_tls() moves the socket under a TLS stream.
//
// Owned by its Connection (internal to server/http). Thread-safety: like a
// socket, used from the connection's strand only.

#include <boost/asio/buffer.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/beast/core/stream_traits.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <optional>
#include <utility>

namespace corvus::server::http {

class FlexStream {
 public:
  using TlsStream = boost::beast::ssl_stream<boost::asio::ip::tcp::socket>;
  using executor_type = boost::asio::ip::tcp::socket::executor_type;

  explicit FlexStream(boost::asio::ip::tcp::socket socket) : plain_(std::move(socket)) {}

  executor_type get_executor() { return socket().get_executor(); }

  // The TCP socket under either stream: for shutdown, close and timeouts.
  boost::asio::ip::tcp::socket& socket() { return tls_ ? boost::beast::get_lowest_layer(*tls_) : *plain_; }

  bool is_tls() const { return tls_.has_value(); }
  TlsStream& tls() { return *tls_; }

  // From now on the bytes go through TLS (the handshake is the caller's next
  // step). `context` must outlive this stream.
  void start_tls(boost::asio::ssl::context& context) {
    tls_.emplace(std::move(*plain_), context);
    plain_.reset();
  }

  // Callback completion handlers only (all this module uses), hence void.
  template <class MutableBuffers, class Handler>
  void async_read_some(const MutableBuffers& buffers, Handler&& handler) {
    if (tls_) {
      tls_->async_read_some(buffers, std::forward<Handler>(handler));
    } else {
      plain_->async_read_some(buffers, std::forward<Handler>(handler));
    }
  }

  template <class ConstBuffers, class Handler>
  void async_write_some(const ConstBuffers& buffers, Handler&& handler) {
    if (tls_) {
      // Beast's ssl_stream (its flat_stream) writes 0 bytes for a sequence that
      // starts with an empty buffer followed by a large one, and Asio's write
      // loop takes a 0-byte write as the end: what follows would be dropped
      // silently. asio::async_write passes exactly that after the head of a
      // streamed response went out alone. Skip leading empty buffers.
      auto it = boost::asio::buffer_sequence_begin(buffers);
      const auto end = boost::asio::buffer_sequence_end(buffers);
      if (it != end && boost::asio::const_buffer(*it).size() == 0) {
        while (it != end && boost::asio::const_buffer(*it).size() == 0) ++it;
        const boost::asio::const_buffer first = it == end ? boost::asio::const_buffer() : boost::asio::const_buffer(*it);
        tls_->async_write_some(first, std::forward<Handler>(handler));
        return;
      }
      tls_->async_write_some(buffers, std::forward<Handler>(handler));
    } else {
      plain_->async_write_some(buffers, std::forward<Handler>(handler));
    }
  }

 private:
  std::optional<boost::asio::ip::tcp::socket> plain_;
  std::optional<TlsStream> tls_;
};

}  // namespace corvus::server::http
