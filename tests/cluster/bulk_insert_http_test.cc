// POST /databases/db/bulk_insert as raw HTTP against a real corvusd: a stream
// of PUT / Counters / AttachmentPUT / HeartBeat commands, the operation's
// state; and bad input: a malformed command, an unsupported type, a stream
// cut off in the middle of a document (what was flushed before stays whole,
// nothing after it is written), a kill while the stream is open. The npm
// client's side is tests/compat/bulk_insert.test.mjs.
#include <doctest/doctest.h>

#include <string>

#include <boost/json.hpp>

#include "tests/support/http_checks.h"
#include "tests/support/single_node_db.h"
#include "tests/support/stream_client.h"

using namespace corvus::testing;
namespace json = boost::json;

namespace {

std::string put_command(int i) {
  return R"({"Id":"users/)" + std::to_string(i) + R"(","Type":"PUT","Document":{"name":"user )" + std::to_string(i) +
         R"(","@metadata":{"@collection":"Users"}}})";
}

// Request head of a chunked bulk insert for operation `id`.
std::string head(uint16_t port, uint64_t id) {
  return "POST /databases/db/bulk_insert?id=" + std::to_string(id) +
         "&skipOverwriteIfUnchanged=false HTTP/1.1\r\nHost: 127.0.0.1:" + std::to_string(port) +
         "\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n";
}

std::string chunk(std::string_view bytes) {
  char size[32];
  std::snprintf(size, sizeof size, "%zx\r\n", bytes.size());
  return std::string(size) + std::string(bytes) + "\r\n";
}

uint64_t next_operation_id(SingleNodeDb& db) {
  auto r = db.client.request("GET", "/databases/db/operations/next-operation-id");
  REQUIRE(r.status == 200);
  auto o = json::parse(r.body).as_object();
  CHECK(o.at("NodeTag").as_string() == "A");
  return static_cast<uint64_t>(o.at("Id").as_int64());
}

json::object state_of(SingleNodeDb& db, uint64_t id) {
  auto r = db.client.request("GET", "/databases/db/operations/state?id=" + std::to_string(id));
  REQUIRE_MESSAGE(r.status == 200, r.body);
  return json::parse(r.body).as_object();
}

uint64_t count_of(SingleNodeDb& db, const char* field) {
  auto r = db.client.request("GET", "/databases/db/stats");
  REQUIRE(r.status == 200);
  return static_cast<uint64_t>(json::parse(r.body).at(field).as_int64());
}

}  // namespace

TEST_CASE("bulk_insert: documents, counters and an attachment in one stream; the operation completes") {
  SingleNodeDb db;
  const uint64_t id = next_operation_id(db);
  StreamConnection c(db.port);
  REQUIRE(c.send(head(db.port, id)));
  std::string body = "[";
  for (int i = 0; i < 2500; ++i) body += (i ? "," : "") + put_command(i);
  body += R"(,{"Type":"HeartBeat"})";
  body += R"(,{"Id":"users/7","Type":"Counters","Counters":{"DocumentId":"users/7","Operations":[{"Type":"Increment","CounterName":"likes","Delta":3}]}})";
  std::string bytes = "raw ";
  bytes.push_back('\0');
  bytes += " bytes, not JSON: ] } \"";
  body += R"(,{"Id":"users/8","Type":"AttachmentPUT","Name":"a.bin","ContentType":"application/octet-stream","ContentLength":)" +
          std::to_string(bytes.size()) + "}" + bytes + "]";
  // Sent in small pieces, so elements and the raw bytes span chunks.
  for (size_t at = 0; at < body.size(); at += 777) REQUIRE(c.send(chunk(std::string_view(body).substr(at, 777))));
  REQUIRE(c.send("0\r\n\r\n"));
  auto r = c.read_response();
  CHECK_MESSAGE(r.status == 200, r.body);
  CHECK(r.body.empty());

  auto st = state_of(db, id);
  CHECK(st.at("Status").as_string() == "Completed");
  CHECK(st.at("Result").at("Total").as_int64() == 2502);
  CHECK(count_of(db, "CountOfDocuments") == 2500);
  CHECK(count_of(db, "CountOfCounterEntries") == 1);
  auto doc = db.client.request("GET", "/databases/db/docs?id=users/2499");
  CHECK(doc.status == 200);
  CHECK(doc.body.find("user 2499") != std::string::npos);
  auto att = db.client.request("GET", "/databases/db/attachments?id=users/8&name=a.bin");
  CHECK(att.status == 200);
  CHECK(att.body == bytes);
  // The id is taken: a second bulk insert under it is refused.
  StreamConnection again(db.port);
  REQUIRE(again.send(head(db.port, id) + chunk("[]") + "0\r\n\r\n"));
  auto refused = again.read_response();
  CHECK(refused.status == 400);
  CHECK(refused.body.find("already exists") != std::string::npos);
}

