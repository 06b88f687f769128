#pragma once
// One corvusd serving HTTPS with a server certificate signed by a test CA,
// and `admin` (a client identity) as its ClusterAdmin through
// --admin-certificate-thumbprint; started by the constructor, which waits
// until it answers /healthz over TLS (20 s at most). Tests derive from it to
// add the identities they need (certs/ holds their files). Header-only.

#include <doctest/doctest.h>

#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "tests/support/corvusd_process.h"
#include "tests/support/temp_dir.h"
#include "tests/support/test_certificates.h"
#include "tests/support/test_identity.h"
#include "tests/support/tls_client.h"

namespace corvus::testing {

struct SecuredNode {
  TempDir certs;
  TempDir data;
  std::string ca_pem = certs.sub("ca.pem");
  std::string server_pem = certs.sub("server.pem");
  TestIdentity admin;
  std::string server_key_hash;  // the pin of the server's public key
  uint16_t port = free_port();
  std::unique_ptr<CorvusdProcess> node;

  SecuredNode() {
    using namespace std::chrono_literals;
    TestCertificate::Options ca_options;
    ca_options.common_name = "corvus test CA";
    TestCertificate ca(ca_options);
    TestCertificate::Options server_options;
    server_options.common_name = "localhost";
    server_options.serial = 2;
    TestCertificate server(server_options, &ca);
    ca.write_certificate_pem(ca_pem);
    server.write_pem(server_pem);
    server_key_hash = server.public_key_hash();
    admin = make_test_identity(certs, "admin");
    node = std::make_unique<CorvusdProcess>(
        data.sub("node"), port,
        std::vector<std::string>{"--server-url", "https://127.0.0.1:" + std::to_string(port), "--certificate",
                                 server_pem, "--admin-certificate-thumbprint", admin.thumbprint});
    node->spawn();
    const auto deadline = std::chrono::steady_clock::now() + 20s;
    while (std::chrono::steady_clock::now() < deadline) {
      node->wait_exit(1ms);
      REQUIRE_MESSAGE(node->running(), node->log());
      if (client(nullptr, 500ms).request("GET", "/healthz").status == 200) return;
      std::this_thread::sleep_for(50ms);
    }
    FAIL("corvusd did not answer over https within 20 s:\n" << node->log());
  }

  // A TLS client trusting the test CA, presenting `id` (none: no certificate).
  TlsClient client(const TestIdentity* id, std::chrono::milliseconds timeout = std::chrono::seconds(10)) const {
    TlsClientOptions o;
    o.ca_file = ca_pem;
    o.timeout = timeout;
    if (id) {
      o.certificate_file = id->cert_file;
      o.private_key_file = id->key_file;
    }
    return TlsClient(port, o);
  }
};

}  // namespace corvus::testing
