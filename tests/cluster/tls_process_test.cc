// corvusd serving HTTPS (--certificate) as a real process: requests over TLS
// with and without a client certificate, plain HTTP to the TLS port, the
// start-up refusals (public plain bind, https without certificate, unusable
// certificate), and `openssl s_client` against the port. Certificates are made
// by the test (OpenSSL API) in its temp dir.

#include <doctest/doctest.h>

#include <array>
#include <chrono>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include "tests/support/corvusd_process.h"
#include "tests/support/http_client.h"
#include "tests/support/temp_dir.h"
#include "tests/support/test_certificates.h"
#include "tests/support/tls_client.h"

using namespace corvus::testing;
using namespace std::chrono_literals;

namespace {

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

// A CA, a server certificate it signed (CN=localhost, SAN localhost and
// 127.0.0.1) as PEM and .pfx, and a self-signed client certificate.
struct Certificates {
  TempDir dir;
  std::string ca_pem = dir.sub("ca.pem");
  std::string server_pem = dir.sub("server.pem");
  std::string server_pfx = dir.sub("server.pfx");
  std::string client_cert = dir.sub("client.crt");
  std::string client_key = dir.sub("client.key");
  std::string other_ca_pem = dir.sub("other-ca.pem");
  std::string client_thumbprint;

