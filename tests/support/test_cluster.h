#pragma once
// TestCluster: real corvusd processes on 127.0.0.1 forming a Rachis cluster
// through the HTTP API, for the multi-process tests. By default every node's
// cluster listener sits behind a TcpProxy the test controls (the node advertises
// the proxy's port), so a node can be cut off from the traffic addressed to it
// (ClusterOptions). Every wait is a bounded poll; nothing asserts on timing.
// Processes, proxies and the data directory die with the object. Not
// thread-safe. Uses doctest's REQUIRE: include after doctest.

#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <boost/json.hpp>

#include "tests/support/corvusd_process.h"
#include "tests/support/http_client.h"
#include "tests/support/tcp_proxy.h"
#include "tests/support/temp_dir.h"

namespace corvus::testing {

namespace json = boost::json;
using namespace std::chrono_literals;


constexpr auto kWait = 30s;

template <typename F>
inline bool eventually(F f, std::chrono::milliseconds timeout = kWait) {
  const auto until = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < until) {
    if (f()) return true;
    std::this_thread::sleep_for(50ms);
  }
  return f();
}

using Headers = std::map<std::string, std::string>;
constexpr auto kCallTimeout = 5s;

// One request on a fresh connection (HttpClient), bounded by `timeout`.
inline HttpResult call(uint16_t port, const std::string& method, const std::string& target, const std::string& body = "",
                       const Headers& headers = {}, std::chrono::milliseconds timeout = kCallTimeout) {
  HttpClient c("127.0.0.1", port, timeout);
  return c.request(method, target, body, headers);
}

// Whether document `id` of database `db` reads (200) on the node at `port`.
inline bool has_doc(uint16_t port, const std::string& db, const std::string& id) {
  return call(port, "GET", "/databases/" + db + "/docs?id=" + id).status == 200;
}

inline std::optional<json::value> parse_json(const std::string& body) {
  boost::system::error_code ec;
  auto v = json::parse(body, ec);
  if (ec) return std::nullopt;
  return v;
}

inline std::optional<json::object> parse_object(const std::string& body) {
  auto v = parse_json(body);
  if (!v || !v->is_object()) return std::nullopt;
  return v->as_object();
}

// The object a GET answers with 200, or nullopt (any other answer, or not an object).
inline std::optional<json::object> get_json(uint16_t port, const std::string& target, const Headers& headers = {},
                                            std::chrono::milliseconds timeout = kCallTimeout) {
  auto r = call(port, "GET", target, "", headers, timeout);
  if (r.status != 200) return std::nullopt;
  return parse_object(r.body);
}

inline std::string str(const json::object& o, const char* key) {
  auto* v = o.if_contains(key);
  return v && v->is_string() ? std::string(v->as_string()) : std::string();
}

struct Node {
  std::string dir;
  uint16_t http_port;
  uint16_t cluster_port;
  std::unique_ptr<TcpProxy> proxy;  // null without ClusterOptions::proxies
  std::unique_ptr<CorvusdProcess> process;
  std::string tag;  // the node tag, once Cluster::learn_tags() ran

  std::string url() const { return "http://127.0.0.1:" + std::to_string(http_port); }
};

struct ClusterOptions {
  // Put each node's cluster listener behind a TcpProxy and advertise the proxy,
  // so that the test can cut the node off. Default: true.
  bool proxies = true;
  // --cluster-election-ticks, in ticks of 50 ms: more rides out slow moments on a
  // loaded machine, fewer fails over faster. Default: 10.
  int election_ticks = 10;
  // --log-level; empty leaves corvusd's default. Default: "info".
  std::string log_level = "info";
};

class Cluster {
 public:
  // `extra_args` go to every corvusd (e.g. --enable-failpoints).
  explicit Cluster(int n, std::vector<std::string> extra_args = {}, ClusterOptions options = {})
      : extra_args_(std::move(extra_args)), options_(std::move(options)) {
    for (int i = 0; i < n; ++i) add_process();
  }

