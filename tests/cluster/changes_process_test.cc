// The Changes API's WebSocket protocol against a real corvusd, with a raw
// Beast WebSocket client: confirmations, malformed and unknown commands (an
// Error, nothing changed), events of a writer in etag order, and a reader that
// stops reading cut off once its queue passes the bound. The npm client's
// side is tests/compat/changes.test.mjs.
#include <doctest/doctest.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/json.hpp>
#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "tests/support/single_node_db.h"

using namespace corvus::testing;
namespace json = boost::json;
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace websocket = boost::beast::websocket;

namespace {

constexpr auto kWait = std::chrono::seconds(10);

// A WebSocket client whose every wait is bounded (async operations run for
// at most kWait; then the socket is closed and the wait reported as failed).
class ChangesClient {
 public:
  // `receive_buffer`: a small SO_RCVBUF makes a reader that stops reading
  // back up the server quickly.
  // `query`: e.g. "?connectionId=..&after=.." to resume a connection.
  ChangesClient(uint16_t port, const std::string& database, std::optional<int> receive_buffer = std::nullopt,
                const std::string& query = "")
      : ws_(ioc_) {
    auto& sock = ws_.next_layer();
    sock.open(asio::ip::tcp::v4());
    if (receive_buffer) sock.set_option(asio::socket_base::receive_buffer_size(*receive_buffer));
    sock.connect({asio::ip::make_address("127.0.0.1"), port});
    ws_.handshake("127.0.0.1:" + std::to_string(port), "/databases/" + database + "/changes" + query);
    // The server first tells the connection's id (for resuming it).
    // Several ready messages come as one array: the rest are kept for later.
    auto messages = read_messages();
    REQUIRE(!messages.empty());
    connection_id = std::string(messages.front().at("ConnectionId").as_string());
    pending_.assign(messages.begin() + 1, messages.end());
  }

  void close() {
    beast::error_code ignored;
    ws_.close(websocket::close_code::normal, ignored);
  }

