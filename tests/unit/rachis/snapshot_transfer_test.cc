// Snapshot transfers over real TCP on 127.0.0.1: TcpTransport::fetch_snapshot
// against a listener serving a ClusterState, and Nodes catching up through a
// pulled snapshot after the leader compacted its log. Waits are bounded polls;
// nothing asserts on timing.

#include <atomic>
#include <filesystem>
#include <future>
#include <mutex>

#include <doctest/doctest.h>

#include "rachis/cluster/cluster_state.h"
#include "rachis/cluster/commands/value_commands.h"
#include "rachis/node.h"
#include "rachis/tcp_transport.h"
#include "tests/support/temp_dir.h"
#include "tests/unit/rachis/node_test_support.h"

using namespace corvus;
using namespace corvus::rachis;
using namespace corvus::testing;
using namespace std::chrono_literals;

namespace {

constexpr auto kWait = 30s;  // this file's bound for eventually()

std::unique_ptr<cluster::ClusterState> open_state(const std::string& path) {
  auto st = cluster::ClusterState::open(path);
  REQUIRE_MESSAGE(st.ok(), st.status().to_string());
  return std::move(st).value();
}

// `count` values of about 100 bytes: 30,000 make a few chunks.
core::Index fill(cluster::ClusterState& st, int count) {
  cluster::ClusterState::Batch batch(st);
  for (int i = 0; i < count; ++i) batch.put_value("key/" + std::to_string(i), std::string(80, 'v') + std::to_string(i));
  REQUIRE(st.commit(batch, 10).ok());
  return 10;
}

// Hands out two chunks of the real source, then fails.
class FailingSource final : public SnapshotSource {
 public:
  explicit FailingSource(std::unique_ptr<SnapshotSource> inner) : inner_(std::move(inner)) {}
  core::Index applied() const override { return inner_->applied(); }
  Status next(std::string* chunk) override {
    if (++calls_ > 2) return Status::IOError("disk on fire");
    return inner_->next(chunk);
  }
  std::string trailer() const override { return inner_->trailer(); }

 private:
  std::unique_ptr<SnapshotSource> inner_;
  int calls_ = 0;
};

// Node id 1 of cluster "c1", serving `state`.
struct Server {
  enum class Mode { Serve, Fail, Block };
  cluster::ClusterState& state;
  std::atomic<Mode> mode{Mode::Serve};
  std::promise<void> release;
  std::mutex mu;
  std::vector<core::NodeId> failed;  // on_snapshot_failed calls
  std::unique_ptr<TcpTransport> transport;

  explicit Server(cluster::ClusterState& s) : state(s) {
    TransportHandler h;
    auto released = release.get_future().share();
    h.on_snapshot_request = [this, released](const std::string& cluster_id, core::NodeId, core::NodeId to,
                                             core::Index index) -> Result<std::unique_ptr<SnapshotSource>> {
      if (cluster_id != "c1" || to != 1) return Status::InvalidArgument("not node 1 of c1");
      if (mode == Mode::Block) released.wait();
      auto reader = state.read_snapshot();
      if (!reader.ok()) return reader.status();
      if ((*reader)->applied() < index) return Status::Busy("behind");
      std::unique_ptr<SnapshotSource> source = std::move(reader).value();
      if (mode == Mode::Fail) return std::unique_ptr<SnapshotSource>(new FailingSource(std::move(source)));
      return source;
    };
    h.on_snapshot_failed = [this](core::NodeId to) {
      std::lock_guard lock(mu);
      failed.push_back(to);
    };
    auto t = TcpTransport::start(TransportOptions{}, std::move(h));
    REQUIRE(t.ok());
    transport = std::move(t).value();
  }
  std::string address() const { return "127.0.0.1:" + std::to_string(transport->port()); }
};

std::unique_ptr<TcpTransport> client(const std::string& cluster_id) {
  auto t = TcpTransport::start(TransportOptions{}, TransportHandler{});
  REQUIRE(t.ok());
  (*t)->set_identity(cluster_id, 2, "");
  return std::move(t).value();
}

}  // namespace

