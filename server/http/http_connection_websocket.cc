// Connection: handing a request answered with Response::websocket over to a
// WebSocketSession. See http_connection.h and websocket.h.

#include <boost/beast/websocket/rfc6455.hpp>

#include "server/http/error_response.h"
#include "server/http/http_connection.h"

namespace corvus::server::http {

bool Connection::start_websocket() {
  bhttp::request<bhttp::empty_body> upgrade;
  static_cast<bhttp::fields&>(upgrade) = req_.headers;
  upgrade.method(req_.method);
  upgrade.target(req_.target);
  upgrade.version(http10_ ? 10 : 11);
  if (!beast::websocket::is_upgrade(upgrade) || stream_parser_ || !transport_) {
    resp_ = error_response(400, kBadRequestType,
                           "This endpoint is a WebSocket: send a GET with 'Connection: Upgrade' and 'Upgrade: websocket'",
                           req_.target);
    return false;
  }
  // Bytes already read past the request would be frames sent before our 101,
  // which a WebSocket client does not do; they are not replayed.
  state_ = State::WebSocket;
  cancel_read_timer();
  auto session = std::make_shared<WebSocketSession>(shared_from_this(), std::move(*transport_), std::move(resp_.websocket));
  transport_.reset();
  websocket_ = session;
  session->start(std::move(upgrade));
  return true;
}

}  // namespace corvus::server::http
