// Compare-exchange under faults. Three real corvusd processes form a cluster, each
// node's cluster listener behind a TcpProxy (tests/support/test_cluster.h), and a database
// is replicated to all three. Client threads then put, delete and read a few
// compare-exchange keys through every node while a seeded fault thread kills -9 and
// restarts nodes, pauses them (SIGSTOP/SIGCONT) and cuts their proxies. Afterwards
// everything is healed, every key is read through every node, and the recorded
// history must be linearizable (tests/support/linearizability_checker.h). Meanwhile
// a cluster-wide transaction writer commits a document and a compare-exchange key
// per transaction through random nodes: every acknowledged one must end complete
// on every member, and none half applied (its key exists exactly when its
// document is on all three).
//
// Environment (tests/cluster/faults.sh sets them for long runs):
//   CORVUS_FAULT_SECONDS  how long the faults run; default 15 (a ~30 s test)
//   CORVUS_FAULT_SEED     the seed of the fault schedule and the clients' choices
//                         (not of the timing); default random, always printed
//   CORVUS_FAULT_CLIENTS  client threads; default 6
//   CORVUS_FAULT_KEYS     compare-exchange keys; default 4
//   CORVUS_FAULT_HISTORY  if set, the recorded history is written to this file
//
// Clients open a fresh connection per request and never retry, so each request is
// sent at most once: a request that could not connect never left (not recorded);
// one without a definite answer (timeout, reset, 408, 5xx, anything unparsable) may
// or may not have taken effect (recorded with an unknown outcome). Every wait is
// bounded; processes, proxies and the data directory go with the test's objects.

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <map>
#include <optional>
#include <random>
#include <set>
#include <thread>

#include <boost/json.hpp>
#include <doctest/doctest.h>

#include "tests/support/fault_injector.h"
#include "tests/support/linearizability_checker.h"
#include "tests/support/one_shot_request.h"
#include "tests/support/test_cluster.h"

using namespace corvus::testing;
using namespace std::chrono_literals;
namespace json = boost::json;
using Clock = std::chrono::steady_clock;

namespace {

constexpr auto kRequestTimeout = 2500ms;  // a client's request, then its outcome is unknown
constexpr int kMaxPauseMs = 10;           // between a client's requests, so 2 cores keep up
const std::string kDatabase = "cmpxchg";

std::optional<std::uint64_t> as_index(const json::value* v) {
  if (!v) return std::nullopt;
  if (v->is_uint64()) return v->as_uint64();
  if (v->is_int64() && v->as_int64() >= 0) return static_cast<std::uint64_t>(v->as_int64());
  return std::nullopt;
}

// The "Object" of a {"Object": ...} value; nullopt when there is none (null).
std::optional<std::string> object_of(const json::value* v) {
  if (!v || !v->is_object()) return std::nullopt;
  const json::value* o = v->as_object().if_contains("Object");
  if (!o || o->is_null()) return std::nullopt;
  return o->is_string() ? std::string(o->as_string()) : json::serialize(*o);
}

// ---------------------------------------------------------------------------
// Clients.

std::uint64_t micros_since(Clock::time_point start) {
  return static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - start).count());
}

std::string cmpxchg_path(const std::string& key) { return "/databases/" + kDatabase + "/cmpxchg?key=" + key; }

// What a client records and learns from one answer. `definite`: the answer says
// what happened; `refused`: it says nothing happened (400, 404).
struct Outcome {
  bool definite = false;
  bool refused = false;
  bool protocol_error = false;  // 200 with a body that is not the protocol's
};

