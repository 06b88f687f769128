// A secured three-node cluster as real corvusd processes (issue 10): every
// node has the cluster's certificate (one certificate, signed by a test CA),
// the cluster forms over https:// URLs (Rachis and group replication over TLS
// on the cluster ports), a replicated database (RF 3) takes writes on every
// node and serves them everywhere, a node killed with -9 catches up after a
// restart. Refusals: an http:// node for a secured cluster, a node whose
// certificate the cluster does not trust (signed by the same CA, but another
// key: pinning, not a PKI), a TLS client with that certificate on the cluster
// port, and a plain TCP client on the cluster port (which learns nothing but
// the refusal). Certificates are made by the test; waits are bounded polls.

#include <doctest/doctest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <filesystem>
#include <fstream>

#include <boost/json.hpp>
#include <openssl/ssl.h>

#include "tests/support/corvusd_process.h"
#include "tests/support/temp_dir.h"
#include "tests/support/test_certificates.h"
#include "tests/support/test_identity.h"
#include "tests/support/tls_client.h"

using namespace corvus::testing;
using namespace std::chrono_literals;
namespace json = boost::json;

namespace {

bool eventually(const std::function<bool()>& f, std::chrono::milliseconds timeout = 30s) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (f()) return true;
    std::this_thread::sleep_for(100ms);
  }
  return f();
}

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

std::string url_encode(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == ':' || c == '/') {
      char buf[4];
      std::snprintf(buf, sizeof buf, "%%%02X", static_cast<unsigned char>(c));
      out += buf;
    } else {
      out += c;
    }
  }
  return out;
}

struct Certificates {
  TempDir dir;
  std::string ca_pem = dir.sub("ca.pem");
  std::string cluster_pem = dir.sub("cluster.pem");  // every node's
  std::string foreign_pem = dir.sub("foreign.pem");  // same CA, another key
  TestIdentity admin;

  Certificates() {
    TestCertificate::Options ca_options;
    ca_options.common_name = "corvus test CA";
    TestCertificate ca(ca_options);
    TestCertificate::Options node_options;
    node_options.common_name = "localhost";
    node_options.serial = 2;
    TestCertificate cluster(node_options, &ca);
    node_options.serial = 3;
    TestCertificate foreign(node_options, &ca);
    ca.write_certificate_pem(ca_pem);
    cluster.write_pem(cluster_pem);
    foreign.write_pem(foreign_pem);
    admin = make_test_identity(dir, "admin");
  }
};

struct SecuredProcess {
  uint16_t port = free_port();
  uint16_t cluster_port = free_port();
  std::unique_ptr<CorvusdProcess> process;
  const Certificates* certs;

  bool verify_ca = true;  // false: the node's certificate is self-signed (trust by pinning)

  SecuredProcess(const TempDir& data, const std::string& name, const Certificates& c, const std::string& certificate)
      : SecuredProcess(data, name, c, std::vector<std::string>{"--certificate", certificate}) {}
  // `identity`: how the node gets its certificate and whom it trusts besides
  // the test's admin (e.g. --self-signed-certificate and key hashes).
  SecuredProcess(const TempDir& data, const std::string& name, const Certificates& c,
                 std::vector<std::string> identity)
      : certs(&c) {
    std::vector<std::string> args{"--server-url", url(), "--cluster-port", std::to_string(cluster_port),
                                  "--admin-certificate-thumbprint", c.admin.thumbprint, "--cluster-tick-ms", "50",
                                  "--threads", "2"};
    verify_ca = std::find(identity.begin(), identity.end(), "--self-signed-certificate") == identity.end();
    args.insert(args.end(), identity.begin(), identity.end());
    process = std::make_unique<CorvusdProcess>(data.sub(name), port, args);
    start();
  }
  void start() {
    process->spawn();
    const bool up = eventually([&] {
      process->wait_exit(1ms);
      return !process->running() || client(2s).request("GET", "/healthz").status == 200;
    }, 20s);
    REQUIRE_MESSAGE((up && process->running()), process->log());
  }
  std::string url() const { return "https://127.0.0.1:" + std::to_string(port); }
  TlsClient client(std::chrono::milliseconds timeout = 10s) const {
    TlsClientOptions o;
    if (verify_ca) o.ca_file = certs->ca_pem;
    o.timeout = timeout;
    o.certificate_file = certs->admin.cert_file;
    o.private_key_file = certs->admin.key_file;
    return TlsClient(port, o);
  }
  HttpResult call(const std::string& method, const std::string& target, const std::string& body = "") const {
    return client().request(method, target, body, {{"Content-Type", "application/json"}});
  }
  std::vector<std::string> members() const {
    auto r = call("GET", "/cluster/topology");
    std::vector<std::string> out;
    if (r.status != 200) return out;
    json::error_code ec;
    auto v = json::parse(r.body, ec);
    if (ec || !v.is_object()) return out;
    for (const auto& kv : v.at("Topology").at("Members").as_object()) out.emplace_back(kv.key());
    return out;
  }
};