  // Starts one more corvusd (fresh, its own one-node cluster), behind a proxy.
  int add_process() {
    auto node = std::make_unique<Node>();
    node->dir = dir_.sub("n" + std::to_string(nodes_.size()));
    node->http_port = free_port();
    node->cluster_port = free_port();
    std::vector<std::string> args{"--cluster-port", std::to_string(node->cluster_port)};
    if (options_.proxies) {
      node->proxy = std::make_unique<TcpProxy>(0, node->cluster_port);
      args.insert(args.end(), {"--cluster-advertise", "127.0.0.1:" + std::to_string(node->proxy->port())});
    }
    args.insert(args.end(), {"--cluster-tick-ms", "50", "--cluster-election-ticks",
                             std::to_string(options_.election_ticks), "--threads", "2"});
    if (!options_.log_level.empty()) args.insert(args.end(), {"--log-level", options_.log_level});
    node->process = std::make_unique<CorvusdProcess>(node->dir, node->http_port, with_extra(std::move(args)));
    REQUIRE_MESSAGE(node->process->start(), node->process->log());
    nodes_.push_back(std::move(node));
    return static_cast<int>(nodes_.size()) - 1;
  }

  Node& operator[](int i) { return *nodes_[i]; }

  // Every node's output, for failure messages.
  std::string logs() const {
    std::string out;
    for (size_t i = 0; i < nodes_.size(); ++i) {
      std::string l = nodes_[i]->process->log();
      if (l.size() > 6000) l = "..." + l.substr(l.size() - 6000);
      const std::string& tag = nodes_[i]->tag;
      out += "----- node " + std::to_string(i) + " (" + nodes_[i]->url() + (tag.empty() ? "" : ", " + tag) + ")\n" + l;
    }
    return out;
  }
  int size() const { return static_cast<int>(nodes_.size()); }

  std::vector<uint16_t> http_ports() const {
    std::vector<uint16_t> out;
    for (const auto& n : nodes_) out.push_back(n->http_port);
    return out;
  }

  // Indexes of the nodes whose process runs (possibly SIGSTOPped).
  std::set<int> running() const {
    std::set<int> out;
    for (int i = 0; i < size(); ++i) {
      if (nodes_[i]->process->running()) out.insert(i);
    }
    return out;
  }

  std::optional<json::object> topology(int i) {
    if (!nodes_[i]->process->running()) return std::nullopt;
    return get_json(nodes_[i]->http_port, "/cluster/topology");
  }

  // Index of a running node that reports itself leader (highest term wins), or -1.
  int leader(const std::set<int>& among = {}) {
    int best = -1;
    uint64_t best_term = 0;
    for (int i = 0; i < size(); ++i) {
      if (!among.empty() && !among.count(i)) continue;
      auto t = topology(i);
      if (!t || str(*t, "CurrentState") != "Leader") continue;
      const uint64_t term = t->at("CurrentTerm").to_number<uint64_t>();
      if (best < 0 || term > best_term) {
        best = i;
        best_term = term;
      }
    }
    return best;
  }

  int wait_leader(const std::set<int>& among = {}) {
    int l = -1;
    eventually([&] { return (l = leader(among)) >= 0; });
    return l;
  }

  // Sends `method target` to node `via`, retrying while the cluster answers 503
  // (no leader yet, membership change in progress).
  HttpResult command(int via, const std::string& method, const std::string& target, const std::string& body = "",
                     std::chrono::milliseconds timeout = kWait) {
    HttpResult r;
    eventually(
        [&] {
          r = call(nodes_[via]->http_port, method, target, body);
          return r.status != 0 && r.status != 503 && r.status != 408 && r.status != 500;
        },
        timeout);
    return r;
  }