Outcome read_answer(const Answer& a, CmpXchgOp& op) {
  Outcome out;
  if (op.kind == CmpXchgKind::Get && a.status == 404) {  // one key, absent (RavenDB's answer)
    op.found = false;
    out.definite = true;
    return out;
  }
  if (a.status == 400 || a.status == 404) {
    out.refused = true;
    return out;
  }
  if (a.status != 200) return out;
  out.protocol_error = true;
  auto o = parse_object(a.body);
  if (!o) return out;
  if (op.kind == CmpXchgKind::Get) {
    const json::value* results = o->if_contains("Results");
    if (!results || !results->is_array()) return out;
    op.found = false;
    for (const auto& r : results->as_array()) {
      if (!r.is_object()) return out;
      const json::object& entry = r.as_object();
      // Keys are case-insensitive in RavenDB; ours are lower case.
      std::string k = str(entry, "Key");
      for (auto& c : k) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      if (k != op.key) continue;
      auto index = as_index(entry.if_contains("Index"));
      auto value = object_of(entry.if_contains("Value"));
      if (!index || !value) return out;
      op.found = true;
      op.index = *index;
      op.observed = *value;
    }
  } else {
    const json::value* ok = o->if_contains("Successful");
    auto index = as_index(o->if_contains("Index"));
    if (!ok || !ok->is_bool() || !index) return out;
    op.successful = ok->as_bool();
    op.index = *index;
    if (!op.successful) {
      auto value = object_of(o->if_contains("Value"));
      op.found = value.has_value();
      op.observed = value.value_or("");
    }
  }
  out.protocol_error = false;
  out.definite = true;
  return out;
}

struct ClientStats {
  std::map<int, std::size_t> statuses;  // 0: no answer, -1: not sent
  std::size_t definite = 0, unknown = 0, refused = 0, successful_writes = 0, protocol_errors = 0;
  std::string protocol_error_sample;

  void add(const ClientStats& o) {
    for (const auto& [s, n] : o.statuses) statuses[s] += n;
    definite += o.definite;
    unknown += o.unknown;
    refused += o.refused;
    successful_writes += o.successful_writes;
    protocol_errors += o.protocol_errors;
    if (protocol_error_sample.empty()) protocol_error_sample = o.protocol_error_sample;
  }
};

// One client thread: random operations on random keys through random nodes. A
// write's expected index is usually the last one this client learned for the key
// (so many succeed), sometimes 0 or an older one. Values are unique per write.
class CmpXchgClient {
 public:
  CmpXchgClient(int id, std::uint64_t seed, std::vector<uint16_t> ports, std::vector<std::string> keys,
                Clock::time_point start)
      : id_(id), rng_(seed), ports_(std::move(ports)), keys_(std::move(keys)), start_(start) {}

  void run(const std::atomic<bool>& stop) {
    for (int n = 0; !stop; ++n) {
      one_operation(n);
      std::this_thread::sleep_for(std::chrono::milliseconds(rng_() % (kMaxPauseMs + 1)));
    }
  }

  // One operation, recorded unless it certainly did not happen. Also used for the
  // final reads. Returns whether the answer was definite.
  bool one_operation(int n, std::optional<CmpXchgKind> kind = std::nullopt, int key_index = -1, int node = -1) {
    CmpXchgOp op;
    op.client = id_;
    op.key = keys_[key_index >= 0 ? key_index : rng_() % keys_.size()];
    const uint16_t port = ports_[node >= 0 ? node : rng_() % ports_.size()];
    const auto r = rng_() % 100;
    op.kind = kind ? *kind : r < 35 ? CmpXchgKind::Get : r < 85 ? CmpXchgKind::Put : CmpXchgKind::Delete;
    Knowledge& k = known_[op.key];
    std::string method = "GET", target = cmpxchg_path(op.key), body;
    if (op.kind != CmpXchgKind::Get) {
      const auto choice = rng_() % 100;
      op.expected_index = choice < 75 || k.seen.empty() ? k.last : choice < 85 ? 0 : k.seen[rng_() % k.seen.size()];
      method = op.kind == CmpXchgKind::Put ? "PUT" : "DELETE";
      target += "&index=" + std::to_string(op.expected_index) + "&raft-request-id=" + request_id();
      if (op.kind == CmpXchgKind::Put) {
        op.value = "c" + std::to_string(id_) + "-" + std::to_string(n);
        body = json::serialize(json::object{{"Object", op.value}});
      }
    }
    op.invoke = micros_since(start_);
    const Answer a = send_request(port, method, target, body, kRequestTimeout);
    op.complete = micros_since(start_);
    ++stats_.statuses[a.sent ? a.status : -1];
    last_answer_ = a.status == 0 ? a.error : std::to_string(a.status) + " " + a.body;
    if (!a.sent) {  // the node is down: do not spin on it
      std::this_thread::sleep_for(20ms);
      return false;
    }
    const Outcome out = read_answer(a, op);
    if (out.protocol_error) {
      ++stats_.protocol_errors;
      if (stats_.protocol_error_sample.empty())
        stats_.protocol_error_sample = method + " " + target + " -> " + a.head + "\n\n" + a.body;
    }
    if (out.refused) {
      ++stats_.refused;
      return false;
    }
    if (!out.definite) {
      ++stats_.unknown;
      if (op.kind == CmpXchgKind::Get) return false;  // a read that may not have happened tells nothing
      op.complete = kNotCompleted;
      history_.push_back(op);
      return false;
    }
    ++stats_.definite;
    if (op.kind != CmpXchgKind::Get && op.successful) ++stats_.successful_writes;
    learn(k, op);
    history_.push_back(op);
    return true;
  }

