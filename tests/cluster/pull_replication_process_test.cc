// Pull replication between two secured corvusd processes, each its own
// cluster: a hub database defines a hub and registers a sink's certificate;
// the sink database gets a connection string and a sink definition with that
// certificate (PKCS#12), dials out over TLS, and the stream flows: hub to
// sink, sink to hub, filtered by the access's allowed paths. A sink killed
// (kill -9) while both sides write catches up from where it stopped when it
// comes back; the sink's certificate reads nothing over HTTP. Every wait is
// bounded. Certificates are made by the test (tests/support/test_certificates.h).

#include <doctest/doctest.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <string>
#include <thread>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/ssl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/json.hpp>

#include "tests/support/corvusd_process.h"
#include "tests/support/temp_dir.h"
#include "tests/support/test_certificates.h"
#include "tests/support/test_identity.h"
#include "tests/support/tls_client.h"

using namespace corvus::testing;
using namespace std::chrono_literals;
namespace json = boost::json;

namespace {

std::string base64(const std::string& bytes) {
  std::string out(4 * ((bytes.size() + 2) / 3) + 1, '\0');
  const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(bytes.data()), static_cast<int>(bytes.size()));
  out.resize(static_cast<size_t>(n));
  return out;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// One secured single-node corvusd with its own certificate; `admin` is its
// ClusterAdmin (--admin-certificate-thumbprint).
struct Node {
  std::string name;
  uint16_t port = free_port();
  std::unique_ptr<CorvusdProcess> process;

  Node(const TempDir& data, const TempDir& certs, const std::string& node_name, const TestCertificate& ca,
       const std::string& admin_thumbprint, long serial)
      : name(node_name) {
    TestCertificate::Options o;
    o.common_name = "localhost";
    o.serial = serial;
    TestCertificate server(o, &ca);
    const std::string pem = certs.sub(name + "-server.pem");
    server.write_pem(pem);
    process = std::make_unique<CorvusdProcess>(
        data.sub(name), port,
        std::vector<std::string>{"--server-url", "https://127.0.0.1:" + std::to_string(port), "--certificate", pem,
                                 "--admin-certificate-thumbprint", admin_thumbprint});
  }
  std::string url() const { return "https://127.0.0.1:" + std::to_string(port); }
};

struct Fixture {
  TempDir certs;
  TempDir data;
  std::string ca_pem = certs.sub("ca.pem");
  std::unique_ptr<TestCertificate> ca;
  std::unique_ptr<TestCertificate> admin;
  std::unique_ptr<TestCertificate> sink_cert;
  std::string admin_crt = certs.sub("admin.crt");
  std::string admin_key = certs.sub("admin.key");
  std::string sink_crt = certs.sub("sink.crt");
  std::string sink_key = certs.sub("sink.key");
  std::string sink_pfx = certs.sub("sink.pfx");
  std::unique_ptr<Node> hub;
  std::unique_ptr<Node> edge;

  Fixture() {
    TestCertificate::Options ca_options;
    ca_options.common_name = "corvus test CA";
    ca = std::make_unique<TestCertificate>(ca_options);
    ca->write_certificate_pem(ca_pem);
    TestCertificate::Options a;
    a.common_name = "admin";
    a.subject_alt_names = "";
    a.serial = 10;
    admin = std::make_unique<TestCertificate>(a);
    admin->write_certificate_pem(admin_crt);
    admin->write_private_key_pem(admin_key);
    TestCertificate::Options s;
    s.common_name = "edge-sink";
    s.subject_alt_names = "";
    s.serial = 11;
    sink_cert = std::make_unique<TestCertificate>(s);
    sink_cert->write_certificate_pem(sink_crt);
    sink_cert->write_private_key_pem(sink_key);
    sink_cert->write_pfx(sink_pfx, "");
    hub = std::make_unique<Node>(data, certs, "hub", *ca, admin->thumbprint(), 2);
    edge = std::make_unique<Node>(data, certs, "edge", *ca, admin->thumbprint(), 3);
    start(*hub);
    start(*edge);
  }