// A connected blocking socket to 127.0.0.1:port, I/O bounded by 10 s.
int dial(uint16_t port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  REQUIRE(fd >= 0);
  timeval tv{10, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
  return fd;
}

// A handshake frame of the cluster port (rachis/tcp_transport.h) for cluster
// "x", from node 9 to node 1.
std::string handshake_frame() {
  std::string payload;
  payload.push_back(1);                                          // version
  const std::string cluster = "x";
  for (int i = 0; i < 4; ++i) payload.push_back(i == 0 ? 1 : 0);  // bytes: u32 length (wire.h)
  payload += cluster;
  for (int i = 0; i < 8; ++i) payload.push_back(i == 0 ? 9 : 0);
  for (int i = 0; i < 8; ++i) payload.push_back(i == 0 ? 1 : 0);
  for (int i = 0; i < 4; ++i) payload.push_back(0);
  const uint32_t n = static_cast<uint32_t>(payload.size() + 1);
  std::string f;
  for (int i = 0; i < 4; ++i) f.push_back(static_cast<char>((n >> (8 * i)) & 0xff));
  f.push_back('H');
  return f + payload;
}

// Everything a connection sends until it closes (or 10 s pass).
template <typename Read>
std::string read_all(Read read) {
  std::string out;
  char buf[4096];
  for (;;) {
    const int n = read(buf, static_cast<int>(sizeof buf));
    if (n <= 0) return out;
    out.append(buf, static_cast<std::size_t>(n));
  }
}

}  // namespace

TEST_CASE("secured cluster: three nodes over TLS, replication, kill -9, untrusted and plain peers refused") {
  std::signal(SIGPIPE, SIG_IGN);
  Certificates certs;
  TempDir data;
  std::vector<std::unique_ptr<SecuredProcess>> nodes;
  for (int i = 0; i < 3; ++i) {
    nodes.push_back(std::make_unique<SecuredProcess>(data, "n" + std::to_string(i), certs, certs.cluster_pem));
  }
  const auto logs = [&] {
    std::string all;
    for (const auto& n : nodes) {
      std::string l = n->process->log();
      if (l.size() > 4000) l = "..." + l.substr(l.size() - 4000);
      all += "---- node " + n->url() + "\n" + l;
    }
    return all;
  };

  // A secured cluster takes https:// nodes only.
  auto plain = nodes[0]->call("PUT", "/admin/cluster/node?url=" + url_encode("http://127.0.0.1:1"));
  CHECK(plain.status == 400);
  CHECK(contains(plain.body, "secured"));

  for (int i = 1; i < 3; ++i) {
    auto r = nodes[0]->call("PUT", "/admin/cluster/node?url=" + url_encode(nodes[i]->url()));
    REQUIRE_MESSAGE(r.status == 200, r.body, logs());
  }
  for (const auto& n : nodes) {
    REQUIRE_MESSAGE(eventually([&] { return n->members().size() == 3; }), logs());
  }

  auto created = nodes[1]->call("PUT", "/admin/databases?name=sec&replicationFactor=3", R"({"DatabaseName":"sec"})");
  REQUIRE_MESSAGE(created.status == 201, created.body);
  // Every node writes; every node reads every write (group replication over TLS).
  for (int i = 0; i < 3; ++i) {
    const std::string id = "users/" + std::to_string(i);
    REQUIRE_MESSAGE(eventually([&] {
      return nodes[i]->call("PUT", "/databases/sec/docs?id=" + id, R"({"Name":"n)" + std::to_string(i) + "\"}").status == 201;
    }), logs());
  }
  for (const auto& reader : nodes) {
    for (int i = 0; i < 3; ++i) {
      const std::string id = "users/" + std::to_string(i);
      CHECK_MESSAGE(eventually([&] { return reader->call("GET", "/databases/sec/docs?id=" + id).status == 200; }),
                    reader->url(), " misses ", id, "\n", logs());
    }
  }

  // kill -9 a node; the others go on; restarted, it catches up.
  nodes[2]->process->kill9();
  REQUIRE(eventually([&] { return nodes[0]->call("PUT", "/databases/sec/docs?id=users/after", "{}").status == 201; }));
  CHECK(eventually([&] { return nodes[1]->call("GET", "/databases/sec/docs?id=users/after").status == 200; }));
  nodes[2]->start();
  CHECK_MESSAGE(eventually([&] { return nodes[2]->call("GET", "/databases/sec/docs?id=users/after").status == 200; }),
                logs());
  CHECK(eventually([&] { return nodes[2]->call("PUT", "/databases/sec/docs?id=users/back", "{}").status == 201; }));
  CHECK(eventually([&] { return nodes[0]->call("GET", "/databases/sec/docs?id=users/back").status == 200; }));

  // A node whose certificate the cluster does not trust (same CA, another key).
  SecuredProcess stranger(data, "stranger", certs, certs.foreign_pem);
  auto refused = nodes[0]->call("PUT", "/admin/cluster/node?url=" + url_encode(stranger.url()));
  CHECK(refused.status >= 400);
  CHECK_MESSAGE(contains(refused.body, "not trusted"), refused.body);
  CHECK(nodes[0]->members().size() == 3);

  // A TLS client with that certificate on the cluster port: refused, with the reason.
  {
    SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
    REQUIRE(SSL_CTX_use_certificate_chain_file(ctx, certs.foreign_pem.c_str()) == 1);
    REQUIRE(SSL_CTX_use_PrivateKey_file(ctx, certs.foreign_pem.c_str(), SSL_FILETYPE_PEM) == 1);
    const int fd = dial(nodes[0]->cluster_port);
    SSL* ssl = SSL_new(ctx);
    SSL_set_fd(ssl, fd);
    REQUIRE(SSL_connect(ssl) == 1);
    const std::string hello = handshake_frame();
    SSL_write(ssl, hello.data(), static_cast<int>(hello.size()));
    const std::string answer = read_all([&](char* b, int n) { return SSL_read(ssl, b, n); });
    SSL_free(ssl);
    ::close(fd);
    SSL_CTX_free(ctx);
    REQUIRE(answer.size() > 5);
    CHECK(answer[4] == 'R');
    CHECK_MESSAGE(contains(answer, "not trusted"), answer);
    CHECK(eventually([&] { return contains(nodes[0]->process->log(), "refused a cluster connection"); }));
  }
  // A plain TCP client on the cluster port learns nothing but the refusal.
  {
    const int fd = dial(nodes[0]->cluster_port);
    const std::string hello = handshake_frame();
    REQUIRE(::send(fd, hello.data(), hello.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(hello.size()));
    const std::string answer = read_all([&](char* b, int n) { return static_cast<int>(::recv(fd, b, n, 0)); });
    ::close(fd);
    REQUIRE(answer.size() > 5);
    CHECK(answer[4] == 'R');
    CHECK(contains(answer, "TLS only"));
    CHECK_FALSE(contains(answer, "users/"));
  }
}

