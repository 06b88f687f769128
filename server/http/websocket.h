#pragma once
// WebSocket endpoints: how a handler takes its connection over as a WebSocket
// (RFC 6455, text messages), keeping the HTTP layer generic. The handler
// checks the request as usual (database, access) and answers
// Response::websocket(endpoint); the connection then accepts the upgrade
// (or answers 400 when the request is not a WebSocket upgrade), and from then
// on the socket belongs to the endpoint through a WebSocketChannel.
//
// Ownership: the channel (internal WebSocketSession) owns the endpoint through
// shared_ptr and keeps its Connection listed in the server's registry until
// the socket is closed; the endpoint sees the channel only through weak_ptr,
// so an endpoint kept elsewhere (a feed) never keeps a dead socket alive.
// Server shutdown closes every WebSocket (close code 1001).
//
// Thread-safety: the endpoint's callbacks run on the connection's strand, one
// at a time; the channel's wake() and close() may be called from any thread.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace corvus::server::http {

class WebSocketChannel {
 public:
  virtual ~WebSocketChannel() = default;
  // There are messages to send: once no write is in flight, the channel pulls
  // them one by one with WebSocketEndpoint::next_outgoing(). Pulling (rather
  // than pushing) leaves the queue, its bound and any batching to the
  // endpoint, and paces it by the peer's reading.
  virtual void wake() = 0;
  // Sends a close frame (`code`, `reason`, at most 123 bytes) after the message
  // being written, then closes; messages not yet pulled are not sent. A peer
  // that does not take the close frame within a few seconds is cut off.
  virtual void close(uint16_t code, std::string reason) = 0;
};

class WebSocketEndpoint {
 public:
  virtual ~WebSocketEndpoint() = default;
  // The upgrade is done; `channel` stays valid (lockable) until on_closed.
  virtual void on_open(std::weak_ptr<WebSocketChannel> channel) = 0;
  // One whole text (or binary) message from the peer.
  virtual void on_message(std::string_view text) = 0;
  // The next message to send, or nullopt when there is none (call wake() once
  // there is).
  virtual std::optional<std::string> next_outgoing() = 0;
  // Called exactly once when the socket is closed (by either side, an error,
  // or the server stopping), also when the upgrade itself failed.
  virtual void on_closed() = 0;
};

}  // namespace corvus::server::http
