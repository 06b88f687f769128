#pragma once
// Helpers for the tests that run rachis::Node instances in one process over real
// TCP on 127.0.0.1 (node_test.cc, snapshot_transfer_test.cc): node options, opening
// a node, bounded polls and waiting for a Node::Done callback. Every wait is bounded;
// nothing asserts on timing. Uses doctest's REQUIRE: include after doctest.

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <future>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "rachis/node.h"
#include "tests/support/temp_dir.h"

namespace corvus::testing {

using namespace std::chrono_literals;
using rachis::Node;
using rachis::NodeOptions;

// A fresh node `name` under `dir`: its own cluster ("cluster-<name>"), URL
// http://<name>, 20 ms ticks, elections after 10, a snapshot every 50 entries.
// Logs to stderr when RACHIS_TEST_LOG is set. `port` 0 picks a free one.
inline NodeOptions options_for(const TempDir& dir, const std::string& name, std::uint16_t port = 0) {
  NodeOptions o;
  o.path = dir.sub(name);
  o.new_cluster_id = "cluster-" + name;
  o.url = "http://" + name;
  o.listen.host = "127.0.0.1";
  o.listen.port = port;
  o.tick = 20ms;
  o.election_tick = 10;
  o.snapshot_threshold = 50;
  o.log = [name](const char* level, const std::string& msg) {
    if (std::getenv("RACHIS_TEST_LOG")) std::fprintf(stderr, "[%s] %s: %s\n", name.c_str(), level, msg.c_str());
  };
  return o;
}

inline std::unique_ptr<Node> open_node(const NodeOptions& o) {
  auto n = Node::open(o);
  REQUIRE_MESSAGE(n.ok(), n.status().to_string());
  return std::move(n).value();
}

// Polls `f` every 20 ms until it holds or `timeout` passes; its last answer.
template <typename F>
bool eventually(F f, std::chrono::milliseconds timeout = 20s) {
  const auto until = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < until) {
    if (f()) return true;
    std::this_thread::sleep_for(20ms);
  }
  return f();
}

// Runs `op` and waits (at most 30 s) for the status it hands its Done.
inline Status call(const std::function<void(Node::Done)>& op) {
  auto p = std::make_shared<std::promise<Status>>();
  auto f = p->get_future();
  op([p](Status s, rachis::core::Index) { p->set_value(s); });
  if (f.wait_for(30s) != std::future_status::ready) return Status::Timeout("test wait");
  return f.get();
}

// call(), again every 50 ms (at most 200 times) while it fails with one of `retry`:
// a membership or leader change still settling.
inline Status call_retrying(const std::function<void(Node::Done)>& op,
                            const std::vector<StatusCode>& retry = {StatusCode::Busy}) {
  Status s;
  for (int i = 0; i < 200; ++i) {
    s = call(op);
    if (s.ok() || std::find(retry.begin(), retry.end(), s.code()) == retry.end()) return s;
    std::this_thread::sleep_for(50ms);
  }
  return s;
}

// The first of `nodes` (null entries allowed) that is leader, or null.
inline Node* leader_of(const std::vector<Node*>& nodes) {
  for (Node* n : nodes) {
    if (n && n->view().role == rachis::core::Role::Leader) return n;
  }
  return nullptr;
}

}  // namespace corvus::testing
