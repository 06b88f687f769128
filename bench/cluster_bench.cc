// cluster_bench: commit throughput and latency of small cluster commands on a
// local three-node Rachis cluster (three rachis::Node in one process, real
// RocksDB logs synced on every Ready, real TCP on 127.0.0.1), with 1, 16 and 64
// concurrent closed-loop proposers sending to the leader. Reports ops/s,
// latency percentiles and proposals per leader fsync (the batching factor).
//
// With --http URL it instead drives a running corvusd cluster end to end
// (e.g. one started by deploy/local-cluster.sh): each proposer keeps one HTTP
// connection and sends PUT /admin/cluster/values?key=... to URL, which forwards
// to the leader when it is a follower; the answer comes once committed.
//
//   corvus-cluster-bench [--seconds N] [--dir PATH] [--value-bytes N] [--levels 1,16,64]
//                        [--http http://127.0.0.1:8080]

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <future>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include "rachis/cluster/commands/value_commands.h"
#include "rachis/node.h"

using namespace corvus;
using namespace corvus::rachis;
using Clock = std::chrono::steady_clock;

namespace {

bool eventually(const std::function<bool()>& f, std::chrono::seconds timeout) {
  const auto until = Clock::now() + timeout;
  while (Clock::now() < until) {
    if (f()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return f();
}

Status call(const std::function<void(Node::Done)>& op) {
  auto p = std::make_shared<std::promise<Status>>();
  auto f = p->get_future();
  op([p](Status s, core::Index) { p->set_value(s); });
  if (f.wait_for(std::chrono::seconds(30)) != std::future_status::ready) return Status::Timeout("bench wait");
  return f.get();
}

[[noreturn]] void die(const std::string& what) {
  std::fprintf(stderr, "cluster_bench: %s\n", what.c_str());
  std::exit(1);
}

// One keep-alive HTTP connection; reconnects after an error.
class HttpProposer {
 public:
  HttpProposer(std::string host, std::string port) : host_(std::move(host)), port_(std::move(port)) {}

  bool put(const std::string& target, const std::string& body) {
    namespace http = boost::beast::http;
    for (int attempt = 0; attempt < 2; ++attempt) {
      try {
        if (!stream_) {
          stream_ = std::make_unique<boost::beast::tcp_stream>(io_);
          boost::asio::ip::tcp::resolver resolver(io_);
          stream_->connect(resolver.resolve(host_, port_));
        }
        http::request<http::string_body> req{http::verb::put, target, 11};
        req.set(http::field::host, host_);
        req.keep_alive(true);
        req.body() = body;
        req.prepare_payload();
        http::write(*stream_, req);
        boost::beast::flat_buffer buf;
        http::response<http::string_body> res;
        http::read(*stream_, buf, res);
        if (!res.keep_alive()) stream_.reset();
        return res.result_int() == 200;
      } catch (const std::exception&) {
        stream_.reset();
      }
    }
    return false;
  }

 private:
  boost::asio::io_context io_;
  std::string host_, port_;
  std::unique_ptr<boost::beast::tcp_stream> stream_;
};

void setup_cluster(std::string& dir, bool own_dir, std::vector<std::unique_ptr<Node>>& nodes) {
  if (own_dir) {
    std::random_device rd;
    dir = (std::filesystem::temp_directory_path() / ("corvus-cluster-bench-" + std::to_string(rd()))).string();
  }
  std::filesystem::create_directories(dir);

  for (int i = 0; i < 3; ++i) {
    NodeOptions o;
    o.path = dir + "/n" + std::to_string(i);
    o.new_cluster_id = "bench-" + std::to_string(i);
    o.url = "http://bench-" + std::to_string(i);
    o.listen.host = "127.0.0.1";
    o.tick = std::chrono::milliseconds(100);
    o.election_tick = 10;
    auto n = Node::open(o);
    if (!n.ok()) die(n.status().to_string());
    nodes.push_back(std::move(n).value());
  }
  Node& leader = *nodes[0];
  if (!eventually([&] { return leader.view().role == core::Role::Leader && leader.state().topology().nodes.size() == 1; },
                  std::chrono::seconds(20))) {
    die("node 0 did not become leader");
  }
  for (int i = 1; i < 3; ++i) {
    Status s;
    for (int attempt = 0; attempt < 100; ++attempt) {
      s = call([&](Node::Done d) {
        leader.add_node("", "http://bench-" + std::to_string(i), nodes[i]->advertise_address(), false, cluster::kCommandVersion, d);
      });
      if (s.ok()) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    if (!s.ok()) die("cannot add node: " + s.to_string());
    if (!eventually([&] { return leader.view().config.voters.size() == static_cast<std::size_t>(i + 1); },
                    std::chrono::seconds(30))) {
      die("node was not promoted");
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  int seconds = 5;
  std::size_t value_bytes = 100;
  std::string dir;
  std::vector<int> levels = {1, 16, 64};
  std::string http_url;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) die("flag " + a + " needs a value");
      return argv[++i];
    };
    if (a == "--seconds") {
      seconds = std::atoi(next().c_str());
      if (seconds < 1 || seconds > 3600) die("--seconds must be 1..3600");
    } else if (a == "--http") {
      http_url = next();
      if (http_url.rfind("http://", 0) != 0 || http_url.find(':', 7) == std::string::npos) {
        die("--http expects http://host:port");
      }
    } else if (a == "--dir") {
      dir = next();
    } else if (a == "--value-bytes") {
      value_bytes = static_cast<std::size_t>(std::atol(next().c_str()));
    } else if (a == "--levels") {
      levels.clear();
      std::string s = next();
      for (std::size_t pos = 0; pos < s.size();) {
        auto comma = s.find(',', pos);
        levels.push_back(std::atoi(s.substr(pos, comma - pos).c_str()));
        if (levels.back() < 1 || levels.back() > 4096) die("--levels: each level must be 1..4096");
        if (comma == std::string::npos) break;
        pos = comma + 1;
      }
    } else if (a == "--help" || a == "-h") {
      std::printf(
          "corvus-cluster-bench [--seconds N=5] [--dir PATH] [--value-bytes N=100] [--levels 1,16,64] "
          "[--http http://host:port]\n");
      return 0;
    } else {
      die("unknown flag " + a);
    }
  }
  const bool own_dir = dir.empty() && http_url.empty();
  std::vector<std::unique_ptr<Node>> nodes;
  std::string http_host, http_port;
  if (http_url.empty()) {
    setup_cluster(dir, own_dir, nodes);
  } else {
    const std::string hp = http_url.substr(7);
    http_host = hp.substr(0, hp.rfind(':'));
    http_port = hp.substr(hp.rfind(':') + 1);
    while (!http_port.empty() && http_port.back() == '/') http_port.pop_back();
  }
  if (http_url.empty()) {
    std::printf("cluster_bench: 3 Rachis nodes in one process, TCP on 127.0.0.1, RocksDB log synced per Ready\n");
    std::printf("dir=%s ", dir.c_str());
  } else {
    std::printf("cluster_bench: PUT /admin/cluster/values through %s (HTTP keep-alive per proposer)\n",
                http_url.c_str());
  }
  std::printf("value_bytes=%zu seconds_per_level=%d hardware_threads=%u\n\n", value_bytes, seconds,
              std::thread::hardware_concurrency());
  Node* leader_ptr = nodes.empty() ? nullptr : nodes[0].get();
  std::printf("%10s %12s %10s %10s %10s %10s %14s\n", "proposers", "commits/s", "p50_ms", "p90_ms", "p99_ms", "max_ms",
              "commits/fsync");
  const std::string value(value_bytes, 'v');
  for (int level : levels) {
    std::atomic<bool> stop{false};
    std::mutex mu;
    std::vector<double> latencies;
    std::atomic<std::uint64_t> failures{0};
    const std::uint64_t syncs_before = leader_ptr ? leader_ptr->sync_count() : 0;
    std::vector<std::thread> threads;
    const auto start = Clock::now();
    for (int t = 0; t < level; ++t) {
      threads.emplace_back([&, t] {
        std::vector<double> mine;
        std::unique_ptr<HttpProposer> http;
        if (!http_url.empty()) http = std::make_unique<HttpProposer>(http_host, http_port);
        for (std::uint64_t i = 0; !stop; ++i) {
          const auto t0 = Clock::now();
          const std::string key = "k" + std::to_string(level) + "-" + std::to_string(t) + "-" + std::to_string(i);
          bool ok = false;
          if (http) {
            ok = http->put("/admin/cluster/values?key=" + key, value);
          } else {
            ok = call([&](Node::Done d) {
                   leader_ptr->propose(cluster::PutValueCommand::make(key, value), Node::as_command_done(d));
                 }).ok();
          }
          if (!ok) {
            ++failures;
            continue;
          }
          mine.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
        }
        std::lock_guard lock(mu);
        latencies.insert(latencies.end(), mine.begin(), mine.end());
      });
    }
    std::this_thread::sleep_for(std::chrono::seconds(seconds));
    stop = true;
    for (auto& th : threads) th.join();
    const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
    const std::uint64_t syncs = leader_ptr ? leader_ptr->sync_count() - syncs_before : 0;
    std::sort(latencies.begin(), latencies.end());
    auto pct = [&](double p) {
      if (latencies.empty()) return 0.0;
      return latencies[std::min(latencies.size() - 1, static_cast<std::size_t>(p * latencies.size()))];
    };
    std::printf("%10d %12.0f %10.2f %10.2f %10.2f %10.2f %14.1f\n", level, latencies.size() / elapsed, pct(0.50),
                pct(0.90), pct(0.99), latencies.empty() ? 0.0 : latencies.back(),
                syncs ? double(latencies.size()) / double(syncs) : 0.0);  // 0 = not measured (--http)
    if (failures) std::printf("           (%llu proposals failed)\n", static_cast<unsigned long long>(failures.load()));
  }
  for (auto& n : nodes) n->stop();
  nodes.clear();
  if (own_dir) std::filesystem::remove_all(dir);
  return 0;
}
