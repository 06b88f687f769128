// A 2 GB attachment streamed in and out of a real corvusd: the bytes are
// generated on the fly by the test (no 2 GB source file), hashed on both
// sides, then a quarter of it again through a multipart bulk_docs batch (as a
// session sends attachments); corvusd's peak resident memory (VmHWM) must stay
// under 100 MB: the server holds a chunk per request, never the body.
//
// Its own ctest entry (label cluster): attachments_2gb_test. The size can be
// lowered for a quick local run with CORVUS_ATTACHMENT_TEST_MB.

#include <openssl/evp.h>
#include <sys/types.h>

#include <algorithm>
#include <boost/json.hpp>
#include <cstdlib>
#include <cstring>
#include <doctest/doctest.h>
#include <fstream>
#include <memory>
#include <string>

#include "tests/support/single_node_db.h"
#include "tests/support/stream_client.h"

using namespace corvus::testing;

namespace {

struct Sha256 {
  Sha256() : ctx(EVP_MD_CTX_new()) { EVP_DigestInit_ex(ctx, EVP_sha256(), nullptr); }
  ~Sha256() { EVP_MD_CTX_free(ctx); }
  void update(std::string_view b) { EVP_DigestUpdate(ctx, b.data(), b.size()); }
  std::string base64() {
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    EVP_DigestFinal_ex(ctx, md, &n);
    std::string out(4 * ((n + 2) / 3), '\0');
    EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), md, static_cast<int>(n));
    return out;
  }
  EVP_MD_CTX* ctx;
};

// kB value of a "Name:   123 kB" line in /proc/<pid>/status; -1 if absent.
long proc_status_kb(pid_t pid, const std::string& name) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(name + ":", 0) == 0) return std::strtol(line.c_str() + name.size() + 1, nullptr, 10);
  }
  return -1;
}

}  // namespace

TEST_CASE("corvusd: a 2 GB attachment streams in and out with bounded server memory") {
  uint64_t megabytes = 2048;
  if (const char* mb = std::getenv("CORVUS_ATTACHMENT_TEST_MB")) megabytes = std::strtoull(mb, nullptr, 10);
  const uint64_t total = megabytes << 20;

  SingleNodeDb node({"--threads", "2"});
  REQUIRE(node.client.request("PUT", "/databases/db/docs?id=videos/1", R"({"title":"big"})").status == 201);
  // What the server holds before any attachment: only what streaming adds is bounded.
  const long started_kb = proc_status_kb(node.server.pid(), "VmRSS");
  REQUIRE(started_kb > 0);

  // 1 MiB of pseudo-random bytes, each MiB stamped with its index: cheap to
  // generate, no two MiB alike.
  std::string block(1 << 20, '\0');
  uint64_t x = 0x9E3779B97F4A7C15ull;
  for (char& ch : block) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    ch = static_cast<char>(x);
  }

  Sha256 sent;
  {
    StreamConnection s(node.port, std::chrono::seconds(60));
    REQUIRE(s.connected());
    REQUIRE(s.send("PUT /databases/db/attachments?id=videos/1&name=movie.bin&contentType=video%2Fmp4 HTTP/1.1\r\n"
                   "Host: x\r\nContent-Length: " + std::to_string(total) + "\r\n\r\n"));
    bool sent_all = true;
    for (uint64_t i = 0; i < megabytes && sent_all; ++i) {
      std::memcpy(block.data(), &i, sizeof i);
      sent.update(block);
      sent_all = s.send(block);
    }
    REQUIRE(sent_all);
    auto r = s.read_response();
    REQUIRE_MESSAGE(r.status == 201, r.status << " " << r.error << " " << r.body);
    auto details = boost::json::parse(r.body).as_object();
    const std::string expected = sent.base64();
    CHECK(details["Hash"].as_string() == expected);
    CHECK(details["Size"].to_number<uint64_t>() == total);

    Sha256 received;
    REQUIRE(s.send("GET /databases/db/attachments?id=videos/1&name=movie.bin HTTP/1.1\r\nHost: x\r\n\r\n"));
    auto g = s.read_response([&](std::string_view chunk) { received.update(chunk); });
    REQUIRE_MESSAGE(g.status == 200, g.status << " " << g.error);
    CHECK(g.body_bytes == total);
    CHECK(g.header("attachment-hash") == expected);
    CHECK(received.base64() == expected);
  }
  // The same through a session-style bulk_docs multipart batch (a quarter of
  // the size): the part goes to the blob store as it arrives.
  {
    const uint64_t part_mb = std::max<uint64_t>(1, megabytes / 4);
    const std::string head =
        "--B0UND\r\nContent-Disposition: form-data; name=\"main\"\r\nContent-Type: application/json\r\n\r\n"
        R"({"Commands":[{"Id":"videos/1","Name":"batch.bin","ContentType":"video/mp4","ChangeVector":null,"Type":"AttachmentPUT"}]})"
        "\r\n--B0UND\r\nContent-Disposition: form-data; name=\"attachment_0\"; filename=\"blob\"\r\n"
        "Content-Type: application/octet-stream\r\n\r\n";
    const std::string tail = "\r\n--B0UND--\r\n";
    StreamConnection s(node.port, std::chrono::seconds(60));
    REQUIRE(s.connected());
    REQUIRE(s.send("POST /databases/db/bulk_docs HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; boundary=B0UND\r\n"
                   "Content-Length: " + std::to_string(head.size() + (part_mb << 20) + tail.size()) + "\r\n\r\n" + head));
    Sha256 part;
    bool sent_all = true;
    for (uint64_t i = 0; i < part_mb && sent_all; ++i) {
      std::memcpy(block.data(), &i, sizeof i);
      part.update(block);
      sent_all = s.send(block);
    }
    REQUIRE(sent_all);
    REQUIRE(s.send(tail));
    auto r = s.read_response();
    REQUIRE_MESSAGE(r.status == 201, r.status << " " << r.error << " " << r.body);
    auto result = boost::json::parse(r.body).as_object()["Results"].as_array()[0].as_object();
    CHECK(result["Hash"].as_string() == part.base64());
    CHECK(result["Size"].to_number<uint64_t>() == (part_mb << 20));
  }
  const long peak_kb = proc_status_kb(node.server.pid(), "VmHWM");
  MESSAGE("corvusd VmHWM after streaming " << megabytes << " MiB in and out and a " << megabytes / 4
                                           << " MiB multipart batch: " << peak_kb / 1024 << " MiB, "
                                           << started_kb / 1024 << " MiB of it before the first attachment");
  REQUIRE(peak_kb > 0);
  CHECK(peak_kb - started_kb < 100 * 1024);
}