  void start(Node& n) {
    n.process->spawn();
    const auto deadline = std::chrono::steady_clock::now() + 20s;
    while (std::chrono::steady_clock::now() < deadline) {
      n.process->wait_exit(1ms);
      REQUIRE_MESSAGE(n.process->running(), n.process->log());
      if (client(n, false, 500ms).request("GET", "/healthz").status == 200) return;
      std::this_thread::sleep_for(50ms);
    }
    FAIL(n.name << " did not answer over https within 20 s:\n" << n.process->log());
  }

  TlsClient client(const Node& n, bool as_sink = false, std::chrono::milliseconds timeout = 10s) const {
    TlsClientOptions o;
    o.ca_file = ca_pem;
    o.timeout = timeout;
    o.certificate_file = as_sink ? sink_crt : admin_crt;
    o.private_key_file = as_sink ? sink_key : admin_key;
    return TlsClient(n.port, o);
  }

  void put(const Node& n, const std::string& db, const std::string& id, const std::string& body) {
    auto r = client(n).request("PUT", "/databases/" + db + "/docs?id=" + id, body);
    REQUIRE_MESSAGE(r.status == 201, n.name << " PUT " << id << ": " << r.status << " " << r.body);
  }

  // Waits (bounded) until `id` exists on `n`; false after `limit`.
  bool arrives(const Node& n, const std::string& db, const std::string& id, std::chrono::seconds limit = 30s) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < deadline) {
      if (client(n, false, 2s).request("GET", "/databases/" + db + "/docs?id=" + id).status == 200) return true;
      std::this_thread::sleep_for(100ms);
    }
    return false;
  }
  bool exists(const Node& n, const std::string& db, const std::string& id) {
    return client(n).request("GET", "/databases/" + db + "/docs?id=" + id).status == 200;
  }

  void define_hub(const std::string& hub_definition_json, const json::array& h2s = {}, const json::array& s2h = {}) {
    auto admin_hub = client(*hub);
    auto r = admin_hub.request("PUT", "/databases/hub/admin/tasks/pull-replication/hub", hub_definition_json);
    REQUIRE_MESSAGE(r.status == 200, r.body);
    r = admin_hub.request("PUT", "/databases/hub/admin/tasks/pull-replication/hub/access?name=edges",
                          json::serialize(json::object{{"Name", "edge-1"},
                                                       {"CertificateBase64", sink_cert->der_base64()},
                                                       {"AllowedHubToSinkPaths", h2s},
                                                       {"AllowedSinkToHubPaths", s2h}}));
    REQUIRE_MESSAGE(r.status == 200, r.body);
  }

  void define_sink(const std::string& mode) {
    auto admin_edge = client(*edge);
    auto r = admin_edge.request("PUT", "/databases/edge/admin/connection-strings",
                                json::serialize(json::object{{"Name", "to-hub"},
                                                             {"Database", "hub"},
                                                             {"TopologyDiscoveryUrls", json::array{hub->url()}},
                                                             {"Type", "Raven"}}));
    REQUIRE_MESSAGE(r.status == 200, r.body);
    r = admin_edge.request(
        "POST", "/databases/edge/admin/tasks/sink-pull-replication",
        json::serialize(json::object{{"PullReplicationAsSink",
                                      json::object{{"HubName", "edges"},
                                                   {"ConnectionStringName", "to-hub"},
                                                   {"Mode", mode},
                                                   {"CertificateWithPrivateKey", base64(read_file(sink_pfx))},
                                                   {"CertificatePassword", ""}}}}));
    REQUIRE_MESSAGE(r.status == 200, r.body);
  }

  void create_databases() {
    REQUIRE(client(*hub).request("PUT", "/admin/databases?name=hub", R"({"DatabaseName":"hub"})").status == 201);
    REQUIRE(client(*edge).request("PUT", "/admin/databases?name=edge", R"({"DatabaseName":"edge"})").status == 201);
  }
};

