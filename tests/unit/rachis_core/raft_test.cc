// Unit tests of the Rachis Raft core: set up states, step messages and ticks, and
// check outgoing messages and state.

#include "rachis/core/raft.h"

#include <doctest/doctest.h>

#include <functional>
#include <map>
#include <memory>
#include <set>

namespace corvus::rachis::core {
namespace {

Entry entry(Index i, Term t, std::string data = "x") { return Entry{t, i, EntryType::Normal, std::move(data)}; }

// A few in-process cores wired directly to each other. Messages are queued and
// delivered in order; `cut` drops messages to or from the listed nodes.
struct Net {
  struct Node {
    std::unique_ptr<SeededRandom> rng;
    std::unique_ptr<Raft> raft;
    std::vector<Entry> applied;
    std::vector<ReadState> reads;
    std::optional<Snapshot> installed;
  };
  std::map<NodeId, Node> nodes;
  std::deque<Message> queue;
  std::set<NodeId> cut;
  std::vector<Message> sent;  // every message ever sent, for assertions
  Options base;

  Net() { base.snapshot_threshold = 0; }

  Raft& add(NodeId id, Configuration cfg, std::vector<Entry> entries = {}, HardState hs = {}) {
    Options o = base;
    o.id = id;
    PersistedState ps;
    ps.hard_state = hs;
    ps.snapshot_meta.config = std::move(cfg);
    ps.entries = std::move(entries);
    Node& n = nodes[id];
    n.rng = std::make_unique<SeededRandom>(id);
    n.raft = std::make_unique<Raft>(o, *n.rng, std::move(ps));
    return *n.raft;
  }
  Raft& operator[](NodeId id) { return *nodes.at(id).raft; }

