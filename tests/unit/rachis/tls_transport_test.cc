// TcpTransport with TLS (TransportOptions::tls, check_peer) over real TCP on
// 127.0.0.1: nodes with the same certificate exchange messages, pull a
// snapshot and hand a channel over with its TLS session; a node with another
// certificate is refused with the reason on both sides; a plain node and a
// secured node never talk, and each says why. Certificates are made by the
// test (TestCertificate). Waits are bounded polls; nothing asserts on timing.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <csignal>
#include <mutex>
#include <vector>

#include <doctest/doctest.h>
#include <openssl/ssl.h>

#include "rachis/cluster/cluster_state.h"
#include "rachis/tcp_transport.h"
#include "tests/support/temp_dir.h"
#include "tests/support/test_certificates.h"
#include "tests/unit/rachis/node_test_support.h"

using namespace corvus;
using namespace corvus::rachis;
using namespace corvus::testing;
using namespace std::chrono_literals;

namespace {

constexpr auto kWait = 20s;

// A context for both roles with `cert`, asking the peer for a certificate
// and accepting any at the TLS level (check_peer judges), as corvusd's.
struct Context {
  SSL_CTX* ctx = SSL_CTX_new(TLS_method());
  explicit Context(const TestCertificate& cert) {
    REQUIRE(SSL_CTX_use_certificate(ctx, cert.x509()) == 1);
    REQUIRE(SSL_CTX_use_PrivateKey(ctx, cert.key()) == 1);
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, [](int, X509_STORE_CTX*) { return 1; });
  }
  ~Context() { SSL_CTX_free(ctx); }
};

TestCertificate make_certificate(const std::string& name) {
  TestCertificate::Options o;
  o.common_name = name;
  return TestCertificate(o);
}

// The trust rule of these tests: the peer's public key is `own`'s.
std::function<std::string(X509*)> same_key_as(const TestCertificate& own) {
  EVP_PKEY* key = own.key();
  return [key](X509* peer) -> std::string {
    if (!peer) return "no certificate";
    if (EVP_PKEY_eq(X509_get0_pubkey(peer), key) == 1) return "";
    return "certificate not trusted: another public key";
  };
}

// One transport with what its handler and its log saw.
struct Endpoint {
  std::mutex mu;
  std::vector<core::Message> messages;
  std::vector<std::string> log_lines;
  std::vector<std::string> channels;  // "<kind><payload>" of handed-over connections
  std::unique_ptr<TcpTransport> transport;

  Endpoint(core::NodeId self, SSL_CTX* tls, std::function<std::string(X509*)> check,
           cluster::ClusterState* state = nullptr) {
    TransportOptions o;
    o.tls = tls;
    o.check_peer = std::move(check);
    o.log = [this](const char*, const std::string& m) {
      std::lock_guard lock(mu);
      log_lines.push_back(m);
    };
    TransportHandler h;
    h.on_handshake = [](const std::string& cluster_id, core::NodeId, core::NodeId, const std::string&) {
      return cluster_id == "c1" ? "" : "not c1";
    };
    h.on_message = [this](core::Message m) {
      std::lock_guard lock(mu);
      messages.push_back(std::move(m));
    };
    h.on_snapshot_request = [state](const std::string&, core::NodeId, core::NodeId,
                                    core::Index) -> Result<std::unique_ptr<SnapshotSource>> {
      if (!state) return Status::InvalidArgument("no state here");
      auto reader = state->read_snapshot();
      if (!reader.ok()) return reader.status();
      return std::unique_ptr<SnapshotSource>(std::move(reader).value());
    };
    h.on_channel = [this](char kind, std::string payload, ChannelConnection c) {
      {
        std::lock_guard lock(mu);
        channels.push_back(std::string(1, kind) + payload + (c.ssl ? " tls" : " plain"));
      }
      // Answers over the handed-over session (a small write: the
      // non-blocking socket takes it at once).
      if (c.ssl) SSL_write(c.ssl, "ok", 2);
      if (c.ssl) SSL_free(c.ssl);
      ::close(c.fd);
    };
    auto t = TcpTransport::start(o, std::move(h));
    REQUIRE(t.ok());
    transport = std::move(t).value();
    transport->set_identity("c1", self, address());
  }
  std::string address() const { return "127.0.0.1:" + std::to_string(transport->port()); }
  bool logged(const std::string& text) {
    std::lock_guard lock(mu);
    for (const auto& l : log_lines) {
      if (l.find(text) != std::string::npos) return true;
    }
    return false;
  }
  std::string peer_error(core::NodeId id) {
    auto st = transport->peer_status();
    auto it = st.find(id);
    return it == st.end() ? "" : it->second.last_error;
  }
};

core::Message heartbeat(core::NodeId from, core::NodeId to) {
  core::Message m;
  m.type = core::MessageType::Heartbeat;
  m.from = from;
  m.to = to;
  m.term = 7;
  return m;
}

