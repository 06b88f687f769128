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

#include "tests/support/changes_client.h"
#include "tests/support/single_node_db.h"

using namespace corvus::testing;
namespace json = boost::json;
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace websocket = boost::beast::websocket;

namespace {

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
  CHECK(c.topology_supported);
  for (const char* accepted : {"watch-indexes", "watch-operations", "watch-topology-change"}) {
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

TEST_CASE("changes: watch-index(es) tell IndexAdded, BatchCompleted and IndexRemoved of the auto-indexes") {
  SingleNodeDb db;
  put(db, "users/1");
  ChangesClient all(db.port, "db");
  all.send(command(1, "watch-indexes"));
  REQUIRE(expect_one(all).at("Type").as_string() == "Confirm");
  ChangesClient one(db.port, "db");
  one.send(command(1, "watch-index", "auto/users/byv"));  // names compare case-insensitively
  REQUIRE(expect_one(one).at("Type").as_string() == "Confirm");
  ChangesClient other(db.port, "db");
  other.send(command(1, "watch-index", "Auto/Orders/ByV"));
  REQUIRE(expect_one(other).at("Type").as_string() == "Confirm");
  other.send(command(2, "watch-index"));  // without its name
  CHECK(expect_one(other).at("Type").as_string() == "Error");

  auto q = db.client.request("POST", "/databases/db/queries?waitForNonStaleResults=true",
                             R"({"Query":"from Users where V = 1"})");
  REQUIRE_MESSAGE(q.status == 200, q.body);
  REQUIRE(json::parse(q.body).at("IndexName").as_string() == "Auto/Users/ByV");
  // Added first, then (at least) one batch: the index had users/1 to index.
  auto types_until = [](ChangesClient& c, const std::string& last) {
    std::vector<std::string> types;
    while (types.empty() || types.back() != last) {
      auto messages = c.read_messages();
      REQUIRE_MESSAGE(!messages.empty(), "timed out after " << types.size() << " events");
      for (auto& m : messages) {
        REQUIRE(m.at("Type").as_string() == "IndexChange");
        CHECK(m.at("Value").as_object().at("Name").as_string() == "Auto/Users/ByV");
        types.emplace_back(m.at("Value").as_object().at("Type").as_string());
      }
    }
    return types;
  };
  for (ChangesClient* c : {&all, &one}) {
    auto types = types_until(*c, "BatchCompleted");
    CHECK(types.front() == "IndexAdded");
  }
  auto r = db.client.request("DELETE", "/databases/db/indexes?name=Auto/Users/ByV");
  REQUIRE_MESSAGE(r.status / 100 == 2, r.body);
  for (ChangesClient* c : {&all, &one}) {
    auto types = types_until(*c, "IndexRemoved");
    CHECK(types.size() == 1);
  }
  // The watcher of another index heard nothing: the next message it gets is
  // the confirmation of a later command.
  other.send(command(3, "watch-indexes"));
  auto next = expect_one(other);
  CHECK(next.at("Type").as_string() == "Confirm");
  CHECK(next.at("CommandId").as_int64() == 3);
}

TEST_CASE("changes: the server-wide /changes tells database and topology changes; bad commands are Errors") {
  SingleNodeDb db;
  ChangesClient c(ChangesClient::Path{"/changes"}, db.port);
  CHECK(!c.connection_id.empty());
  // Database commands are not server-wide ones: an Error naming it, nothing changed.
  c.send(command(1, "watch-docs"));
  auto err = expect_one(c);
  CHECK(err.at("Type").as_string() == "Error");
  CHECK(std::string(err.at("Exception").as_string()).find("watch-docs") != std::string::npos);
  c.send(command(2, "watch-database"));  // without its name
  CHECK(expect_one(c).at("Type").as_string() == "Error");
  c.send(command(3, "watch-databases"));
  REQUIRE(expect_one(c).at("Type").as_string() == "Confirm");
  c.send(command(4, "watch-topology-change"));
  REQUIRE(expect_one(c).at("Type").as_string() == "Confirm");
  ChangesClient only_db3(ChangesClient::Path{"/changes"}, db.port);
  only_db3.send(command(1, "watch-database", "DB3"));
  REQUIRE(expect_one(only_db3).at("Type").as_string() == "Confirm");

  auto r = db.client.request("PUT", "/admin/databases", R"({"DatabaseName":"db2"})");
  REQUIRE_MESSAGE(r.status / 100 == 2, r.body);
  // The new record, then its group (new: a topology clients should fetch).
  std::vector<json::object> got;
  while (got.size() < 2) {
    auto messages = c.read_messages();
    REQUIRE_MESSAGE(!messages.empty(), "timed out after " << got.size() << " events");
    got.insert(got.end(), messages.begin(), messages.end());
  }
  REQUIRE(got.size() == 2);
  CHECK(got[0].at("Type").as_string() == "DatabaseChange");
  CHECK(got[0].at("Value").as_object().at("Database").as_string() == "db2");
  CHECK(got[0].at("Value").as_object().at("Type").as_string() == "Put");
  CHECK(got[0].at("Value").as_object().at("RaftIndex").as_int64() > 0);
  CHECK(got[1].at("Type").as_string() == "TopologyChange");
  CHECK(got[1].at("Value").as_object().at("Database").as_string() == "db2");
  CHECK(std::string(got[1].at("Value").as_object().at("Url").as_string()).find(std::to_string(db.port)) !=
        std::string::npos);

  r = db.client.request("DELETE", "/admin/databases", R"({"DatabaseNames":["db2"],"HardDelete":true})");
  REQUIRE_MESSAGE(r.status / 100 == 2, r.body);
  bool deleted = false;
  while (!deleted) {
    auto messages = c.read_messages();
    REQUIRE_MESSAGE(!messages.empty(), "no Delete of db2");
    for (auto& m : messages) {
      if (m.at("Type").as_string() != "DatabaseChange") continue;
      const auto& v = m.at("Value").as_object();
      CHECK(v.at("Database").as_string() == "db2");
      deleted = v.at("Type").as_string() == "Delete";
    }
  }
  // The watcher of db3 only: db2's changes did not reach it; db3's do.
  r = db.client.request("PUT", "/admin/databases", R"({"DatabaseName":"db3"})");
  REQUIRE_MESSAGE(r.status / 100 == 2, r.body);
  auto first = expect_one(only_db3);
  CHECK(first.at("Type").as_string() == "DatabaseChange");
  CHECK(first.at("Value").as_object().at("Database").as_string() == "db3");
  // Stopping the server closes the server-wide watchers too.
  CHECK(db.server.terminate() == 0);
  while (!c.ended && !c.timed_out) c.read_messages();
  CHECK_FALSE(c.timed_out);
  CHECK(c.close_code == std::optional<uint16_t>(1001));
}
