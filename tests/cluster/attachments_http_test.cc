// Attachments over HTTP against a real corvusd: each endpoint, Range
// requests, bulk_docs multipart, and bad input (missing document or
// attachment, malformed multipart, a body cut off mid-stream): each a clear
// 4xx (or a closed connection for a cut body), and nothing written: the etag
// does not move and no blob or temp file is left.

#include <boost/json.hpp>
#include <doctest/doctest.h>
#include <filesystem>
#include <fstream>
#include <thread>

#include "tests/support/http_checks.h"
#include "tests/support/single_node_db.h"
#include "tests/support/stream_client.h"

using namespace corvus::testing;
namespace fs = std::filesystem;

namespace {

// Files under the database's blobs/ (stored blobs) and blobs/tmp (uploads).
struct BlobFiles {
  size_t blobs = 0;
  size_t temps = 0;
};
BlobFiles blob_files(const std::string& data_dir) {
  BlobFiles out;
  fs::path dir = fs::path(data_dir) / "databases" / "db" / "storage" / "blobs";
  if (!fs::exists(dir)) return out;
  // The server renames and unlinks files meanwhile: no throwing calls.
  std::error_code ec;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    std::error_code fec;
    if (it->is_regular_file(fec)) ++out.blobs;
  }
  for (fs::directory_iterator it(dir / "tmp", ec), end; !ec && it != end; it.increment(ec)) {
    std::error_code fec;
    if (it->is_regular_file(fec)) ++out.temps;
  }
  return out;
}

// The server unlinks unreferenced blobs on its collector thread: wait
// (bounded) for the count to settle at `n`.
bool eventually_blobs(const std::string& data_dir, size_t n) {
  for (int i = 0; i < 200; ++i) {
    if (blob_files(data_dir).blobs == n) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(25));
  }
  return false;
}

// Temp files: an upload in progress, or a blob the collector is unlinking.
bool eventually_no_temps(const std::string& data_dir) {
  for (int i = 0; i < 200; ++i) {
    if (blob_files(data_dir).temps == 0) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(25));
  }
  return false;
}

std::string multipart(const std::string& boundary, const std::string& main,
                      const std::vector<std::string>& attachments) {
  std::string b = "--" + boundary + "\r\nContent-Disposition: form-data; name=\"main\"\r\nContent-Type: application/json\r\n\r\n" + main;
  for (size_t i = 0; i < attachments.size(); ++i) {
    b += "\r\n--" + boundary + "\r\nContent-Disposition: form-data; name=\"attachment_" + std::to_string(i) +
         "\"; filename=\"blob\"\r\nContent-Type: application/octet-stream\r\n\r\n" + attachments[i];
  }
  b += "\r\n--" + boundary + "--\r\n";
  return b;
}

}  // namespace