  std::string connection_id;

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

std::string command(int id, const std::string& name, const std::string& param = "") {
  json::object c{{"CommandId", id}, {"Command", name}};
  if (!param.empty()) c["Param"] = param;
  return json::serialize(c);
}

json::object expect_one(ChangesClient& c) {
  auto messages = c.read_messages();
  REQUIRE_MESSAGE(messages.size() == 1, "timed out: " << c.timed_out << " ended: " << c.ended);
  return messages[0];
}

void put(SingleNodeDb& db, const std::string& id, const std::string& collection = "Users") {
  auto r = db.client.request("PUT", "/databases/db/docs?id=" + id,
                             R"({"V":1,"@metadata":{"@collection":")" + collection + R"("}})");
  REQUIRE_MESSAGE(r.status == 201, r.body);
}

std::string last_etag(SingleNodeDb& db) {
  auto r = db.client.request("GET", "/databases/db/stats");
  REQUIRE(r.status == 200);
  return json::serialize(json::parse(r.body).at("LastDocEtag"));
}

}  // namespace

TEST_CASE("changes: commands are confirmed; malformed and unknown ones get an Error and change nothing") {
  SingleNodeDb db;
  ChangesClient c(db.port, "db");
  const std::string etag_before = last_etag(db);

  c.send("not json");
  auto err = expect_one(c);
  CHECK(err.at("Type").as_string() == "Error");
  c.send(R"({"CommandId":"x","Command":"watch-docs"})");
  CHECK(expect_one(c).at("Type").as_string() == "Error");
  c.send(command(2, "watch-everything"));
  err = expect_one(c);
  CHECK(err.at("Type").as_string() == "Error");
  CHECK(err.at("CommandId").as_int64() == 2);
  CHECK(std::string(err.at("Exception").as_string()).find("watch-everything") != std::string::npos);
  // Without its parameter: no empty prefix (which would match everything).
  c.send(command(3, "watch-prefix"));
  CHECK(expect_one(c).at("Type").as_string() == "Error");
  c.send(R"({"CommandId":4,"Command":"watch-document-counter","Params":["users/1"]})");
  CHECK(expect_one(c).at("Type").as_string() == "Error");
  CHECK(last_etag(db) == etag_before);

  c.send(command(5, "watch-doc", "Users/1"));
  auto confirm = expect_one(c);
  CHECK(confirm.at("Type").as_string() == "Confirm");
  CHECK(confirm.at("CommandId").as_int64() == 5);
  for (const char* accepted : {"watch-indexes", "watch-operations"}) {
    c.send(command(6, accepted));
    CHECK(expect_one(c).at("Type").as_string() == "Confirm");
  }

  put(db, "users/2");
  put(db, "users/1");
  auto event = expect_one(c);
  CHECK(event.at("Type").as_string() == "DocumentChange");
  const auto& value = event.at("Value").as_object();
  CHECK(value.at("Type").as_string() == "Put");
  CHECK(value.at("Id").as_string() == "users/1");  // users/2 is not watched
  CHECK(value.at("CollectionName").as_string() == "Users");
  CHECK(std::string(value.at("ChangeVector").as_string()).rfind("A:", 0) == 0);

  c.send(command(7, "unwatch-doc", "users/1"));
  CHECK(expect_one(c).at("Type").as_string() == "Confirm");
  c.send(command(8, "watch-collection", "orders"));
  CHECK(expect_one(c).at("Type").as_string() == "Confirm");
  put(db, "users/1");
  put(db, "orders/1", "Orders");
  event = expect_one(c);
  CHECK(event.at("Value").as_object().at("Id").as_string() == "orders/1");
}

TEST_CASE("changes: not a WebSocket upgrade, or an unknown database, is an HTTP error") {
  SingleNodeDb db;
  auto plain = db.client.request("GET", "/databases/db/changes");
  CHECK(plain.status == 400);
  CHECK(plain.body.find("WebSocket") != std::string::npos);
  CHECK_THROWS(ChangesClient(db.port, "no_such_db"));
  // Resuming needs the etag to resume after.
  CHECK_THROWS(ChangesClient(db.port, "db", std::nullopt, "?connectionId=abc"));
  CHECK_THROWS(ChangesClient(db.port, "db", std::nullopt, "?connectionId=abc&after=x"));
}

TEST_CASE("changes: a writer's changes arrive complete and in etag order") {
  SingleNodeDb db;
  ChangesClient c(db.port, "db");
  c.send(command(1, "watch-docs"));
  REQUIRE(expect_one(c).at("Type").as_string() == "Confirm");
  constexpr int kDocs = 300;
  for (int b = 0; b < kDocs / 50; ++b) {
    json::array commands;
    for (int i = b * 50; i < (b + 1) * 50; ++i) {
      commands.push_back(json::object{{"Type", "PUT"},
                                      {"Id", "docs/" + std::to_string(i)},
                                      {"Document", json::object{{"I", i}, {"@metadata", {{"@collection", "Docs"}}}}}});
    }
    auto r = db.client.request("POST", "/databases/db/bulk_docs", json::serialize(json::object{{"Commands", commands}}));
    REQUIRE_MESSAGE(r.status == 201, r.body);
  }
  std::vector<std::string> ids;
  while (ids.size() < kDocs) {
    auto messages = c.read_messages();
    REQUIRE_MESSAGE(!messages.empty(), "got " << ids.size() << " events, then nothing");
    for (auto& m : messages) {
      REQUIRE(m.at("Type").as_string() == "DocumentChange");
      ids.emplace_back(m.at("Value").as_object().at("Id").as_string());
    }
  }
  REQUIRE(ids.size() == kDocs);
  for (int i = 0; i < kDocs; ++i) CHECK(ids[i] == "docs/" + std::to_string(i));
}

TEST_CASE("changes: a reader that stops reading is cut off at the bound; others carry on") {
  SingleNodeDb db({"--changes-max-queued-events", "100"});
  ChangesClient slow(db.port, "db", 4096);
  slow.send(command(1, "watch-docs"));
  REQUIRE(expect_one(slow).at("Type").as_string() == "Confirm");

  // Far more than the socket buffers hold (ids of 2 KB: about 12 MB of
  // events), written while `slow` reads nothing.
  const std::string pad(2000, 'x');
  constexpr int kBatches = 60, kPerBatch = 100;
  for (int b = 0; b < kBatches; ++b) {
    json::array commands;
    for (int i = 0; i < kPerBatch; ++i) {
      commands.push_back(json::object{{"Type", "PUT"},
                                      {"Id", "slow/" + std::to_string(b * kPerBatch + i) + "/" + pad},
                                      {"Document", json::object{{"@metadata", {{"@collection", "Slow"}}}}}});
    }
    auto r = db.client.request("POST", "/databases/db/bulk_docs", json::serialize(json::object{{"Commands", commands}}));
    REQUIRE_MESSAGE(r.status == 201, r.body.substr(0, 300));
  }

  size_t events = 0;
  while (true) {
    auto messages = slow.read_messages();
    if (messages.empty()) break;
    events += messages.size();
  }
  CHECK_FALSE(slow.timed_out);
  CHECK(slow.ended);
  CHECK(events < static_cast<size_t>(kBatches * kPerBatch));
  // The reason arrives when the reader came back before the server gave up
  // on it (a few seconds); otherwise the connection was cut.
  if (slow.close_code) {
    CHECK(*slow.close_code == 1008);
    CHECK(slow.close_reason.find("Too many changes") != std::string::npos);
  }

  // The server is fine, and a new watcher gets new changes.
  ChangesClient fresh(db.port, "db");
  fresh.send(command(1, "watch-doc", "after/1"));
  REQUIRE(expect_one(fresh).at("Type").as_string() == "Confirm");
  put(db, "after/1");
  CHECK(expect_one(fresh).at("Value").as_object().at("Id").as_string() == "after/1");
}

TEST_CASE("changes: watch-operations tells an operation's states; a bad operation id is an Error") {
  SingleNodeDb db;
  put(db, "users/1");
  put(db, "users/2");
  ChangesClient c(db.port, "db");
  c.send(command(1, "watch-operation", "abc"));
  CHECK(expect_one(c).at("Type").as_string() == "Error");
  c.send(command(2, "watch-operations"));
  REQUIRE(expect_one(c).at("Type").as_string() == "Confirm");

  auto r = db.client.request("DELETE", "/databases/db/queries", R"({"Query":"from Users where V = 1"})");
  REQUIRE_MESSAGE(r.status == 200, r.body);
  const int64_t id = json::parse(r.body).at("OperationId").as_int64();
  std::vector<std::string> states;
  while (states.empty() || states.back() == "InProgress") {
    auto messages = c.read_messages();
    REQUIRE_MESSAGE(!messages.empty(), "states so far: " << states.size());
    for (auto& m : messages) {
      REQUIRE(m.at("Type").as_string() == "OperationStatusChange");
      const auto& value = m.at("Value").as_object();
      CHECK(value.at("OperationId").as_int64() == id);
      states.emplace_back(value.at("State").as_object().at("Status").as_string());
    }
  }
  CHECK(states.back() == "Completed");
}

TEST_CASE("changes: deleting the database and stopping the server close the watchers (1001)") {
  SingleNodeDb db;
  {
    ChangesClient c(db.port, "db");
    c.send(command(1, "watch-docs"));
    REQUIRE(expect_one(c).at("Type").as_string() == "Confirm");
    auto r = db.client.request("DELETE", "/admin/databases", R"({"DatabaseNames":["db"],"HardDelete":true})");
    REQUIRE_MESSAGE(r.status / 100 == 2, r.body);
    CHECK(c.read_messages().empty());
    CHECK_FALSE(c.timed_out);
    CHECK(c.close_code == std::optional<uint16_t>(1001));
  }
  auto r = db.client.request("PUT", "/admin/databases", R"({"DatabaseName":"db2"})");
  REQUIRE_MESSAGE(r.status / 100 == 2, r.body);
  ChangesClient c(db.port, "db2");
  c.send(command(1, "watch-docs"));
  REQUIRE(expect_one(c).at("Type").as_string() == "Confirm");
  CHECK(db.server.terminate() == 0);
  CHECK(c.read_messages().empty());
  CHECK_FALSE(c.timed_out);
  CHECK(c.close_code == std::optional<uint16_t>(1001));
}

TEST_CASE("changes: a connection resumed by id gets what it missed, once, then the live changes") {
  SingleNodeDb db;
  std::string id;
  int64_t last_etag = 0;
  {
    ChangesClient c(db.port, "db");
    id = c.connection_id;
    c.send(command(1, "watch-prefix", "r/"));
    REQUIRE(expect_one(c).at("Type").as_string() == "Confirm");
    c.send(command(2, "watch-doc", "users/1"));
    REQUIRE(expect_one(c).at("Type").as_string() == "Confirm");
    put(db, "r/1");
    auto e = expect_one(c);
    REQUIRE(e.at("Value").as_object().at("Id").as_string() == "r/1");
    last_etag = e.at("Value").as_object().at("Etag").as_int64();
    c.close();
  }
  // Missed while disconnected (other/1 is not watched).
  put(db, "r/2");
  put(db, "other/1");
  put(db, "users/1");
  put(db, "r/3");

  ChangesClient resumed(db.port, "db", std::nullopt, "?connectionId=" + id + "&after=" + std::to_string(last_etag));
  CHECK(resumed.connection_id != id);
  std::vector<std::string> ids;
  int64_t previous = last_etag;
  while (ids.size() < 3) {
    auto messages = resumed.read_messages();
    REQUIRE_MESSAGE(!messages.empty(), "got " << ids.size());
    for (auto& m : messages) {
      REQUIRE(m.at("Type").as_string() == "DocumentChange");
      const auto& v = m.at("Value").as_object();
      CHECK(v.at("Etag").as_int64() > previous);
      previous = v.at("Etag").as_int64();
      ids.emplace_back(v.at("Id").as_string());
    }
  }
  CHECK(ids == std::vector<std::string>{"r/2", "users/1", "r/3"});
  put(db, "r/4");
  auto live = expect_one(resumed);
  CHECK(live.at("Value").as_object().at("Id").as_string() == "r/4");

  // An id that cannot be resumed (already resumed once, or unknown): told
  // that changes may have been missed, then a fresh connection.
  ChangesClient stale(db.port, "db", std::nullopt, "?connectionId=" + id + "&after=1");
  auto err = expect_one(stale);
  CHECK(err.at("Type").as_string() == "Error");
  CHECK(std::string(err.at("Exception").as_string()).find("missed") != std::string::npos);
  stale.send(command(1, "watch-doc", "r/5"));
  REQUIRE(expect_one(stale).at("Type").as_string() == "Confirm");
  put(db, "r/5");
  CHECK(expect_one(stale).at("Value").as_object().at("Id").as_string() == "r/5");
}