// Opens a TLS connection to 127.0.0.1:`port` with the certificate in
// `crt`/`key`, sends `header` (one JSON value) and returns the server's first
// answer (one read, up to 64 KB; bounded by a 10 s receive timeout).
std::string tcp_exchange(uint16_t port, const std::string& crt, const std::string& key, const std::string& header) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  REQUIRE(fd >= 0);
  timeval tv{10, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
  REQUIRE(SSL_CTX_use_certificate_file(ctx, crt.c_str(), SSL_FILETYPE_PEM) == 1);
  REQUIRE(SSL_CTX_use_PrivateKey_file(ctx, key.c_str(), SSL_FILETYPE_PEM) == 1);
  SSL* ssl = SSL_new(ctx);
  SSL_set_fd(ssl, fd);
  std::string answer;
  if (SSL_connect(ssl) == 1 && SSL_write(ssl, header.data(), static_cast<int>(header.size())) > 0) {
    char buf[65536];
    const int n = SSL_read(ssl, buf, sizeof buf);
    if (n > 0) answer.assign(buf, static_cast<size_t>(n));
  }
  SSL_free(ssl);
  SSL_CTX_free(ctx);
  ::close(fd);
  return answer;
}

}  // namespace

TEST_CASE("pull replication: both directions over TLS; a sink killed while both sides write catches up") {
  Fixture f;
  f.create_databases();
  for (int i = 1; i <= 50; ++i) f.put(*f.hub, "hub", "users/" + std::to_string(i), R"({"name":"before"})");
  f.define_hub(R"({"Name":"edges","Mode":"HubToSink,SinkToHub"})");
  f.define_sink("HubToSink,SinkToHub");

  // Hub to sink: everything written before the sink existed, and after.
  REQUIRE_MESSAGE(f.arrives(*f.edge, "edge", "users/50"), f.edge->process->log() << f.hub->process->log());
  for (int i = 1; i <= 50; ++i) CHECK(f.exists(*f.edge, "edge", "users/" + std::to_string(i)));
  f.put(*f.hub, "hub", "users/51", R"({"name":"after"})");
  CHECK(f.arrives(*f.edge, "edge", "users/51"));
  // Sink to hub: the edge's own writes go up.
  f.put(*f.edge, "edge", "edge/1", R"({"from":"edge"})");
  CHECK(f.arrives(*f.hub, "hub", "edge/1"));
  // The record the edge's admin reads names the sink but not its private key
  // (the stored record keeps it: the sink above runs on it).
  const auto record = f.client(*f.edge).request("GET", "/admin/databases?name=edge");
  REQUIRE(record.status == 200);
  CHECK(record.body.find("\"HubName\":\"edges\"") != std::string::npos);
  CHECK_MESSAGE(record.body.find("CertificateWithPrivateKey") == std::string::npos, record.body);
  CHECK(record.body.find("CertificatePassword") == std::string::npos);

  // The sink's certificate reads nothing over HTTP on the hub, and can run
  // no other TCP operation (a data subscription) there.
  auto r = f.client(*f.hub, true).request("GET", "/databases/hub/docs?id=users/1");
  CHECK(r.status == 403);
  CHECK(r.body.find("pull replication only") != std::string::npos);
  auto tcp_info = json::parse(f.client(*f.hub).request("GET", "/info/tcp").body);
  const std::string tcp_url(tcp_info.at("Url").as_string());
  const auto tcp_port = static_cast<uint16_t>(std::stoi(tcp_url.substr(tcp_url.rfind(':') + 1)));
  const std::string subscription = tcp_exchange(
      tcp_port, f.sink_crt, f.sink_key,
      R"({"DatabaseName":"hub","Operation":"Subscription","OperationVersion":53000,"SourceNodeTag":null})");
  CHECK_MESSAGE(subscription.find("AuthorizationFailed") != std::string::npos, subscription);
  CHECK_MESSAGE(subscription.find("pull replication only") != std::string::npos, subscription);
  // ... nor pull from a hub it is not registered for.
  const std::string other_hub = tcp_exchange(
      tcp_port, f.sink_crt, f.sink_key,
      R"({"DatabaseName":"hub","Operation":"PullReplication","OperationVersion":1,)"
      R"("AuthorizeInfo":{"AuthorizeAs":"PullReplication","AuthorizationFor":"another"}})");
  CHECK_MESSAGE(other_hub.find("AuthorizationFailed") != std::string::npos, other_hub);
  CHECK_MESSAGE(other_hub.find("not registered for pull replication hub 'another'") != std::string::npos, other_hub);

  // The sink dies (kill -9); both sides write while it is away.
  f.edge->process->kill9();
  for (int i = 52; i <= 150; ++i) f.put(*f.hub, "hub", "users/" + std::to_string(i), R"({"name":"while away"})");
  f.start(*f.edge);
  for (int i = 2; i <= 20; ++i) f.put(*f.edge, "edge", "edge/" + std::to_string(i), R"({"from":"edge"})");
  REQUIRE_MESSAGE(f.arrives(*f.edge, "edge", "users/150"), f.edge->process->log());
  REQUIRE_MESSAGE(f.arrives(*f.hub, "hub", "edge/20"), f.hub->process->log());
  for (int i = 1; i <= 150; ++i) CHECK(f.exists(*f.edge, "edge", "users/" + std::to_string(i)));
  for (int i = 1; i <= 20; ++i) CHECK(f.exists(*f.hub, "hub", "edge/" + std::to_string(i)));

  // Resumed, not restarted: the hub's connection to the restarted sink began
  // at the sink's position (users/52..150, and perhaps some of the edge's
  // own writes sent back: 118 at most), never at users/1 (that would be 150+).
  auto perf = json::parse(f.client(*f.hub).request("GET", "/databases/hub/replication/performance").body);
  bool found = false;
  for (const auto& o : perf.at("Outgoing").as_array()) {
    if (!o.as_object().contains("External")) continue;
    found = true;
    CHECK(o.at("TotalItems").to_number<std::uint64_t>() <= 118);
  }
  CHECK(found);
  CHECK(f.edge->process->terminate() == 0);
  CHECK(f.hub->process->terminate() == 0);
}

