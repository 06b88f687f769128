#pragma once
// TestCluster: real corvusd processes on 127.0.0.1 forming a Rachis cluster
// through the HTTP API, for the multi-process tests. Every node's cluster
// listener sits behind a TcpProxy the test controls (the node advertises the
// proxy's port), so a node can be cut off from the traffic addressed to it.
// Every wait is a bounded poll; nothing asserts on timing. Processes and
// proxies die with the object. Uses doctest's REQUIRE: include after doctest.

#include <chrono>
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

inline HttpResult call(uint16_t port, const std::string& method, const std::string& target, const std::string& body = "") {
  HttpClient c("127.0.0.1", port, 5s);
  return c.request(method, target, body);
}

inline std::optional<json::object> get_json(uint16_t port, const std::string& target) {
  auto r = call(port, "GET", target);
  if (r.status != 200) return std::nullopt;
  boost::system::error_code ec;
  auto v = json::parse(r.body, ec);
  if (ec || !v.is_object()) return std::nullopt;
  return v.as_object();
}

inline std::string str(const json::object& o, const char* key) {
  auto* v = o.if_contains(key);
  return v && v->is_string() ? std::string(v->as_string()) : std::string();
}

struct Node {
  std::string dir;
  uint16_t http_port;
  uint16_t cluster_port;
  std::unique_ptr<TcpProxy> proxy;
  std::unique_ptr<CorvusdProcess> process;

  std::string url() const { return "http://127.0.0.1:" + std::to_string(http_port); }
};

class Cluster {
 public:
  // `extra_args` go to every corvusd (e.g. --enable-failpoints).
  explicit Cluster(int n, std::vector<std::string> extra_args = {}) : extra_args_(std::move(extra_args)) {
    for (int i = 0; i < n; ++i) add_process();
  }

  // Starts one more corvusd (fresh, its own one-node cluster), behind a proxy.
  int add_process() {
    auto node = std::make_unique<Node>();
    node->dir = dir_.sub("n" + std::to_string(nodes_.size()));
    node->http_port = free_port();
    node->cluster_port = free_port();
    node->proxy = std::make_unique<TcpProxy>(0, node->cluster_port);
    std::vector<std::string> args{"--cluster-port", std::to_string(node->cluster_port), "--cluster-advertise",
                                 "127.0.0.1:" + std::to_string(node->proxy->port()), "--cluster-tick-ms", "50",
                                  "--cluster-election-ticks", "10", "--threads", "2", "--log-level", "info"};
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
      out += "----- node " + std::to_string(i) + " (" + nodes_[i]->url() + ")\n" + l;
    }
    return out;
  }
  int size() const { return static_cast<int>(nodes_.size()); }

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
  TempDir dir_;
  std::vector<std::unique_ptr<Node>> nodes_;
};


}  // namespace corvus::testing