TEST_CASE("TcpTransport: a snapshot pulled in chunks; refused, cut or cancelled pulls leave the old state") {
  testing::TempDir dir;
  auto source = open_state(dir.sub("source"));
  const core::Index applied = fill(*source, 30'000);
  auto receiver = open_state(dir.sub("receiver"));
  const std::string staging = dir.sub("receiver") + ".incoming";
  Server server(*source);
  auto c = client("c1");
  const auto fetch = [&](TcpTransport& from, const std::string& address, core::Index index,
                         const std::function<bool()>& cancelled = {}) {
    auto staged = receiver->stage_snapshot();
    REQUIRE(staged.ok());
    Status s = from.fetch_snapshot(address, 1, index, **staged, cancelled);
    if (s.ok()) s = receiver->install(std::move(staged).value());
    return s;
  };

  SUBCASE("the whole state arrives") {
    REQUIRE(fetch(*c, server.address(), applied).ok());
    CHECK(receiver->applied() == applied);
    CHECK(*receiver->value_count() == 30'000);
    CHECK(*receiver->value("key/29999") == std::optional<std::string>(std::string(80, 'v') + "29999"));
  }
  SUBCASE("refusals: another cluster, a sender behind the snapshot") {
    auto stranger = client("c2");
    Status s = fetch(*stranger, server.address(), applied);
    CHECK(s.code() == StatusCode::Busy);
    CHECK(s.message().find("not node 1 of c1") != std::string::npos);
    s = fetch(*c, server.address(), applied + 1);
    CHECK(s.code() == StatusCode::Busy);
    CHECK(s.message().find("behind") != std::string::npos);
  }
  SUBCASE("a sender failing midway: Busy here, reported there") {
    server.mode = Server::Mode::Fail;
    Status s = fetch(*c, server.address(), applied);
    CHECK(s.code() == StatusCode::Busy);
    CHECK(s.message().find("disk on fire") != std::string::npos);
    CHECK(eventually(
        [&] {
          std::lock_guard lock(server.mu);
          return server.failed == std::vector<core::NodeId>{2};
        },
        kWait));
  }
  SUBCASE("nobody listening") {
    auto gone = client("c1");
    const std::string address = "127.0.0.1:" + std::to_string(gone->port());
    gone->stop();
    CHECK(fetch(*c, address, applied).code() == StatusCode::Busy);
  }
  SUBCASE("cancelled while waiting for the sender") {
    server.mode = Server::Mode::Block;
    const auto until = std::chrono::steady_clock::now() + 300ms;
    Status s = fetch(*c, server.address(), applied, [&] { return std::chrono::steady_clock::now() >= until; });
    CHECK(s.code() == StatusCode::ShuttingDown);
    server.release.set_value();
  }
  // Whatever happened, nothing is left staged and the receiver is usable.
  CHECK_FALSE(std::filesystem::exists(staging));
  CHECK(receiver->value_count().ok());
}

namespace {

struct Cluster {
  testing::TempDir dir;
  std::mutex mu;
  std::map<std::string, int> installs;  // "installed the cluster state" log lines per node

  NodeOptions options(const std::string& name) {
    NodeOptions o = options_for(dir, name);
    o.snapshot_threshold = 20;  // compact often
    o.log = [this, name, print = o.log](const char* level, const std::string& msg) {
      if (msg.find("installed the cluster state") != std::string::npos) {
        std::lock_guard lock(mu);
        ++installs[name];
      }
      print(level, msg);
    };
    return o;
  }
  int installs_of(const std::string& name) {
    std::lock_guard lock(mu);
    return installs[name];
  }
};

// Retried by call_retrying: put() reports "no leader yet" as NotLeader.
const std::vector<StatusCode> kSettling = {StatusCode::Busy, StatusCode::NotLeader};

void put(const std::vector<Node*>& nodes, const std::string& key, const std::string& value) {
  Status s = call_retrying(
      [&](Node::Done d) {
        Node* l = leader_of(nodes);
        if (!l) return d(Status::NotLeader("none yet"), 0);
        l->propose(cluster::PutValueCommand::make(key, value), Node::as_command_done(d));
      },
      kSettling);
  REQUIRE_MESSAGE(s.ok(), s.to_string());
}

std::string big_value(int i) { return std::to_string(i) + std::string(4000, 'x'); }

}  // namespace

TEST_CASE("Node: a node down while the leader compacted, and a new node, catch up through a chunked snapshot") {
  Cluster cl;
  auto oa = cl.options("a"), ob = cl.options("b"), oc = cl.options("c");
  auto a = open_node(oa);
  auto b = open_node(ob);
  auto c = open_node(oc);
  oc.listen.port = c->cluster_port();  // c comes back at the same address
  REQUIRE(eventually([&] { return a->view().role == core::Role::Leader && a->state().topology().nodes.size() == 1; }, kWait));
  REQUIRE(call_retrying([&](Node::Done d) { a->add_node("", "http://b", b->advertise_address(), false, cluster::kCommandVersion, d); }, kSettling).ok());
  REQUIRE(eventually([&] { return a->view().config.voters.size() == 2; }, kWait));
  REQUIRE(call_retrying([&](Node::Done d) { a->add_node("", "http://c", c->advertise_address(), false, cluster::kCommandVersion, d); }, kSettling).ok());
  REQUIRE(eventually([&] { return a->view().config.voters.size() == 3; }, kWait));
  for (int i = 0; i < 10; ++i) put({a.get(), b.get()}, "early/" + std::to_string(i), "e");
  REQUIRE(eventually([&] { return c->state().value_count() == 10; }, kWait));

  c->stop();
  c.reset();
  // About 1.2 MB of values, so the state travels in several chunks; the
  // leader compacts every 20 entries, far past what c has.
  constexpr int kValues = 300;
  for (int i = 0; i < kValues; ++i) put({a.get(), b.get()}, "big/" + std::to_string(i), big_value(i));
  Node* l = leader_of({a.get(), b.get()});
  REQUIRE(l);
  REQUIRE(l->view().applied > 10 + kValues);

  c = open_node(oc);
  REQUIRE(eventually([&] { return c->state().value_count() == 10 + kValues; }, 60s));
  CHECK(eventually([&] { return cl.installs_of("c") >= 1; }, kWait));
  for (int i : {0, 1, kValues / 2, kValues - 1}) {
    CHECK(c->state().value("big/" + std::to_string(i)) == std::optional<std::string>(big_value(i)));
  }
  // Entries after the snapshot reach it as usual.
  put({a.get(), b.get(), c.get()}, "after", "x");
  CHECK(eventually([&] { return c->state().value("after").has_value(); }, kWait));

  // A brand-new node joins: the leader's log starts long after its first
  // entries, so it too starts from a pulled snapshot (the leader's address
  // comes from its handshake: the new node's topology is still empty).
  auto od = cl.options("d");
  auto d = open_node(od);
  l = leader_of({a.get(), b.get(), c.get()});
  REQUIRE(l);
  REQUIRE(call_retrying([&](Node::Done done) { l->add_node("", "http://d", d->advertise_address(), true, cluster::kCommandVersion, done); }, kSettling).ok());
  REQUIRE(eventually([&] { return d->state().value_count() == 11 + kValues; }, 60s));
  CHECK(eventually([&] { return cl.installs_of("d") >= 1; }, kWait));
  CHECK(d->state().topology().nodes.size() == 4);
  CHECK(d->state().value("big/7") == std::optional<std::string>(big_value(7)));
}