// A connected blocking socket to 127.0.0.1:port, reads bounded by 10 s.
int dial(std::uint16_t port) {
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

std::string frame(char kind, const std::string& payload) {
  const std::uint32_t n = static_cast<std::uint32_t>(payload.size() + 1);
  std::string f;
  for (int i = 0; i < 4; ++i) f.push_back(static_cast<char>((n >> (8 * i)) & 0xff));
  f.push_back(kind);
  return f + payload;
}

struct CountingSink final : SnapshotSink {
  std::size_t bytes = 0;
  bool finished = false;
  Status add(std::string_view chunk) override {
    bytes += chunk.size();
    return Status::Ok();
  }
  Status finish(std::string_view) override {
    finished = true;
    return Status::Ok();
  }
};

}  // namespace

TEST_CASE("TcpTransport over TLS: same certificate talks; a foreign certificate and a plain node are refused") {
  std::signal(SIGPIPE, SIG_IGN);  // as corvusd: OpenSSL writes with write(2) (TransportOptions::tls)
  const TestCertificate cluster_cert = make_certificate("cluster");
  const TestCertificate foreign_cert = make_certificate("foreign");
  Context cluster_tls(cluster_cert);
  Context foreign_tls(foreign_cert);
  TempDir dir;
  auto state = cluster::ClusterState::open(dir.sub("state"));
  REQUIRE(state.ok());
  {
    cluster::ClusterState::Batch batch(**state);
    for (int i = 0; i < 2000; ++i) batch.put_value("k" + std::to_string(i), std::string(100, 'x'));
    REQUIRE((*state)->commit(batch, 5).ok());
  }
  Endpoint b(2, cluster_tls.ctx, same_key_as(cluster_cert), state->get());

  SUBCASE("messages, a snapshot and a channel between nodes with the same certificate") {
    Endpoint a(1, cluster_tls.ctx, same_key_as(cluster_cert));
    a.transport->set_peers({{2, b.address()}}, false);
    a.transport->send(heartbeat(1, 2));
    CHECK(eventually(
        [&] {
          a.transport->send(heartbeat(1, 2));  // queued ones may predate the connection
          std::lock_guard lock(b.mu);
          return !b.messages.empty() && b.messages.front().term == 7 && b.messages.front().from == 1;
        },
        kWait));

    CountingSink sink;
    Status s = a.transport->fetch_snapshot(b.address(), 2, 5, sink, {});
    REQUIRE_MESSAGE(s.ok(), s.to_string());
    CHECK(sink.finished);
    CHECK(sink.bytes > 2000 * 100);

    // A channel ('D') over TLS: the listener hands the session over whole.
    const int fd = dial(b.transport->port());
    SSL* ssl = SSL_new(cluster_tls.ctx);
    SSL_set_fd(ssl, fd);
    REQUIRE(SSL_connect(ssl) == 1);
    const std::string f = frame('D', "hello");
    REQUIRE(SSL_write(ssl, f.data(), static_cast<int>(f.size())) == static_cast<int>(f.size()));
    char answer[2] = {0, 0};
    CHECK(SSL_read(ssl, answer, 2) == 2);
    CHECK(std::string(answer, 2) == "ok");
    SSL_free(ssl);
    ::close(fd);
    std::lock_guard lock(b.mu);
    CHECK(b.channels == std::vector<std::string>{"Dhello tls"});
  }

  SUBCASE("a node with another certificate: refused, the reason on both sides") {
    Endpoint c(3, foreign_tls.ctx, same_key_as(foreign_cert));
    c.transport->set_peers({{2, b.address()}}, false);
    c.transport->send(heartbeat(3, 2));
    CHECK(eventually([&] { return b.logged("certificate not trusted: another public key"); }, kWait));
    CHECK(eventually([&] { return c.peer_error(2).find("certificate not trusted") != std::string::npos; }, kWait));
    CHECK(eventually([&] { return c.logged("certificate not trusted"); }, kWait));
    CountingSink sink;
    Status s = c.transport->fetch_snapshot(b.address(), 2, 5, sink, {});
    CHECK(s.code() == StatusCode::Busy);
    CHECK(sink.bytes == 0);
    std::lock_guard lock(b.mu);
    CHECK(b.messages.empty());
  }

  SUBCASE("a plain node and a secured node never talk, and say why") {
    Endpoint plain(4, nullptr, nullptr);
    plain.transport->set_peers({{2, b.address()}}, false);
    plain.transport->send(heartbeat(4, 2));
    CHECK(eventually([&] { return plain.peer_error(2).find("TLS only") != std::string::npos; }, kWait));
    CHECK(eventually([&] { return plain.logged("TLS only"); }, kWait));
    CHECK(eventually([&] { return b.logged("refused a plain connection"); }, kWait));

    Endpoint a(1, cluster_tls.ctx, same_key_as(cluster_cert));
    a.transport->set_peers({{4, plain.address()}}, false);
    a.transport->send(heartbeat(1, 4));
    CHECK(eventually([&] { return plain.logged("reached this node's plain cluster port"); }, kWait));
    CHECK(eventually([&] { return a.peer_error(4).find("TLS handshake") != std::string::npos; }, kWait));
    std::lock_guard lock(b.mu);
    CHECK(b.messages.empty());
    std::lock_guard lock2(plain.mu);
    CHECK(plain.messages.empty());
  }
}