TEST_CASE("bulk_insert: bad input fails the operation with its reason; flushed work stays whole") {
  SingleNodeDb db;
  SUBCASE("a malformed command: nothing of its flush is written") {
    const uint64_t id = next_operation_id(db);
    StreamConnection c(db.port);
    REQUIRE(c.send(head(db.port, id) + chunk("[" + put_command(1) + R"(,{"Id":"users/2","Type":"PUT","Document":{"a":1,}})")));
    auto r = c.read_response();
    CHECK(r.status == 400);
    CHECK(r.body.find("not JSON") != std::string::npos);
    auto st = state_of(db, id);
    CHECK(st.at("Status").as_string() == "Faulted");
    CHECK(std::string(st.at("Result").at("Error").as_string()).find("#2") != std::string::npos);
    CHECK(count_of(db, "CountOfDocuments") == 0);
  }
  SUBCASE("an unsupported command type is named") {
    const uint64_t id = next_operation_id(db);
    StreamConnection c(db.port);
    REQUIRE(c.send(head(db.port, id) + chunk(R"([{"Id":"users/1","Type":"DELETE"}])") + "0\r\n\r\n"));
    auto r = c.read_response();
    CHECK(r.status == 400);
    CHECK(r.body.find("'DELETE' is not supported in a bulk insert") != std::string::npos);
  }
  SUBCASE("not an array") {
    const uint64_t id = next_operation_id(db);
    StreamConnection c(db.port);
    REQUIRE(c.send(head(db.port, id) + chunk(R"({"Id":"users/1"})") + "0\r\n\r\n"));
    auto r = c.read_response();
    CHECK(r.status == 400);
    CHECK(r.body.find("expected '['") != std::string::npos);
  }
  SUBCASE("cut off in the middle of a document: the flushed commands stay, the rest is not written") {
    const uint64_t id = next_operation_id(db);
    StreamConnection c(db.port);
    REQUIRE(c.send(head(db.port, id)));
    // 3000 commands: flushes of at least 1024 go out while the rest are read.
    std::string body = "[";
    for (int i = 0; i < 3000; ++i) body += (i ? "," : "") + put_command(i);
    body += R"(,{"Id":"users/half","Type":"PUT","Document":{"name":"half wr)";
    REQUIRE(c.send(chunk(body)));
    c.shutdown_send();  // the body ends without its last chunk: cut off
    auto r = c.read_response();
    CHECK(r.status == 400);
    CHECK_MESSAGE(r.body.find("not received completely") != std::string::npos, r.body);
    auto st = state_of(db, id);
    CHECK(st.at("Status").as_string() == "Faulted");
    CHECK(std::string(st.at("Result").at("Error").as_string()).find("cut off") != std::string::npos);
    // Whole flushes, in order: a prefix of the commands, and nothing after it.
    const uint64_t docs = count_of(db, "CountOfDocuments");
    CHECK(docs < 3000);
    for (uint64_t i = 0; i < docs; ++i) {
      auto d = db.client.request("GET", "/databases/db/docs?id=users/" + std::to_string(i));
      REQUIRE(d.status == 200);
    }
    CHECK(db.client.request("GET", "/databases/db/docs?id=users/" + std::to_string(docs)).status == 404);
    CHECK(db.client.request("GET", "/databases/db/docs?id=users/half").status == 404);
  }
  SUBCASE("killed while the stream is open: Canceled, and the stream is refused at its next bytes") {
    const uint64_t id = next_operation_id(db);
    StreamConnection c(db.port);
    REQUIRE(c.send(head(db.port, id) + chunk("[" + put_command(1))));
    auto kill = db.client.request("POST", "/databases/db/operations/kill?id=" + std::to_string(id));
    CHECK(kill.status == 204);
    CHECK(state_of(db, id).at("Status").as_string() == "Canceled");
    REQUIRE(c.send(chunk("," + put_command(2) + "]")));
    auto r = c.read_response();
    CHECK(r.status == 400);
    CHECK(r.body.find("BulkInsertAbortedException") != std::string::npos);
    CHECK(state_of(db, id).at("Status").as_string() == "Canceled");
    // Unknown operations.
    CHECK(db.client.request("GET", "/databases/db/operations/state?id=999999").status == 404);
    CHECK(db.client.request("POST", "/databases/db/operations/kill?id=999999").status == 404);
    CHECK(db.client.request("GET", "/databases/db/operations/state?id=x").status == 400);
  }
}