TEST_CASE("pull replication: a filtering hub sends only the allowed prefixes and takes only the allowed ones") {
  Fixture f;
  f.create_databases();
  f.define_hub(R"({"Name":"edges","Mode":"HubToSink,SinkToHub","WithFiltering":true})", json::array{"users/*"},
               json::array{"edge/*"});
  f.put(*f.hub, "hub", "orders/1", R"({"secret":true})");
  f.put(*f.hub, "hub", "users/1", R"({"name":"ok"})");
  f.define_sink("HubToSink,SinkToHub");
  f.put(*f.edge, "edge", "private/1", R"({"mine":true})");
  f.put(*f.edge, "edge", "edge/1", R"({"from":"edge"})");
  // users/1 and edge/1 came after orders/1 and private/1 in their source's
  // etag order: once they arrived, the others would have too.
  REQUIRE_MESSAGE(f.arrives(*f.edge, "edge", "users/1"), f.edge->process->log());
  REQUIRE_MESSAGE(f.arrives(*f.hub, "hub", "edge/1"), f.hub->process->log());
  CHECK_FALSE(f.exists(*f.edge, "edge", "orders/1"));
  CHECK_FALSE(f.exists(*f.hub, "hub", "private/1"));
  CHECK(f.edge->process->terminate() == 0);
  CHECK(f.hub->process->terminate() == 0);
}