  const std::vector<CmpXchgOp>& history() const { return history_; }
  // The status and body of the last answer, for messages.
  const std::string& last_answer() const { return last_answer_; }
  const ClientStats& stats() const { return stats_; }

 private:
  struct Knowledge {
    std::uint64_t last = 0;           // index of the version last seen; 0: absent
    std::vector<std::uint64_t> seen;  // every index seen, for stale expectations
  };

  void learn(Knowledge& k, const CmpXchgOp& op) {
    const bool present = op.kind == CmpXchgKind::Get ? op.found
                         : op.successful             ? op.kind == CmpXchgKind::Put
                                                     : op.found;
    k.last = present ? op.index : 0;
    if (present) k.seen.push_back(op.index);
  }

  std::string request_id() {
    static constexpr char kHex[] = "0123456789abcdef";
    std::string id;
    for (int i = 0; i < 32; ++i) {
      if (i == 8 || i == 12 || i == 16 || i == 20) id += '-';
      id += kHex[rng_() % 16];
    }
    return id;
  }

  int id_;
  std::mt19937_64 rng_;
  std::vector<uint16_t> ports_;
  std::vector<std::string> keys_;
  Clock::time_point start_;
  std::map<std::string, Knowledge> known_;
  std::vector<CmpXchgOp> history_;
  ClientStats stats_;
  std::string last_answer_;
};

// Cluster-wide transactions during the faults: each writes a document and a
// compare-exchange key of its own, through a random node. Afterwards every
// acknowledged one must be complete everywhere, and none may be half applied:
// its key exists exactly when its document is on every member.
class ClusterTxClient {
 public:
  struct Tx {
    std::string doc, key;
    bool acknowledged = false;
  };

  ClusterTxClient(std::uint64_t seed, std::vector<uint16_t> ports) : rng_(seed), ports_(std::move(ports)) {}

  void run(const std::atomic<bool>& stop) {
    for (int n = 0; !stop; ++n) {
      Tx tx{"txdocs/" + std::to_string(n), "txkeys/" + std::to_string(n), false};
      const std::string body =
          "{\"TransactionMode\":\"ClusterWide\",\"Commands\":[{\"Type\":\"PUT\",\"Id\":\"" + tx.doc +
          "\",\"Document\":{\"N\":" + std::to_string(n) + "}},{\"Type\":\"CompareExchangePUT\",\"Id\":\"" + tx.key +
          "\",\"Index\":0,\"Document\":{\"Object\":\"" + tx.doc + "\"}}]}";
      const Answer a = send_request(ports_[rng_() % ports_.size()], "POST", "/databases/" + kDatabase + "/bulk_docs",
                                    body, kRequestTimeout);
      if (!a.sent) continue;  // never left: nothing to check
      tx.acknowledged = a.status == 201;
      txs_.push_back(std::move(tx));
    }
  }
  const std::vector<Tx>& txs() const { return txs_; }

 private:
  std::mt19937_64 rng_;
  std::vector<uint16_t> ports_;
  std::vector<Tx> txs_;
};

bool doc_on(uint16_t port, const std::string& id) {
  const Answer a = send_request(port, "GET", "/databases/" + kDatabase + "/docs?id=" + id, "", 2s);
  return a.status == 200;
}

// 1: the key exists, 0: it does not, -1: no definite answer.
int key_on(uint16_t port, const std::string& key) {
  const Answer a = send_request(port, "GET", cmpxchg_path(key), "", 2s);
  return a.status == 200 ? 1 : a.status == 404 ? 0 : -1;
}


}  // namespace