TEST_CASE("secured cluster without a PKI: self-signed nodes trust each other by their key hashes") {
  std::signal(SIGPIPE, SIG_IGN);
  Certificates certs;
  TempDir data;
  // Each node's key, made before its first start (what a node would print as
  // "Server Key Hash" and an operator hand to the others).
  std::vector<std::string> hashes;
  for (int i = 0; i < 3; ++i) {
    TestCertificate::Options o;
    o.common_name = "key" + std::to_string(i);
    TestCertificate key(o);
    std::filesystem::create_directories(data.sub("p" + std::to_string(i)));
    std::ofstream(data.sub("p" + std::to_string(i)) + "/node-key.pem") << key.private_key_pem();
    hashes.push_back(key.public_key_hash());
  }
  std::vector<std::unique_ptr<SecuredProcess>> nodes;
  for (int i = 0; i < 3; ++i) {
    std::vector<std::string> identity{"--self-signed-certificate"};
    for (int j = 0; j < 3; ++j)
      if (j != i) identity.insert(identity.end(), {"--admin-certificate-key-hash", hashes[j]});
    nodes.push_back(std::make_unique<SecuredProcess>(data, "p" + std::to_string(i), certs, identity));
    CHECK(contains(nodes.back()->process->log(), "Server Key Hash: " + hashes[i]));
  }
  const auto logs = [&] {
    std::string all;
    for (const auto& n : nodes) all += "---- node " + n->url() + "\n" + n->process->log();
    return all;
  };
  for (int i = 1; i < 3; ++i) {
    auto r = nodes[0]->call("PUT", "/admin/cluster/node?url=" + url_encode(nodes[i]->url()));
    REQUIRE_MESSAGE(r.status == 200, r.body, logs());
  }
  for (const auto& n : nodes) REQUIRE_MESSAGE(eventually([&] { return n->members().size() == 3; }), logs());
  auto created = nodes[2]->call("PUT", "/admin/databases?name=pinned&replicationFactor=3", R"({"DatabaseName":"pinned"})");
  REQUIRE_MESSAGE(created.status == 201, created.body);
  REQUIRE(eventually([&] { return nodes[1]->call("PUT", "/databases/pinned/docs?id=a/1", "{}").status == 201; }));
  for (const auto& reader : nodes)
    CHECK_MESSAGE(eventually([&] { return reader->call("GET", "/databases/pinned/docs?id=a/1").status == 200; }),
                  logs());
}