TEST_CASE("corvusd: attachments over HTTP") {
  SingleNodeDb node;
  HttpClient& c = node.client;
  const std::string& data = node.data_dir;
  REQUIRE(c.request("PUT", "/databases/db/docs?id=users/1", R"({"a":1,"@metadata":{"@collection":"Users"}})").status == 201);
  REQUIRE(c.request("PUT", "/databases/db/docs?id=users/2", R"({"a":2,"@metadata":{"@collection":"Users"}})").status == 201);
  std::string bytes;
  for (int i = 0; i < 100000; ++i) bytes.push_back(static_cast<char>((i * 7919) % 251));

  auto put = c.request("PUT", "/databases/db/attachments?id=users/1&name=pic.bin&contentType=image%2Fpng", bytes);
  REQUIRE_MESSAGE(put.status == 201, put.body);
  auto details = boost::json::parse(put.body).as_object();
  CHECK(details["Size"].to_number<uint64_t>() == bytes.size());
  CHECK(details["DocumentId"].as_string() == "users/1");
  CHECK(details["ContentType"].as_string() == "image/png");
  const std::string hash(details["Hash"].as_string());
  CHECK(hash.size() == 44);

  SUBCASE("GET returns the bytes and the headers; HEAD the headers; the document lists it") {
    auto get = c.request("GET", "/databases/db/attachments?id=users/1&name=pic.bin");
    REQUIRE(get.status == 200);
    CHECK(get.body == bytes);
    CHECK(get.header("content-type") == "image/png");
    CHECK(get.header("attachment-hash") == hash);
    CHECK(get.header("attachment-size") == std::to_string(bytes.size()));
    CHECK(get.header("etag") == "\"" + std::string(details["ChangeVector"].as_string()) + "\"");
    auto head = c.request("HEAD", "/databases/db/attachments?id=users/1&name=pic.bin");
    CHECK(head.status == 200);
    CHECK(head.header("attachment-hash") == hash);
    auto doc = boost::json::parse(c.request("GET", "/databases/db/docs?id=users/1").body);
    auto& md = doc.as_object()["Results"].as_array()[0].as_object()["@metadata"].as_object();
    CHECK(md["@flags"].as_string() == "HasAttachments");
    CHECK(md["@attachments"].as_array()[0].as_object()["Hash"].as_string() == hash);
  }
  SUBCASE("Range: first-last, open-ended, suffix; unsatisfiable is 416") {
    auto r = c.request("GET", "/databases/db/attachments?id=users/1&name=pic.bin", "", {{"Range", "bytes=10-19"}});
    CHECK(r.status == 206);
    CHECK(r.body == bytes.substr(10, 10));
    CHECK(r.header("content-range") == "bytes 10-19/100000");
    r = c.request("GET", "/databases/db/attachments?id=users/1&name=pic.bin", "", {{"Range", "bytes=99990-"}});
    CHECK(r.status == 206);
    CHECK(r.body == bytes.substr(99990));
    r = c.request("GET", "/databases/db/attachments?id=users/1&name=pic.bin", "", {{"Range", "bytes=-5"}});
    CHECK(r.status == 206);
    CHECK(r.body == bytes.substr(bytes.size() - 5));
    r = c.request("GET", "/databases/db/attachments?id=users/1&name=pic.bin", "", {{"Range", "bytes=100000-"}});
    CHECK(r.status == 416);
    CHECK(r.header("content-range") == "bytes */100000");
  }
  SUBCASE("the same bytes on two documents are stored once; the last reference frees them") {
    REQUIRE(c.request("PUT", "/databases/db/attachments?id=users/2&name=copy.bin", bytes).status == 201);
    CHECK(blob_files(data).blobs == 1);
    CHECK(c.request("DELETE", "/databases/db/attachments?id=users/1&name=pic.bin").status == 204);
    CHECK(c.request("GET", "/databases/db/attachments?id=users/2&name=copy.bin").body == bytes);
    CHECK(blob_files(data).blobs == 1);
    CHECK(c.request("DELETE", "/databases/db/docs?id=users/2").status == 204);
    CHECK(eventually_blobs(data, 0));
    CHECK(c.request("GET", "/databases/db/attachments?id=users/2&name=copy.bin").status == 404);
  }
  SUBCASE("bulk_docs multipart: AttachmentPUT takes its part; AttachmentDELETE, COPY") {
    const std::string main =
        R"({"Commands":[{"Id":"users/2","Name":"a.txt","ContentType":"text/plain","ChangeVector":null,"Type":"AttachmentPUT"},)"
        R"({"Id":"users/1","Name":"pic.bin","DestinationId":"users/2","DestinationName":"pic2.bin","Type":"AttachmentCOPY"}]})";
    auto r = c.request("POST", "/databases/db/bulk_docs", multipart("XyZ", main, {"hello"}),
                       {{"Content-Type", "multipart/form-data; boundary=XyZ"}});
    REQUIRE_MESSAGE(r.status == 201, r.body);
    auto results = boost::json::parse(r.body).as_object()["Results"].as_array();
    CHECK(results[0].as_object()["Type"].as_string() == "AttachmentPUT");
    CHECK(results[0].as_object()["Size"].to_number<int>() == 5);
    CHECK(results[1].as_object()["Type"].as_string() == "AttachmentCOPY");
    // RavenDB's copy reply names the copy: the clients file it under Id/Name.
    CHECK(results[1].as_object()["Id"].as_string() == "users/2");
    CHECK(results[1].as_object()["Name"].as_string() == "pic2.bin");
    CHECK(c.request("GET", "/databases/db/attachments?id=users/2&name=a.txt").body == "hello");
    // Onto an attachment that exists: 409, nothing written.
    const uint64_t before_conflict = last_etag(c);
    check_error(c.request("POST", "/databases/db/bulk_docs",
                          R"({"Commands":[{"Id":"users/2","Name":"a.txt","DestinationId":"users/2","DestinationName":"pic2.bin","Type":"AttachmentCOPY"}]})"),
                409, "pic2.bin");
    CHECK(last_etag(c) == before_conflict);
    CHECK(c.request("GET", "/databases/db/attachments?id=users/2&name=pic2.bin").body == bytes);
    r = c.request("POST", "/databases/db/bulk_docs",
                  R"({"Commands":[{"Id":"users/2","Name":"a.txt","Type":"AttachmentDELETE"}]})");
    REQUIRE_MESSAGE(r.status == 201, r.body);
    CHECK(boost::json::parse(r.body).as_object()["Results"].as_array()[0].as_object()["@id"].as_string() == "users/2");
    CHECK(c.request("GET", "/databases/db/attachments?id=users/2&name=a.txt").status == 404);
    r = c.request("POST", "/databases/db/bulk_docs",
                  R"({"Commands":[{"Id":"users/2","Name":"pic2.bin","DestinationId":"users/1","DestinationName":"moved.bin","Type":"AttachmentMOVE"}]})");
    REQUIRE_MESSAGE(r.status == 201, r.body);
    const auto moved = boost::json::parse(r.body).as_object()["Results"].as_array()[0].as_object();
    CHECK(moved.at("Id").as_string() == "users/2");  // a move reply names the source, then the destination
    CHECK(moved.at("DestinationId").as_string() == "users/1");
    CHECK(moved.at("DestinationName").as_string() == "moved.bin");
    CHECK(moved.at("DocumentChangeVector").as_string() != moved.at("DestinationDocumentChangeVector").as_string());
    CHECK(c.request("GET", "/databases/db/attachments?id=users/2&name=pic2.bin").status == 404);
    CHECK(c.request("GET", "/databases/db/attachments?id=users/1&name=moved.bin").body == bytes);
  }
  SUBCASE("bad input: a clear 4xx and nothing written") {
    const uint64_t before = last_etag(c);
    const BlobFiles files_before = blob_files(data);
    check_error(c.request("PUT", "/databases/db/attachments?id=users/404&name=x.bin", "bytes"), 404, "users/404");
    check_error(c.request("GET", "/databases/db/attachments?id=users/1&name=missing.bin"), 404, "missing.bin");
    CHECK(c.request("HEAD", "/databases/db/attachments?id=users/1&name=missing.bin").status == 404);
    check_error(c.request("PUT", "/databases/db/attachments?id=users/1", "bytes"), 400, "'name' is required");
    check_error(c.request("GET", "/databases/db/attachments?name=x"), 400, "'id' is required");
    check_error(c.request("POST", "/databases/db/bulk_docs", "--b\r\nContent-Disposition: form-data; name=\"main\"\r\n\r\n{}",
                          {{"Content-Type", "multipart/form-data; boundary=b"}}),
                400, "multipart");
    check_error(c.request("POST", "/databases/db/bulk_docs", "x", {{"Content-Type", "multipart/form-data"}}), 400,
                "boundary");
    // An AttachmentPUT whose document is missing: the stored part is collected again.
    check_error(c.request("POST", "/databases/db/bulk_docs",
                          multipart("q", R"({"Commands":[{"Id":"users/404","Name":"n","Type":"AttachmentPUT"}]})",
                                    {"orphan bytes"}),
                          {{"Content-Type", "multipart/form-data; boundary=q"}}),
                404, "users/404");
    // More parts than AttachmentPUT commands.
    check_error(c.request("POST", "/databases/db/bulk_docs", multipart("q", R"({"Commands":[]})", {"extra"}),
                          {{"Content-Type", "multipart/form-data; boundary=q"}}),
                400, "attachment parts");
    // An AttachmentPUT without its part.
    check_error(c.request("POST", "/databases/db/bulk_docs",
                          R"({"Commands":[{"Id":"users/1","Name":"n","Type":"AttachmentPUT"}]})"),
                400, "multipart");
    {
      // A body cut off mid-stream: the connection closes, nothing is kept.
      StreamConnection s(node.port, std::chrono::seconds(10));
      REQUIRE(s.connected());
      REQUIRE(s.send("PUT /databases/db/attachments?id=users/1&name=cut.bin HTTP/1.1\r\nHost: x\r\n"
                     "Content-Length: 1000000\r\n\r\n"));
      REQUIRE(s.send(std::string(300000, 'c')));
      s.shutdown_send();
      // The server sees the body end early: it answers 400 (the temp file is
      // already gone by then) and closes.
      auto r = s.read_response();
      CHECK_MESSAGE(r.status == 400, r.status << " " << r.error << " " << r.body);
      CHECK(r.header("connection") == "close");
    }
    CHECK(eventually_no_temps(data));
    check_error(c.request("GET", "/databases/db/attachments?id=users/1&name=cut.bin"), 404, "cut.bin");
    CHECK(last_etag(c) == before);
    CHECK(eventually_blobs(data, files_before.blobs));
    CHECK(eventually_no_temps(data));
  }
  SUBCASE("deleting the database deletes its blobs") {
    const fs::path db_dir = fs::path(data) / "databases" / "db";
    REQUIRE(blob_files(data).blobs == 1);
    auto r = c.request("DELETE", "/admin/databases", R"({"DatabaseNames":["db"],"HardDelete":true})");
    REQUIRE_MESSAGE(r.status == 200, r.body);
    bool gone = false;
    for (int i = 0; i < 400 && !gone; ++i) {
      gone = !fs::exists(db_dir);
      if (!gone) std::this_thread::sleep_for(std::chrono::milliseconds(25));
    }
    CHECK(gone);
  }
  SUBCASE("restart keeps attachments; a blob left without a reference is collected on open") {
    const fs::path blobs = fs::path(data) / "databases" / "db" / "storage" / "blobs";
    REQUIRE(node.server.terminate() == 0);
    { std::ofstream(blobs / "tmp" / "half-upload") << "partial"; }
    { std::ofstream(blobs / "orphan") << "no reference"; }
    REQUIRE_MESSAGE(node.server.start(), node.server.log());
    HttpClient c2("127.0.0.1", node.port);
    CHECK(c2.request("GET", "/databases/db/attachments?id=users/1&name=pic.bin").body == bytes);
    CHECK_FALSE(fs::exists(blobs / "orphan"));
    CHECK_FALSE(fs::exists(blobs / "tmp" / "half-upload"));
  }
}