  void add_node(int via, int node, bool watcher = false) {
    auto r = command(via, "PUT",
                     "/admin/cluster/node?url=" + nodes_[node]->url() + (watcher ? "&watcher=true" : ""));
    REQUIRE_MESSAGE(r.status == 200, r.body);
  }

  // Members as `node` sees them.
  std::set<std::string> members(int node) {
    std::set<std::string> out;
    auto t = topology(node);
    if (!t) return out;
    for (const auto& kv : t->at("Topology").as_object().at("Members").as_object()) out.insert(std::string(kv.key()));
    return out;
  }

  // Forms a cluster of nodes 0..n-1 through node 0 and waits until every one of
  // them sees n members and the same leader.
  void form(int n) {
    REQUIRE(wait_leader({0}) == 0);
    for (int i = 1; i < n; ++i) {
      add_node(0, i);
      REQUIRE_MESSAGE(eventually([&] { return members(0).size() == static_cast<size_t>(i + 1); }),
                      "node " << i << " was not promoted\n" << logs());
    }
    REQUIRE(converged(n));
  }

  // Every node (of `among`, if given) sees n members and the same leader.
  bool converged(int n, const std::set<int>& among = {}) {
    return eventually([&] {
      std::set<std::string> leaders;
      for (int i = 0; i < size(); ++i) {
        if (!among.empty() && !among.count(i)) continue;
        auto t = topology(i);
        if (!t || members(i).size() != static_cast<size_t>(n)) return false;
        leaders.insert(t->at("Leader").is_string() ? std::string(t->at("Leader").as_string()) : "");
      }
      return leaders.size() == 1 && !leaders.begin()->empty();
    });
  }

  // Fills every node's tag from its /cluster/topology; call once formed.
  void learn_tags() {
    for (int i = 0; i < size(); ++i) {
      auto t = topology(i);
      REQUIRE(t);
      nodes_[i]->tag = str(*t, "NodeTag");
      REQUIRE(!nodes_[i]->tag.empty());
    }
  }

  // Index of the node with this tag (learn_tags()), or -1.
  int index_of(const std::string& tag) const {
    for (int i = 0; i < size(); ++i) {
      if (nodes_[i]->tag == tag) return i;
    }
    return -1;
  }

  std::set<std::string> all_tags() const {
    std::set<std::string> out;
    for (const auto& n : nodes_) out.insert(n->tag);
    return out;
  }

  // SIGTERM (it must exit cleanly) and start again on the same data.
  void restart(int i) {
    CHECK(nodes_[i]->process->terminate() == 0);
    REQUIRE_MESSAGE(nodes_[i]->process->start(), nodes_[i]->process->log());
  }

  // Undoes whatever a fault left behind: the process runs and is not stopped, its
  // proxy forwards. False if the process would not start.
  bool heal(int i) {
    Node& n = *nodes_[i];
    if (n.proxy) n.proxy->heal();
    if (n.process->running()) {
      n.process->resume();
      return true;
    }
    return n.process->start();
  }

  bool put(int via, const std::string& key, const std::string& value) {
    return command(via, "PUT", "/admin/cluster/values?key=" + key, value, 10s).status == 200;
  }

  std::optional<std::string> value(int node, const std::string& key) {
    auto o = get_json(nodes_[node]->http_port, "/admin/cluster/values?key=" + key);
    if (!o) return std::nullopt;
    return str(*o, "Value");
  }

  bool has_all(int node, const std::vector<std::string>& keys) {
    return eventually([&] {
      for (const auto& k : keys) {
        if (value(node, k) != k) return false;
      }
      return true;
    });
  }

 private:
  std::vector<std::string> with_extra(std::vector<std::string> args) const {
    args.insert(args.end(), extra_args_.begin(), extra_args_.end());
    return args;
  }

  std::vector<std::string> extra_args_;
  ClusterOptions options_;
  TempDir dir_;
  std::vector<std::unique_ptr<Node>> nodes_;
};


}  // namespace corvus::testing