TEST_CASE("cmpxchg faults: compare-exchange through every node stays linearizable under kill -9, SIGSTOP, cuts") {
  const std::uint64_t seconds = env_u64("CORVUS_FAULT_SECONDS", 15);
  const std::uint64_t seed =
      env_u64("CORVUS_FAULT_SEED", std::random_device{}() * 0x100000000ULL ^ std::random_device{}());
  const int clients = static_cast<int>(std::max<std::uint64_t>(1, env_u64("CORVUS_FAULT_CLIENTS", 6)));
  const int key_count = static_cast<int>(std::clamp<std::uint64_t>(env_u64("CORVUS_FAULT_KEYS", 4), 1, 26));
  std::cout << "cmpxchg faults: seed " << seed << ", " << seconds << " s, " << clients << " clients, " << key_count
            << " keys (replay the schedule: CORVUS_FAULT_SEED=" << seed << ")" << std::endl;
  std::vector<std::string> keys;
  for (int i = 0; i < key_count; ++i) keys.push_back(std::string("key-") + static_cast<char>('a' + i));

  Cluster nodes(3);  // its own requests (setup, recovery) use HttpClient; the clients' use send_request
  nodes.form(3);
  auto created = nodes.command(0, "PUT", "/admin/databases?name=" + kDatabase + "&replicationFactor=3",
                               "{\"DatabaseName\":\"" + kDatabase + "\"}");
  REQUIRE_MESSAGE((created.status == 200 || created.status == 201),
                  "create database: " << created.status << " " << created.body);
  for (int i = 0; i < 3; ++i) {
    Answer a;
    REQUIRE_MESSAGE(eventually([&] {
                      a = send_request(nodes[i].http_port, "GET", cmpxchg_path("probe"));
                      return a.status == 404;  // served: the probe key is absent
                    }),
                    "node " << i << " does not serve compare-exchange of the new database: " << a.status << " "
                            << a.body << "\n"
                            << nodes.logs());
  }

  const auto start = Clock::now();
  const auto end = start + std::chrono::seconds(seconds);
  std::vector<std::unique_ptr<CmpXchgClient>> client_objects;
  for (int c = 0; c < clients; ++c) {
    client_objects.push_back(
        std::make_unique<CmpXchgClient>(c, mix(seed + static_cast<std::uint64_t>(c) + 1), nodes.http_ports(), keys, start));
  }
  FaultInjector faults(nodes, mix(seed), start, end);
  ClusterTxClient tx_client(mix(seed + 2000), nodes.http_ports());
  {
    Workers workers;
    for (auto& c : client_objects)
      workers.threads.emplace_back([&workers, client = c.get()] { client->run(workers.stop); });
    workers.threads.emplace_back([&] { tx_client.run(workers.stop); });
    workers.threads.emplace_back([&] { faults.run(workers.stop); });
    while (Clock::now() < end) std::this_thread::sleep_for(50ms);
    workers.join();
  }

  // Recovery: everything healed, one leader, then every key read through every node.
  bool healed = true;
  for (int i = 0; i < 3; ++i) healed = nodes.heal(i) && healed;
  CHECK_MESSAGE(healed, "a node did not restart\n" << nodes.logs());
  std::string fault_errors;
  for (const auto& e : faults.errors()) fault_errors += e + "\n";
  const std::string fault_log = faults.log_text();
  CHECK_MESSAGE(fault_errors.empty(), fault_errors << nodes.logs());
  const bool converged = nodes.converged(3);
  CHECK_MESSAGE(converged, "the cluster did not recover after the faults\n" << nodes.logs());
  CmpXchgClient reader(clients, mix(seed + 1000), nodes.http_ports(), keys, start);
  std::string unanswered;
  for (int node = 0; node < 3; ++node) {
    const auto until = Clock::now() + 15s;  // per node: a node that stays stuck costs it once, not once a key
    bool stuck = false;
    for (int k = 0; k < key_count; ++k) {
      bool answered = false;
      while (!(answered = reader.one_operation(0, CmpXchgKind::Get, k, node)) && Clock::now() < until) {
        std::this_thread::sleep_for(50ms);
      }
      if (!answered) unanswered += " " + keys[k] + "@node" + std::to_string(node) + " (" + reader.last_answer() + ")";
      stuck = stuck || !answered;
    }
    if (stuck) {  // is the node's HTTP server stuck as a whole, or only compare-exchange?
      const Answer t = send_request(nodes[node].http_port, "GET", "/cluster/topology", "", 2s);
      unanswered += "; node" + std::to_string(node) +
                    " GET /cluster/topology: " + (t.status ? std::to_string(t.status) + " " + t.body : t.error) + "\n";
    }
  }
  CHECK_MESSAGE(unanswered.empty(), "final reads without a definite answer:" << unanswered << "\n" << nodes.logs());

  // Cluster-wide transactions: complete everywhere when acknowledged, never half.
  std::size_t tx_acknowledged = 0, tx_complete = 0, tx_absent = 0;
  std::string tx_errors;
  const auto ports = nodes.http_ports();
  for (const auto& tx : tx_client.txs()) {
    tx_acknowledged += tx.acknowledged ? 1 : 0;
    int key = -1;
    for (int attempt = 0; attempt < 20 && (key = key_on(ports[0], tx.key)) < 0; ++attempt) std::this_thread::sleep_for(100ms);
    // Every member applies the documents in Raft order; give a lagging one a moment.
    std::size_t docs = 0;
    const auto until = Clock::now() + 10s;
    do {
      docs = 0;
      for (auto port : ports) docs += doc_on(port, tx.doc) ? 1 : 0;
    } while (key == 1 && docs < ports.size() && Clock::now() < until && (std::this_thread::sleep_for(50ms), true));
    if (key == 1 && docs == ports.size()) {
      ++tx_complete;
    } else if (key == 0 && docs == 0 && !tx.acknowledged) {
      ++tx_absent;
    } else {
      tx_errors += " " + tx.doc + (tx.acknowledged ? " (acknowledged)" : " (unknown outcome)") + ": key " +
                   (key == 1 ? "present" : key == 0 ? "absent" : "unreadable") + ", document on " +
                   std::to_string(docs) + " of " + std::to_string(ports.size()) + " nodes;";
    }
  }
  std::cout << "cluster-wide transactions: " << tx_client.txs().size() << " sent, " << tx_acknowledged
            << " acknowledged, " << tx_complete << " complete everywhere, " << tx_absent << " not applied" << std::endl;
  CHECK_MESSAGE(tx_errors.empty(), "cluster-wide transactions lost or half applied:" << tx_errors);
  CHECK_MESSAGE(tx_acknowledged > 0, "no cluster-wide transaction was acknowledged");

  std::vector<CmpXchgOp> history;
  ClientStats stats;
  for (auto& c : client_objects) {
    history.insert(history.end(), c->history().begin(), c->history().end());
    stats.add(c->stats());
  }
  history.insert(history.end(), reader.history().begin(), reader.history().end());
  stats.add(reader.stats());
  if (const char* path = std::getenv("CORVUS_FAULT_HISTORY"); path && *path) {
    std::ofstream out(path);
    for (const auto& op : history) out << describe(op) << "\n";
  }

  std::string statuses;
  for (const auto& [s, n] : stats.statuses) {
    statuses += " " +
                (s < 0    ? std::string("not-sent")
                 : s == 0 ? std::string("no-answer")
                          : std::to_string(s)) +
                ":" + std::to_string(n);
  }
  const auto check_start = Clock::now();
  const HistoryVerdict verdict = check_cmpxchg_history(history);
  const auto check_ms = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - check_start).count();
  std::cout << "cmpxchg faults: seed " << seed << "; " << faults.injected() << " faults injected; " << stats.definite
            << " definite answers (" << stats.successful_writes << " successful writes), " << stats.unknown
            << " unknown, " << stats.refused << " refused (400/404); statuses:" << statuses << "\n"
            << verdict.summary() << "checked in " << check_ms << " ms" << std::endl;

  CHECK_MESSAGE(stats.protocol_errors == 0, stats.protocol_errors << " answers were 200 but not the protocol's, e.g. "
                                                                  << stats.protocol_error_sample);
  // Not vacuous: the clients got definite answers and wrote successfully.
  CHECK_MESSAGE(stats.successful_writes >= static_cast<std::size_t>(key_count),
                "too few successful writes; statuses:" << statuses);
  CHECK_MESSAGE(verdict.result == Linearizability::Linearizable, "seed " << seed << "\n"
                                                                         << verdict.summary() << "faults:\n"
                                                                         << fault_log);
}