TEST_CASE("corvusd: kill -9 mid-upload leaves nothing; an acknowledged attachment survives kill -9") {
  SingleNodeDb node;
  const std::string& data = node.data_dir;
  {
    HttpClient& c = node.client;
    REQUIRE(c.request("PUT", "/databases/db/docs?id=users/1", R"({"a":1})").status == 201);
    REQUIRE(c.request("PUT", "/databases/db/attachments?id=users/1&name=acked.bin", std::string(200000, 'k')).status ==
            201);
  }
  StreamConnection s(node.port, std::chrono::seconds(10));
  REQUIRE(s.connected());
  REQUIRE(s.send("PUT /databases/db/attachments?id=users/1&name=half.bin HTTP/1.1\r\nHost: x\r\n"
                 "Content-Length: 100000000\r\n\r\n"));
  REQUIRE(s.send(std::string(8 << 20, 'h')));
  // The upload is under way once its temp file holds bytes (bounded wait).
  bool writing = false;
  for (int i = 0; i < 200 && !writing; ++i) {
    writing = blob_files(data).temps == 1;
    if (!writing) std::this_thread::sleep_for(std::chrono::milliseconds(25));
  }
  CHECK(writing);
  node.server.kill9();
  s.close();
  CHECK(blob_files(data).blobs == 1);  // only the acknowledged one

  REQUIRE_MESSAGE(node.server.start(), node.server.log());
  HttpClient c("127.0.0.1", node.port);
  auto acked = c.request("GET", "/databases/db/attachments?id=users/1&name=acked.bin");
  CHECK(acked.status == 200);
  CHECK(acked.body == std::string(200000, 'k'));
  CHECK(c.request("GET", "/databases/db/attachments?id=users/1&name=half.bin").status == 404);
  const BlobFiles after = blob_files(data);
  CHECK(after.temps == 0);
  CHECK(after.blobs == 1);
}