  Certificates() {
    TestCertificate::Options ca_options;
    ca_options.common_name = "corvus test CA";
    TestCertificate ca(ca_options);
    TestCertificate::Options server_options;
    server_options.common_name = "localhost";
    server_options.serial = 2;
    TestCertificate server(server_options, &ca);
    TestCertificate::Options client_options;
    client_options.common_name = "tls-test-client";
    client_options.subject_alt_names = "";
    TestCertificate client(client_options);
    TestCertificate other_ca(ca_options);
    ca.write_certificate_pem(ca_pem);
    other_ca.write_certificate_pem(other_ca_pem);
    server.write_pem(server_pem);
    server.write_pfx(server_pfx, "", &ca);
    client.write_certificate_pem(client_cert);
    client.write_private_key_pem(client_key);
    unsigned char sha1[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    X509_digest(client.x509(), EVP_sha1(), sha1, &n);
    char hex[3];
    for (unsigned i = 0; i < n; ++i) {
      std::snprintf(hex, sizeof(hex), "%02X", sha1[i]);
      client_thumbprint += hex;
    }
  }
};

// Options of a client that trusts `ca` and presents no certificate.
TlsClientOptions trusting(const std::string& ca, std::chrono::milliseconds timeout = 10s) {
  TlsClientOptions o;
  o.ca_file = ca;
  o.timeout = timeout;
  return o;
}

std::string https_url(uint16_t port) { return "https://127.0.0.1:" + std::to_string(port); }

// Spawns corvusd on an https URL and waits (bounded) until GET /healthz answers
// over TLS.
void start_https(CorvusdProcess& p, const Certificates& certs) {
  p.spawn();
  const auto deadline = std::chrono::steady_clock::now() + 20s;
  while (std::chrono::steady_clock::now() < deadline) {
    p.wait_exit(1ms);
    REQUIRE_MESSAGE(p.running(), p.log());
    TlsClient probe(p.port(), trusting(certs.ca_pem, 500ms));
    if (probe.request("GET", "/healthz").status == 200) return;
    std::this_thread::sleep_for(50ms);
  }
  FAIL("corvusd did not answer over https within 20 s:\n" << p.log());
}

// Runs `command` through the shell, bounded by `timeout`; its output (stdout
// and stderr) and whether it ran at all.
std::string run(const std::string& command) {
  std::string out;
  if (FILE* f = ::popen((command + " 2>&1").c_str(), "r")) {
    std::array<char, 4096> buf{};
    size_t n;
    while ((n = std::fread(buf.data(), 1, buf.size(), f)) > 0) out.append(buf.data(), n);
    ::pclose(f);
  }
  return out;
}

}  // namespace

TEST_CASE("tls: HTTPS GET and PUT with and without a client certificate; plain HTTP gets 400 naming the https URL") {
  Certificates certs;
  TempDir data;
  const uint16_t port = free_port();
  // The client certificate is the bootstrap admin (authorization is on with
  // --certificate: authorization_tls_test covers the refusals).
  CorvusdProcess node(data.sub("node"), port,
                      {"--server-url", https_url(port), "--certificate", certs.server_pfx, "--log-level", "debug",
                       "--admin-certificate-thumbprint", certs.client_thumbprint});
  start_https(node, certs);
  TlsClientOptions admin_options = trusting(certs.ca_pem);
  admin_options.certificate_file = certs.client_cert;
  admin_options.private_key_file = certs.client_key;

  SUBCASE("no client certificate: the server is verified, open endpoints answer on one kept-alive connection") {
    TlsClient client(port, trusting(certs.ca_pem));
    CHECK(client.request("GET", "/healthz").status == 200);
    CHECK(client.request("GET", "/build/version").status == 200);
    auto refused = client.request("PUT", "/admin/databases?name=shop", R"({"DatabaseName":"shop"})");
    CHECK(refused.status == 403);
    CHECK_MESSAGE(contains(refused.body, "requires client certificate"), refused.body);
    CHECK(client.handshakes() == 1);  // keep-alive over TLS
  }

  SUBCASE("with a client certificate (self-signed, the bootstrap admin): accepted and recorded") {
    TlsClient client(port, admin_options);
    REQUIRE(client.request("PUT", "/admin/databases?name=shop", R"({"DatabaseName":"shop"})").status == 201);
    REQUIRE(client.request("PUT", "/databases/shop/docs?id=users/2", R"({"name":"Bob"})").status == 201);
    auto get = client.request("GET", "/databases/shop/docs?id=users/2");
    CHECK(get.status == 200);
    CHECK(contains(get.body, "\"Bob\""));
    // The connection described the certificate once, before its first request.
    const std::string log = node.log();
    CHECK_MESSAGE(contains(log, "thumbprint=" + certs.client_thumbprint), log);
    CHECK(contains(log, "CN=tls-test-client"));
  }

  SUBCASE("streamed bodies over TLS: a 1 MB attachment in and out, byte for byte") {
    TlsClient client(port, admin_options);
    REQUIRE(client.request("PUT", "/admin/databases?name=shop", R"({"DatabaseName":"shop"})").status == 201);
    REQUIRE(client.request("PUT", "/databases/shop/docs?id=users/9", R"({"name":"Ivy"})").status == 201);
    std::string bytes(1024 * 1024 + 7, '\0');
    for (size_t i = 0; i < bytes.size(); ++i) bytes[i] = static_cast<char>((i * 131 + i / 4096) & 0xff);
    auto put = client.request("PUT", "/databases/shop/attachments?id=users/9&name=blob", bytes,
                              {{"Content-Type", "application/octet-stream"}});
    REQUIRE_MESSAGE(put.status == 201, put.body);
    // The response is streamed in 256 KiB chunks after its head: each must arrive.
    auto get = client.request("GET", "/databases/shop/attachments?id=users/9&name=blob");
    CHECK(get.status == 200);
    CHECK(get.body.size() == bytes.size());
    CHECK(get.body == bytes);
  }

  SUBCASE("a client that does not trust the server's CA fails the handshake") {
    TlsClient client(port, trusting(certs.other_ca_pem));
    std::string err = client.handshake();
    CHECK_MESSAGE(contains(err, "handshake"), err);
  }

  SUBCASE("plain HTTP to the TLS port: 400 in plain HTTP with the https URL, then close; nothing is written") {
    TlsClient tls(port, admin_options);
    REQUIRE(tls.request("PUT", "/admin/databases?name=shop", R"({"DatabaseName":"shop"})").status == 201);
    HttpClient plain("127.0.0.1", port);
    auto r = plain.request("PUT", "/databases/shop/docs?id=users/3", R"({"name":"Cy"})");
    CHECK(r.status == 400);
    CHECK(r.header("connection") == "close");
    CHECK_MESSAGE(contains(r.body, "\"Type\":\"Raven.Client.Exceptions.BadRequestException\""), r.body);
    CHECK_MESSAGE(contains(r.body, "requires TLS"), r.body);
    CHECK_MESSAGE(contains(r.body, "Use " + https_url(port) + "/databases/shop/docs?id=users/3"), r.body);
    CHECK(tls.request("GET", "/databases/shop/docs?id=users/3").status == 404);
    // Bytes that are not HTTP at all get the same answer.
    auto garbage = plain.request("BREW", "no-slash");
    CHECK(garbage.status == 400);
    CHECK(contains(garbage.body, "requires TLS"));
  }

  SUBCASE("openssl s_client completes a verified handshake with a client certificate") {
    if (run("command -v openssl").empty()) {
      MESSAGE("openssl CLI not installed: skipped");
      return;
    }
    std::string out = run("timeout 10 openssl s_client -connect 127.0.0.1:" + std::to_string(port) +
                          " -servername localhost -verify_return_error -CAfile " + certs.ca_pem + " -cert " +
                          certs.client_cert + " -key " + certs.client_key + " </dev/null");
    CHECK_MESSAGE(contains(out, "Verify return code: 0 (ok)"), out);
    CHECK_MESSAGE(contains(out, "CN = localhost"), out);
  }
  CHECK(node.terminate() == 0);
}

TEST_CASE("tls: a PEM certificate (certificate and key in one file) serves HTTPS too") {
  Certificates certs;
  TempDir data;
  const uint16_t port = free_port();
  CorvusdProcess node(data.sub("node"), port, {"--server-url", https_url(port), "--certificate", certs.server_pem});
  start_https(node, certs);
  TlsClient client(port, trusting(certs.ca_pem));
  auto r = client.request("GET", "/build/version");
  CHECK(r.status == 200);
  CHECK(contains(r.body, "ProductVersion"));
  CHECK(node.terminate() == 0);
}

TEST_CASE("tls: start-up refusals are clear and leave the data directory untouched") {
  Certificates certs;
  TempDir data;
  const uint16_t port = free_port();
  struct Case {
    std::vector<std::string> args;
    std::string message;
  };
  const std::vector<Case> cases = {
      // Only the refusal is tested: 0.0.0.0 is never actually bound.
      {{"--server-url", "http://0.0.0.0:" + std::to_string(port)},
       "refusing to listen on 0.0.0.0 without TLS"},
      {{"--server-url", https_url(port)}, "is https but no --certificate was given"},
      {{"--server-url", "http://127.0.0.1:" + std::to_string(port), "--certificate", certs.server_pem},
       "use https://"},
      {{"--server-url", https_url(port), "--certificate", certs.ca_pem}, "no usable private key"},
      {{"--server-url", https_url(port), "--certificate", data.sub("absent.pfx")}, "cannot read the file"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.message);
    CorvusdProcess node(data.sub("node"), port, c.args);
    node.spawn();
    CHECK(node.wait_exit(20s) == 2);
    const std::string log = node.log();
    CHECK_MESSAGE(contains(log, c.message), log);
    if (c.message.find("0.0.0.0") != std::string::npos) CHECK(contains(log, "--unsecured-allow-public"));
    CHECK_FALSE(std::filesystem::exists(data.sub("node")));
  }
}

TEST_CASE("tls: --self-signed-certificate keeps its key across restarts; clients are admitted by key hash") {
  TempDir data;
  const uint16_t port = free_port();
  TestCertificate::Options client_options;
  client_options.common_name = "pinned-admin";
  client_options.subject_alt_names = "";
  TestCertificate admin(client_options);
  TestCertificate stranger(client_options);
  admin.write_certificate_pem(data.sub("admin.crt"));
  admin.write_private_key_pem(data.sub("admin.key"));
  stranger.write_certificate_pem(data.sub("stranger.crt"));
  stranger.write_private_key_pem(data.sub("stranger.key"));
  const std::vector<std::string> args = {"--server-url", https_url(port), "--self-signed-certificate",
                                         "--admin-certificate-key-hash", admin.public_key_hash()};
  const std::string node_pem = data.sub("node") + "/node-certificate.pem";
  // What the client pins: the SHA-256 of the public key the port presents.
  const std::string presented_key_hash =
      "echo | openssl s_client -connect 127.0.0.1:" + std::to_string(port) +
      " 2>/dev/null | openssl x509 -pubkey -noout | openssl pkey -pubin -outform der | openssl dgst -sha256 -binary "
      "| base64";
  auto printed_hash = [](const std::string& log) {
    const std::string marker = "Server Key Hash: ";
    const auto at = log.find(marker);
    return at == std::string::npos ? std::string() : log.substr(at + marker.size(), 44);
  };
  TlsClientOptions as_admin;  // pinning, not a PKI: the server is not verified by a CA here
  as_admin.certificate_file = data.sub("admin.crt");
  as_admin.private_key_file = data.sub("admin.key");
  TlsClientOptions as_stranger;
  as_stranger.certificate_file = data.sub("stranger.crt");
  as_stranger.private_key_file = data.sub("stranger.key");

  std::string first_hash, first_serial;
  for (int start = 0; start < 2; ++start) {
    CAPTURE(start);
    CorvusdProcess node(data.sub("node"), port, args);
    node.spawn();
    HttpResult answer;
    for (int i = 0; i < 400 && answer.status != 200; ++i) {
      REQUIRE_MESSAGE(node.running(), node.log());
      answer = TlsClient(port, as_admin).request("GET", "/databases");
      if (answer.status != 200) std::this_thread::sleep_for(50ms);
    }
    CHECK_MESSAGE(answer.status == 200, answer.body);
    const auto refused = TlsClient(port, as_stranger).request("GET", "/databases");
    CHECK(refused.status == 403);
    CHECK_MESSAGE(contains(refused.body, stranger.thumbprint()), refused.body);

    const std::string hash = printed_hash(node.log());
    CHECK_MESSAGE(hash.size() == 44, node.log());
    CHECK(run(presented_key_hash).substr(0, 44) == hash);
    // A client that pins the printed hash connects; one pinning another key
    // does not (curl's --pinnedpubkey takes the same SHA-256 of the public key).
    const std::string curl = "curl -s -k -o /dev/null -w '%{http_code}' --max-time 10 --pinnedpubkey 'sha256//";
    const std::string target = "' https://127.0.0.1:" + std::to_string(port) + "/build/version";
    CHECK(run(curl + hash + target) == "200");
    CHECK(run(curl + std::string(43, 'A') + "=" + target) == "000");
    const std::string serial = run("openssl x509 -noout -serial -in " + node_pem);
    CHECK(contains(serial, "serial="));
    if (start == 0) {
      first_hash = hash;
      first_serial = serial;
      CHECK(contains(node.log(), "NEW key"));
    } else {
      CHECK(hash == first_hash);      // the pin survives a restart
      CHECK(serial != first_serial);  // over a certificate issued anew
      CHECK(contains(node.log(), "kept key"));
    }
    CHECK(node.terminate() == 0);
  }
}

TEST_CASE("tls: --self-signed-certificate with --certificate, or on an http:// URL, is refused") {
  Certificates certs;
  TempDir data;
  const uint16_t port = free_port();
  CorvusdProcess both(data.sub("node"), port,
                      {"--server-url", https_url(port), "--self-signed-certificate", "--certificate", certs.server_pem});
  both.spawn();
  CHECK(both.wait_exit(20s) == 2);
  CHECK_MESSAGE(contains(both.log(), "pick one"), both.log());
  CorvusdProcess plain(data.sub("node"), port,
                       {"--server-url", "http://127.0.0.1:" + std::to_string(port), "--self-signed-certificate"});
  plain.spawn();
  CHECK(plain.wait_exit(20s) == 2);
  CHECK_MESSAGE(contains(plain.log(), "--self-signed-certificate is set but"), plain.log());
  CHECK_FALSE(std::filesystem::exists(data.sub("node")));
}