  // Runs the Ready loop of every node; messages go to the queue.
  void flush() {
    for (auto& [id, n] : nodes) {
      while (n.raft->has_ready()) {
        Ready rd = n.raft->ready();
        if (rd.snapshot) n.installed = rd.snapshot;
        for (auto& m : rd.messages) {
          sent.push_back(m);
          queue.push_back(m);
        }
        for (auto& e : rd.committed_entries) n.applied.push_back(e);
        for (auto& r : rd.read_states) n.reads.push_back(r);
        n.raft->advance(rd);
      }
    }
  }
  // Delivers queued messages until quiet (or `limit` messages).
  std::size_t deliver(std::size_t limit = 100000,
                      const std::function<bool(const Message&)>& filter = nullptr) {
    flush();
    std::size_t n = 0;
    while (!queue.empty() && n < limit) {
      Message m = queue.front();
      queue.pop_front();
      if (cut.count(m.from) || cut.count(m.to) || !nodes.count(m.to)) continue;
      if (filter && !filter(m)) continue;
      (*this)[m.to].step(m);
      ++n;
      flush();
    }
    return n;
  }
  void tick(NodeId id, int n = 1) {
    for (int i = 0; i < n; ++i) (*this)[id].tick();
    flush();
  }
  void elect(NodeId id) {
    (*this)[id].campaign();
    deliver();
  }
  std::size_t count(MessageType t, NodeId from = kNoNode) const {
    std::size_t c = 0;
    for (auto& m : sent) c += (m.type == t && (from == kNoNode || m.from == from)) ? 1 : 0;
    return c;
  }
};

Configuration voters(std::set<NodeId> v, std::set<NodeId> l = {}) { return Configuration{std::move(v), std::move(l)}; }

Net three_nodes() {
  Net net;
  for (NodeId id : {1, 2, 3}) net.add(id, voters({1, 2, 3}));
  return net;
}

TEST_CASE("Raft: a campaign elects a leader who commits a no-op (§5.2, §5.4.2)") {
  Net net = three_nodes();
  net.elect(1);
  CHECK(net[1].role() == Role::Leader);
  CHECK(net[1].term() == 1);
  CHECK(net[2].leader() == 1);
  CHECK(net[3].leader() == 1);
  CHECK(net[1].commit_index() == 1);
  REQUIRE(net.nodes[2].applied.size() == 1);
  CHECK(net.nodes[2].applied[0].type == EntryType::Noop);
  // Pre-vote ran first and did not change anybody's term.
  CHECK(net.count(MessageType::PreVote) == 2);
  CHECK(net.count(MessageType::Vote) == 2);
}

TEST_CASE("Raft: election timeout fires between election_tick and 2x") {
  Net net = three_nodes();
  net.tick(1, 9);
  CHECK(net.count(MessageType::PreVote) == 0);
  net.tick(1, 11);
  CHECK(net.count(MessageType::PreVote) == 2);
}

TEST_CASE("Raft: a vote is refused to a candidate with a staler log (§5.4.1)") {
  Net net;
  net.add(1, voters({1, 2, 3}), {entry(1, 1)}, HardState{1, 0, 0});
  net.add(2, voters({1, 2, 3}), {entry(1, 1), entry(2, 1)}, HardState{1, 0, 0});
  net.add(3, voters({1, 2, 3}), {entry(1, 1), entry(2, 1)}, HardState{1, 0, 0});
  net.elect(1);
  CHECK(net[1].role() != Role::Leader);
  net.elect(2);
  CHECK(net[2].role() == Role::Leader);
}

TEST_CASE("Raft: pre-vote keeps a rejoining partitioned node from disrupting the leader (thesis §9.6)") {
  Net net = three_nodes();
  net.elect(1);
  net.cut = {3};
  for (int i = 0; i < 100; ++i) {
    net.tick(1);
    net.tick(2);
    net.tick(3);
    net.deliver();
  }
  CHECK(net[3].term() == 1);  // pre-votes never bumped it
  CHECK(net[3].role() == Role::PreCandidate);
  net.cut.clear();
  net.tick(3, 20);
  net.deliver();
  CHECK(net[1].role() == Role::Leader);
  CHECK(net[1].term() == 1);
  net.tick(1);
  net.deliver();
  CHECK(net[3].leader() == 1);
  CHECK(net[3].role() == Role::Follower);
}

TEST_CASE("Raft: without pre-vote a rejoining node bumps the term") {
  Net net;
  net.base.pre_vote = false;
  net.base.check_quorum = false;
  for (NodeId id : {1, 2, 3}) net.add(id, voters({1, 2, 3}));
  net.elect(1);
  net.cut = {3};
  net.tick(3, 25);
  net.deliver();
  CHECK(net[3].term() > 1);
  net.cut.clear();
  net.tick(1);
  net.deliver();
  CHECK(net[1].role() != Role::Leader);  // the disruption pre-vote prevents
}

TEST_CASE("Raft: check-quorum makes a cut-off leader step down (thesis §6.2)") {
  Net net = three_nodes();
  net.elect(1);
  net.cut = {2, 3};
  net.tick(1, 10);  // first round: grace from the election
  CHECK(net[1].role() == Role::Leader);
  net.tick(1, 10);
  CHECK(net[1].role() == Role::Follower);
  CHECK(net[1].leader() == kNoNode);
}

TEST_CASE("Raft: a node that heard from its leader ignores vote requests (thesis §4.2.3)") {
  Net net = three_nodes();
  net.elect(1);
  Message v;
  v.type = MessageType::Vote;
  v.from = 3;
  v.to = 2;
  v.term = 5;
  v.last_index = 100;
  v.last_term = 5;
  net[2].step(v);
  net.flush();
  CHECK(net[2].term() == 1);
  CHECK(net.queue.empty());
}

TEST_CASE("Raft: log conflicts are resolved with the term back-off hint (§5.3)") {
  // Leader 1 (term 6 log) and follower 2 with a long divergent tail of terms 2-3.
  std::vector<Entry> leader_log, follower_log;
  Term lt[] = {1, 1, 1, 4, 4, 5, 5, 6, 6, 6};
  Term ft[] = {1, 1, 1, 2, 2, 2, 3, 3, 3, 3, 3};
  for (Index i = 1; i <= 10; ++i) leader_log.push_back(entry(i, lt[i - 1], "L" + std::to_string(lt[i - 1])));
  for (Index i = 1; i <= 11; ++i) follower_log.push_back(entry(i, ft[i - 1], "L" + std::to_string(ft[i - 1])));
  Net net;
  net.add(1, voters({1, 2, 3}), leader_log, HardState{6, 0, 3});
  net.add(2, voters({1, 2, 3}), follower_log, HardState{6, 0, 3});
  net.add(3, voters({1, 2, 3}), leader_log, HardState{6, 0, 3});
  net.elect(1);
  REQUIRE(net[1].role() == Role::Leader);
  CHECK(net[2].last_index() == 11);
  for (Index i = 1; i <= 11; ++i) CHECK(net[2].log().at(i) == net[1].log().at(i));
  std::size_t rejects = 0;
  for (auto& m : net.sent) rejects += (m.type == MessageType::AppendResponse && m.reject && m.from == 2) ? 1 : 0;
  CHECK(rejects <= 3);  // one entry at a time would take 8
  net.tick(1);  // the next heartbeat carries the commit index
  net.deliver();
  CHECK(net[2].commit_index() == 11);
}

TEST_CASE("Raft: a leader commits an old-term entry only through a current-term one (§5.4.2, Figure 8)") {
  Net net;
  net.base.max_entries_per_message = 1;
  net.add(1, voters({1, 2, 3}), {entry(1, 1), entry(2, 2)}, HardState{2, 0, 1});
  net.add(2, voters({1, 2, 3}), {entry(1, 1)}, HardState{2, 0, 1});
  net.add(3, voters({1, 2, 3}), {entry(1, 1)}, HardState{2, 0, 1});
  net.cut = {3};
  net[1].campaign();
  bool saw_old_entry_on_majority = false;
  while (true) {
    net.flush();
    if (net.queue.empty()) break;
    Message m = net.queue.front();
    net.queue.pop_front();
    if (net.cut.count(m.from) || net.cut.count(m.to)) continue;
    net[m.to].step(m);
    net.flush();
    CHECK(net[1].commit_index() != 2);
    if (net[1].role() == Role::Leader) {
      auto st = net[1].status();
      if (st.progress[2].match == 2 && net[1].commit_index() < 2) saw_old_entry_on_majority = true;
    }
  }
  CHECK(saw_old_entry_on_majority);
  CHECK(net[1].term() == 3);
  CHECK(net[1].commit_index() == 3);  // the no-op of term 3 carried entry 2
}

TEST_CASE("Raft: read-index waits for a heartbeat quorum (thesis §6.4)") {
  Net net = three_nodes();
  net.elect(1);
  net.deliver();
  REQUIRE(net[1].read_index("r1") == Error::Ok);
  net.flush();
  CHECK(net.nodes[1].reads.empty());
  // The heartbeats of the round carry its sequence number.
  std::size_t hb = 0;
  for (auto& m : net.queue) hb += (m.type == MessageType::Heartbeat && m.read_seq > 0) ? 1 : 0;
  CHECK(hb == 2);
  net.deliver(3);  // heartbeat to 2, heartbeat to 3, response from 2: a quorum
  REQUIRE(net.nodes[1].reads.size() == 1);
  CHECK(net.nodes[1].reads[0].context == "r1");
  CHECK(net.nodes[1].reads[0].index == net[1].commit_index());

  SUBCASE("a follower forwards to the leader") {
    net.deliver();
    REQUIRE(net[2].read_index("r2") == Error::Ok);
    net.deliver();
    REQUIRE(net.nodes[2].reads.size() == 1);
    CHECK(net.nodes[2].reads[0].context == "r2");
    CHECK(net.nodes[2].reads[0].index == 1);
  }
  SUBCASE("no read state without a quorum") {
    net.deliver();
    net.cut = {2, 3};
    REQUIRE(net[1].read_index("r3") == Error::Ok);
    net.deliver();
    CHECK(net.nodes[1].reads.size() == 1);
  }
  SUBCASE("a follower without a leader refuses") {
    Net lone = three_nodes();
    CHECK(lone[2].read_index("x") == Error::NotLeader);
  }
}

TEST_CASE("Raft: a new leader answers reads only after its no-op commits") {
  Net net = three_nodes();
  net.cut = {2, 3};
  net[1].campaign();
  net.cut.clear();
  while (net[1].role() != Role::Leader) REQUIRE(net.deliver(1) == 1);  // no-op not yet acknowledged
  CHECK(net[1].commit_index() == 0);
  REQUIRE(net[1].read_index("early") == Error::Ok);
  net.flush();
  CHECK(net.nodes[1].reads.empty());
  net.deliver();
  REQUIRE(net.nodes[1].reads.size() == 1);
  CHECK(net.nodes[1].reads[0].index >= 1);
}

TEST_CASE("Raft: a lagging follower gets InstallSnapshot after compaction (§7)") {
  Net net = three_nodes();
  net.elect(1);
  net.cut = {3};
  for (int i = 0; i < 10; ++i) REQUIRE(net[1].propose("cmd" + std::to_string(i)).ok());
  net.deliver();
  REQUIRE(net[1].commit_index() == 11);
  REQUIRE(net[1].compact(11, std::make_shared<const std::string>("state@11")) == Error::Ok);
  CHECK(net[1].log().snapshot_index() == 11);
  CHECK(net[1].compact(5, std::make_shared<const std::string>("old")) == Error::InvalidArgument);
  net.cut.clear();
  net.tick(1);
  net.deliver();
  CHECK(net.count(MessageType::InstallSnapshot, 1) == 1);
  REQUIRE(net.nodes[3].installed.has_value());
  CHECK(*net.nodes[3].installed->data == "state@11");
  CHECK(net.nodes[3].installed->meta.config == voters({1, 2, 3}));
  CHECK(net[3].commit_index() == 11);
  CHECK(net[3].log().snapshot_index() == 11);
  CHECK(net.nodes[3].applied.size() == 1);  // only the no-op before the cut
  REQUIRE(net[1].propose("after").ok());
  net.deliver();
  CHECK(net[3].commit_index() == 12);
  CHECK(net.nodes[3].applied.back().data == "after");
}

TEST_CASE("Raft: a learner never campaigns, is never asked to vote, and is not counted (thesis §4.2.1)") {
  Net net;
  for (NodeId id : {1, 2}) net.add(id, voters({1, 2}, {3}));
  net.add(3, voters({1, 2}, {3}));
  net.tick(3, 50);
  CHECK(net.queue.empty());  // a learner never campaigns
  net.cut = {2};
  net[1].campaign();
  net.flush();
  for (auto& m : net.queue) CHECK(m.to != 3);  // only voters are asked
  net.queue.clear();
  // Even a granted answer from the learner does not make a quorum.
  Message g;
  g.type = MessageType::PreVoteResponse;
  g.from = 3;
  g.to = 1;
  g.term = net[1].term() + 1;
  net[1].step(g);
  CHECK(net[1].role() == Role::PreCandidate);
  net.cut.clear();
  net.queue.clear();

  net.elect(1);
  REQUIRE(net[1].role() == Role::Leader);
  net.cut = {2};
  REQUIRE(net[1].propose("p").ok());
  net.deliver();
  CHECK(net[3].last_index() == 2);       // the learner has it
  CHECK(net[1].commit_index() == 1);     // but it does not count
  net.cut.clear();
  net.tick(1);
  net.deliver();
  CHECK(net[1].commit_index() == 2);
}

TEST_CASE("Raft: add a learner, watch its progress, promote it") {
  Net net = three_nodes();
  net.elect(1);
  for (int i = 0; i < 5; ++i) REQUIRE(net[1].propose("c").ok());
  net.deliver();
  net.add(4, Configuration{});  // a blank node joining
  auto r = net[1].propose_config_change(ConfigChange{ConfigChangeType::AddLearner, 4, "tag=D"});
  REQUIRE(r.ok());
  CHECK(net[1].propose_config_change(ConfigChange{ConfigChangeType::PromoteVoter, 4, ""}).error ==
        Error::ConfigChangePending);
  net.deliver();
  net.tick(1);
  net.deliver();
  auto st = net[1].status();
  CHECK(st.config.is_learner(4));
  CHECK(st.progress[4].match == st.last_index);
  CHECK(net[4].config().is_learner(4));
  CHECK(net[1].propose_config_change(ConfigChange{ConfigChangeType::PromoteVoter, 9, ""}).error ==
        Error::InvalidArgument);
  REQUIRE(net[1].propose_config_change(ConfigChange{ConfigChangeType::PromoteVoter, 4, ""}).ok());
  net.deliver();
  for (NodeId id : {1, 2, 3, 4}) CHECK(net[id].config() == voters({1, 2, 3, 4}));
  ConfigChange decoded;
  Configuration cfg;
  REQUIRE(decode_config_change(net.nodes[4].applied.back().data, &decoded, &cfg));
  CHECK(decoded.type == ConfigChangeType::PromoteVoter);
  CHECK(cfg == voters({1, 2, 3, 4}));
}

TEST_CASE("Raft: removing the leader makes it step down once committed (thesis §4.2.2)") {
  Net net = three_nodes();
  net.elect(1);
  net.deliver();
  REQUIRE(net[1].propose_config_change(ConfigChange{ConfigChangeType::RemoveNode, 1, ""}).ok());
  CHECK(net[1].role() == Role::Leader);  // still leads until the change commits
  net.deliver();
  CHECK(net[1].role() == Role::Follower);
  CHECK(net.count(MessageType::TimeoutNow, 1) == 1);
  NodeId new_leader = net[2].role() == Role::Leader ? 2 : 3;
  CHECK(net[new_leader].role() == Role::Leader);
  CHECK(net[new_leader].config() == voters({2, 3}));
  // The removed node never campaigns again.
  net.sent.clear();
  net.tick(1, 50);
  CHECK(net.count(MessageType::PreVote, 1) == 0);
  CHECK(net.count(MessageType::Vote, 1) == 0);
}

TEST_CASE("Raft: removing a follower shrinks the quorum") {
  Net net = three_nodes();
  net.elect(1);
  net.deliver();
  REQUIRE(net[1].propose_config_change(ConfigChange{ConfigChangeType::RemoveNode, 3, ""}).ok());
  net.deliver();
  CHECK(net[1].config() == voters({1, 2}));
  CHECK(net[1].status().progress.count(3) == 0);
  net.cut = {3};
  REQUIRE(net[1].propose("x").ok());
  net.deliver();
  CHECK(net[1].commit_index() == net[1].last_index());
}

TEST_CASE("Raft: configuration changes wait for the no-op and go one at a time") {
  Net net = three_nodes();
  net.cut = {2, 3};
  net[1].campaign();
  net.cut.clear();
  while (net[1].role() != Role::Leader) REQUIRE(net.deliver(1) == 1);
  CHECK(net[1].propose_config_change(ConfigChange{ConfigChangeType::AddLearner, 4, ""}).error == Error::NotReady);
  CHECK(net[2].propose_config_change(ConfigChange{ConfigChangeType::AddLearner, 4, ""}).error == Error::NotLeader);
}

TEST_CASE("Raft: leadership transfer with TimeoutNow (thesis §3.10)") {
  Net net = three_nodes();
  net.elect(1);
  net.deliver();
  net.cut = {3};
  REQUIRE(net[1].propose("behind").ok());
  net.deliver();
  net.cut.clear();
  REQUIRE(net[1].transfer_leadership(3) == Error::Ok);
  CHECK(net[1].propose("refused").error == Error::TransferInProgress);
  net.deliver();
  CHECK(net[3].role() == Role::Leader);
  CHECK(net[3].term() == 2);
  CHECK(net[1].role() == Role::Follower);
  CHECK(net.count(MessageType::TimeoutNow, 1) == 1);
  CHECK(net[3].log().at(2).data == "behind");  // caught up before TimeoutNow

  SUBCASE("invalid targets") {
    CHECK(net[3].transfer_leadership(3) == Error::InvalidArgument);
    CHECK(net[3].transfer_leadership(9) == Error::InvalidArgument);
    CHECK(net[1].transfer_leadership(2) == Error::NotLeader);
  }
}

TEST_CASE("Raft: a transfer to an unreachable node is abandoned after an election timeout") {
  Net net = three_nodes();
  net.elect(1);
  net.deliver();
  net.cut = {3};
  REQUIRE(net[1].transfer_leadership(3) == Error::Ok);
  CHECK(net[1].propose("x").error == Error::TransferInProgress);
  net.tick(1, 10);
  net.deliver();
  CHECK(net[1].role() == Role::Leader);
  CHECK(net[1].propose("x").ok());
}

TEST_CASE("Raft: Ready hands out entries, hard state and committed entries once") {
  Net net;
  Raft& r = net.add(1, voters({1}));
  r.campaign();
  REQUIRE(r.has_ready());
  Ready rd = r.ready();
  CHECK(rd.soft_state.has_value());
  REQUIRE(rd.hard_state.has_value());
  CHECK(rd.hard_state->term == 1);
  CHECK(rd.hard_state->vote == 1);
  CHECK(rd.must_sync);
  REQUIRE(rd.entries.size() == 1);
  CHECK(rd.entries[0].type == EntryType::Noop);
  REQUIRE(rd.committed_entries.size() == 1);
  r.advance(rd);
  CHECK_FALSE(r.has_ready());
  auto p = r.propose("a");
  REQUIRE(p.ok());
  CHECK(p.index == 2);
  rd = r.ready();
  CHECK(rd.entries.size() == 1);
  CHECK(rd.committed_entries.size() == 1);
  r.advance(rd);
  CHECK_FALSE(r.has_ready());
}

TEST_CASE("Raft: restart from persisted state keeps term, vote and log") {
  Net net;
  net.add(1, voters({1, 2, 3}), {entry(1, 1), entry(2, 2)}, HardState{3, 2, 1});
  CHECK(net[1].term() == 3);
  CHECK(net[1].status().vote == 2);
  CHECK(net[1].commit_index() == 1);
  Ready rd = net[1].ready();
  REQUIRE(rd.committed_entries.size() == 1);  // the committed prefix is re-applied
  CHECK(rd.entries.empty());                  // nothing new to persist
}

TEST_CASE("Raft: configuration encoding round-trips") {
  Configuration c = voters({1, 2, 30}, {4});
  auto d = decode_configuration(encode_configuration(c));
  REQUIRE(d.has_value());
  CHECK(*d == c);
  ConfigChange cc{ConfigChangeType::RemoveNode, 30, "ctx|with|bars"};
  ConfigChange out;
  Configuration cfg;
  REQUIRE(decode_config_change(encode_config_change(cc, c), &out, &cfg));
  CHECK(out == cc);
  CHECK(cfg == c);
  CHECK_FALSE(decode_configuration("garbage").has_value());
}

}  // namespace
}  // namespace corvus::rachis::core
