#pragma once
// ChangesClient: a raw Beast WebSocket client of the Changes API for process
// tests (tests/cluster): the connection id it is told first, commands, and
// reads whose every wait is bounded. Header-only; one per test, one thread.

#include <doctest/doctest.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/json.hpp>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace corvus::testing {

namespace changes_client_detail {
namespace json = boost::json;
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace websocket = boost::beast::websocket;
inline constexpr auto kWait = std::chrono::seconds(10);

// A WebSocket client whose every wait is bounded (async operations run for
// at most kWait; then the socket is closed and the wait reported as failed).
class ChangesClient {
 public:
  // `receive_buffer`: a small SO_RCVBUF makes a reader that stops reading
  // back up the server quickly.
  // `query`: e.g. "?connectionId=..&after=.." to resume a connection.
  ChangesClient(uint16_t port, const std::string& database, std::optional<int> receive_buffer = std::nullopt,
                const std::string& query = "")
      : ChangesClient(Path{"/databases/" + database + "/changes" + query}, port, receive_buffer) {}
  // Any changes endpoint, e.g. the server-wide "/changes".
  struct Path {
    std::string target;
  };
  ChangesClient(Path path, uint16_t port, std::optional<int> receive_buffer = std::nullopt) : ws_(ioc_) {
    auto& sock = ws_.next_layer();
    sock.open(asio::ip::tcp::v4());
    if (receive_buffer) sock.set_option(asio::socket_base::receive_buffer_size(*receive_buffer));
    sock.connect({asio::ip::make_address("127.0.0.1"), port});
    ws_.handshake("127.0.0.1:" + std::to_string(port), path.target);
    // The server first tells the connection's id (for resuming it).
    // Several ready messages come as one array: the rest are kept for later.
    auto messages = read_messages();
    REQUIRE(!messages.empty());
    connection_id = std::string(messages.front().at("ConnectionId").as_string());
    pending_.assign(messages.begin() + 1, messages.end());
    // A database connection then says it tells topology changes.
    if (path.target.rfind("/databases/", 0) == 0) {
      if (pending_.empty()) pending_ = read_messages();
      REQUIRE(!pending_.empty());
      topology_supported = pending_.front().contains("TopologyChange");
      if (topology_supported) pending_.erase(pending_.begin());
    }
  }

  void close() {
    beast::error_code ignored;
    ws_.close(websocket::close_code::normal, ignored);
  }

  std::string connection_id;
  bool topology_supported = false;  // {"TopologyChange":true} came second

  void send(const std::string& text) { ws_.write(asio::buffer(text)); }

  // The next message, or nullopt when the connection ended (close_code says
  // how) or nothing came within kWait (timed_out).
  std::optional<std::string> read() {
    buf_.consume(buf_.size());
    bool done = false;
    beast::error_code result;
    ws_.async_read(buf_, [&](beast::error_code ec, std::size_t) {
      done = true;
      result = ec;
    });
    ioc_.restart();
    ioc_.run_for(kWait);
    if (!done) {
      timed_out = true;
      beast::error_code ignored;
      ws_.next_layer().close(ignored);
      ioc_.restart();
      ioc_.run();
      return std::nullopt;
    }
    if (result) {
      ended = true;
      // The close frame's reason is kept even when answering it failed (the
      // server already gone): then the error is the failed write's.
      if (ws_.reason().code != websocket::close_code::none) {
        close_code = ws_.reason().code;
        close_reason = std::string(ws_.reason().reason.c_str());
      }
      return std::nullopt;
    }
    return beast::buffers_to_string(buf_.data());
  }

  // The messages of the next frame: an object, or each object of an array.
  std::vector<json::object> read_messages() {
    std::vector<json::object> out;
    if (!pending_.empty()) {
      out.swap(pending_);
      return out;
    }
    auto text = read();
    if (!text) return out;
    json::value v = json::parse(*text);
    if (v.is_array()) {
      for (auto& m : v.as_array()) out.push_back(m.as_object());
    } else {
      out.push_back(v.as_object());
    }
    return out;
  }

  bool timed_out = false;
  bool ended = false;
  std::optional<uint16_t> close_code;
  std::string close_reason;

 private:
  asio::io_context ioc_;
  websocket::stream<asio::ip::tcp::socket> ws_;
  beast::flat_buffer buf_;
  std::vector<json::object> pending_;
};

inline std::string command(int id, const std::string& name, const std::string& param = "") {
  json::object c{{"CommandId", id}, {"Command", name}};
  if (!param.empty()) c["Param"] = param;
  return json::serialize(c);
}

inline json::object expect_one(ChangesClient& c) {
  auto messages = c.read_messages();
  REQUIRE_MESSAGE(messages.size() == 1, "timed out: " << c.timed_out << " ended: " << c.ended);
  return messages[0];
}

}  // namespace changes_client_detail

using changes_client_detail::ChangesClient;
using changes_client_detail::command;
using changes_client_detail::expect_one;

}  // namespace corvus::testing
