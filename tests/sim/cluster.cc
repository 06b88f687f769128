#include "tests/sim/cluster.h"

#include <algorithm>
#include <charconv>
#include <cstdio>

namespace corvus::rachis::sim {

using core::ConfigChange;
using core::ConfigChangeType;
using core::Configuration;
using core::EntryType;
using core::MessageType;
using core::Role;

namespace {

std::string fmt(const char* f, auto... args) {
  char buf[512];
  int n = std::snprintf(buf, sizeof(buf), f, args...);
  return std::string(buf, static_cast<std::size_t>(std::max(0, std::min(n, 511))));
}

unsigned long long ull(std::uint64_t v) { return static_cast<unsigned long long>(v); }

std::vector<std::string_view> split(std::string_view s) {
  std::vector<std::string_view> out;
  while (!s.empty()) {
    auto sp = s.find(' ');
    if (sp != 0) out.push_back(s.substr(0, sp));
    if (sp == std::string_view::npos) break;
    s.remove_prefix(sp + 1);
  }
  return out;
}

std::int64_t to_int(std::string_view s) {
  std::int64_t v = 0;
  std::from_chars(s.data(), s.data() + s.size(), v);
  return v;
}

}  // namespace

// ---------------------------------------------------------------- KvState

std::uint64_t KvState::hash() const {
  std::uint64_t h = 1469598103934665603ULL;
  for (auto& [k, v] : kv) {
    for (char c : k) h = (h ^ static_cast<unsigned char>(c)) * 1099511628211ULL;
    h = (h ^ static_cast<std::uint64_t>(v)) * 1099511628211ULL;
  }
  return h;
}

std::string KvState::encode() const {
  std::string out;
  for (auto& [k, v] : kv) out += k + " " + std::to_string(v) + " ";
  return out;
}

KvState KvState::decode(const std::string& s) {
  KvState st;
  auto parts = split(s);
  for (std::size_t i = 0; i + 1 < parts.size(); i += 2) st.kv[std::string(parts[i])] = to_int(parts[i + 1]);
  return st;
}

// ---------------------------------------------------------------- lifecycle

Cluster::Cluster(SimParams params, EventSink events)
    : params_(std::move(params)), events_(std::move(events)), rng_(params_.seed) {
  Configuration cfg;
  for (int i = 0; i < params_.founding_voters; ++i) cfg.voters.insert(static_cast<NodeId>(i + 1));
  ever_member_ = cfg.voters;
  for (int i = 0; i < params_.founding_voters; ++i) {
    NodeId id = add_node(false);
    node(id).disk.snapshot_meta.config = cfg;
    restart(id);
  }
}

NodeId Cluster::add_node(bool start) {
  NodeId id = next_id_++;
  auto n = std::make_unique<SimNode>();
  n->id = id;
  n->rng = std::make_unique<NodeRandom>(params_.seed * 1000003ULL + id);
  if (params_.fixed_timeouts) n->rng->set_fixed(id - 1);
  nodes_[id] = std::move(n);
  group_[id] = rest_group_;
  if (start) restart(id);
  return id;
}

std::unique_ptr<core::Raft> Cluster::make_raft(SimNode& n) {
  core::PersistedState ps;
  ps.hard_state = n.disk.hard_state;
  ps.snapshot_meta = n.disk.snapshot_meta;
  ps.snapshot_data = n.disk.snapshot_data;
  ps.entries = n.disk.entries;
  core::Options o = params_.raft;
  o.id = n.id;
  return std::make_unique<core::Raft>(o, *n.rng, std::move(ps));
}

void Cluster::crash(NodeId id) {
  SimNode& n = node(id);
  if (!n.up) return;
  n.up = false;
  ++counters_.crashes;
  n.raft.reset();
  n.state = KvState{};
  n.applied = 0;
  n.last_role = Role::Follower;
  forget_node_ops(n);
  if (events_) events_(fmt("n%llu crashed", ull(id)));
}

void Cluster::restart(NodeId id) {
  SimNode& n = node(id);
  if (n.up || n.removed) return;
  n.raft = make_raft(n);
  n.state = n.disk.snapshot_data ? KvState::decode(*n.disk.snapshot_data) : KvState{};
  n.applied = n.disk.snapshot_meta.index;
  n.up = true;
  n.last_role = Role::Follower;
  drain(n);
}

void Cluster::decommission(NodeId id) {
  SimNode& n = node(id);
  if (n.removed) return;
  crash(id);
  n.removed = true;
  if (events_) events_(fmt("n%llu decommissioned", ull(id)));
}

// ---------------------------------------------------------------- network

void Cluster::partition(const std::vector<std::set<NodeId>>& groups) {
  rest_group_ = static_cast<int>(groups.size());
  for (auto& [id, g] : group_) g = rest_group_;
  for (std::size_t i = 0; i < groups.size(); ++i) {
    for (NodeId id : groups[i]) group_[id] = static_cast<int>(i);
  }
}

void Cluster::heal() {
  rest_group_ = 0;
  for (auto& [id, g] : group_) g = 0;
}

bool Cluster::connected(NodeId a, NodeId b) const {
  auto ia = group_.find(a), ib = group_.find(b);
  if (ia == group_.end() || ib == group_.end()) return false;
  return ia->second == ib->second;
}

void Cluster::drop_in_flight(NodeId from) {
  for (auto& [t, v] : network_) {
    std::erase_if(v, [from](const InFlight& f) { return f.msg.from == from; });
  }
}

std::size_t Cluster::in_flight() const {
  std::size_t n = 0;
  for (auto& [t, v] : network_) n += v.size();
  return n;
}

void Cluster::send(const Message& m) {
  if (params_.drop > 0 && chance() < params_.drop) return;
  int copies = params_.duplicate > 0 && chance() < params_.duplicate ? 2 : 1;
  for (int i = 0; i < copies; ++i) {
    ++counters_.messages;
    std::uint64_t delay = params_.min_delay + uniform(params_.max_delay - params_.min_delay + 1);
    network_[now_ + std::max<std::uint64_t>(delay, 1)].push_back(InFlight{msg_seq_++, m});
  }
}

void Cluster::deliver(Message m) {
  auto it = nodes_.find(m.to);
  if (it == nodes_.end()) return;
  SimNode& n = *it->second;
  if (!n.up || !connected(m.from, m.to)) return;
  n.raft->step(std::move(m));
  drain(n);
}

void Cluster::step_time(bool tick_nodes) {
  ++now_;
  while (!network_.empty() && network_.begin()->first <= now_ && !failed()) {
    std::vector<InFlight> due = std::move(network_.begin()->second);
    network_.erase(network_.begin());
    if (params_.shuffle) {
      for (std::size_t i = due.size(); i > 1; --i) std::swap(due[i - 1], due[uniform(i)]);
    }
    for (auto& f : due) {
      deliver(std::move(f.msg));
      if (failed()) return;
    }
  }
  if (tick_nodes) {
    for (auto& [id, n] : nodes_) {
      if (!n->up || n->frozen) continue;
      if (params_.tick_skip > 0 && chance() < params_.tick_skip) continue;
      n->raft->tick();
      drain(*n);
      if (failed()) return;
    }
  }
  auto pending = std::move(to_decommission_);
  to_decommission_.clear();
  for (NodeId id : pending) decommission(id);
  ++steps_;
  if (steps_ % 64 == 0) check_log_matching();
}

// ---------------------------------------------------------------- ready loop

void Cluster::drain(SimNode& n) {
  while (n.up && !failed() && n.raft->has_ready()) process_ready(n);
}

void Cluster::process_ready(SimNode& n) {
  core::Ready rd = n.raft->ready();
  bool writes = rd.snapshot || !rd.entries.empty() || rd.hard_state;
  if (writes && params_.crash_in_ready > 0 && chance() < params_.crash_in_ready) {
    // Power loss before the fsync: nothing of this Ready reaches the disk, and
    // nothing is sent or applied.
    if (events_) events_(fmt("n%llu crashes before syncing", ull(n.id)));
    crash(n.id);
    return;
  }

  // 1-4: persist.
  Disk& d = n.disk;
  if (rd.snapshot) {
    d.snapshot_meta = rd.snapshot->meta;
    d.snapshot_data = rd.snapshot->data;
    d.entries.clear();
  }
  if (!rd.entries.empty()) {
    Index first = rd.entries.front().index;
    Index disk_last = d.snapshot_meta.index + d.entries.size();
    if (first <= d.snapshot_meta.index || first > disk_last + 1) {
      fail(fmt("n%llu: Ready entries start at %llu but disk holds (%llu, %llu]", ull(n.id), ull(first),
               ull(d.snapshot_meta.index), ull(disk_last)));
      return;
    }
    d.entries.resize(first - d.snapshot_meta.index - 1);
    for (const Entry& e : rd.entries) {
      auto [it, inserted] = written_.emplace(std::make_pair(e.index, e.term), e.data);
      if (!inserted && it->second != e.data) {
        fail(fmt("log matching: two different entries at index %llu term %llu", ull(e.index), ull(e.term)));
        return;
      }
      d.entries.push_back(e);
    }
  }
  if (rd.hard_state) d.hard_state = *rd.hard_state;

  if (rd.soft_state) on_role(n);
  if (failed()) return;

  // 5: send.
  for (const Message& m : rd.messages) {
    bool granted = !m.reject && m.type == MessageType::VoteResponse;
    if ((m.type == MessageType::Vote || m.type == MessageType::PreVote) && !n.raft->config().is_voter(m.to)) {
      fail(fmt("n%llu asked a non-voter for its vote: %s", ull(n.id), to_string(m).c_str()));
      return;
    }
    if (granted) {
      grants_[{m.term, m.to}].insert(n.id);
      auto [it, inserted] = votes_.emplace(std::make_pair(n.id, m.term), m.to);
      if (!inserted && it->second != m.to) {
        fail(fmt("n%llu voted for n%llu and n%llu in term %llu", ull(n.id), ull(it->second), ull(m.to),
                 ull(m.term)));
        return;
      }
    }
    send(m);
  }

  // 6: apply.
  if (rd.snapshot) {
    const auto& meta = rd.snapshot->meta;
    n.state = KvState::decode(*rd.snapshot->data);
    n.applied = meta.index;
    auto [it, inserted] = state_hash_.emplace(meta.index, n.state.hash());
    if (!inserted && it->second != n.state.hash()) {
      fail(fmt("n%llu installed a snapshot at %llu that differs from the applied state", ull(n.id),
               ull(meta.index)));
      return;
    }
    ++counters_.snapshots_installed;
    if (events_) events_(fmt("n%llu installed snapshot at %llu/t%llu", ull(n.id), ull(meta.index), ull(meta.term)));
    for (auto it2 = n.proposals.begin(); it2 != n.proposals.end() && it2->first <= meta.index;) {
      history_[it2->second.second].pending = false;  // indeterminate: result unknown
      it2 = n.proposals.erase(it2);
    }
  }
  for (const Entry& e : rd.committed_entries) {
    apply_entry(n, e);
    if (failed()) return;
  }
  // 7: reads.
  for (const auto& rs : rd.read_states) {
    auto it = n.reads_sent.find(rs.context);
    if (it == n.reads_sent.end()) continue;
    n.reads_ready.emplace_back(rs.index, it->second);
    n.reads_sent.erase(it);
  }
  n.raft->advance(rd);
  complete_reads(n);
  // 9: compaction.
  if (rd.compact_hint != 0 && (params_.compact_chance >= 1.0 || chance() < params_.compact_chance)) {
    compact(n.id);
  }
}

void Cluster::apply_entry(SimNode& n, const Entry& e) {
  if (e.index != n.applied + 1) {
    fail(fmt("n%llu applies index %llu after %llu", ull(n.id), ull(e.index), ull(n.applied)));
    return;
  }
  auto [cit, inserted] = committed_.emplace(e.index, e);
  if (inserted) ++counters_.commits;
  if (!inserted && !(cit->second == e)) {
    fail(fmt("n%llu applied a different entry at index %llu (t%llu, committed t%llu)", ull(n.id), ull(e.index),
             ull(e.term), ull(cit->second.term)));
    return;
  }
  bool cas_ok = false;
  if (e.type == EntryType::Normal) {
    auto parts = split(e.data);
    if (parts.size() == 4 && parts[0] == "P") {
      n.state.kv[std::string(parts[2])] = to_int(parts[3]);
    } else if (parts.size() == 5 && parts[0] == "C") {
      std::string key(parts[2]);
      auto it = n.state.kv.find(key);
      std::int64_t cur = it == n.state.kv.end() ? 0 : it->second;
      cas_ok = cur == to_int(parts[3]);
      if (cas_ok) n.state.kv[key] = to_int(parts[4]);
    } else if (auto eq = e.data.find('='); eq != std::string::npos) {
      n.state.kv[e.data.substr(0, eq)] = to_int(std::string_view(e.data).substr(eq + 1));
    }
  } else if (e.type == EntryType::ConfigChange) {
    ConfigChange cc;
    Configuration cfg;
    if (!core::decode_config_change(e.data, &cc, &cfg)) {
      fail("undecodable config entry");
      return;
    }
    for (NodeId id : cfg.voters) ever_member_.insert(id);
    for (NodeId id : cfg.learners) ever_member_.insert(id);
    if (e.index > last_config_applied_) {
      last_config_applied_ = e.index;
      ++counters_.config_changes;
      if (events_) events_(fmt("config %s committed at %llu", core::encode_configuration(cfg).c_str(), ull(e.index)));
      // A node whose removal committed is shut down, as an operator would.
      for (NodeId id : ever_member_) {
        if (!cfg.contains(id)) to_decommission_.push_back(id);
      }
    }
  }
  n.applied = e.index;
  auto [hit, hinserted] = state_hash_.emplace(e.index, n.state.hash());
  if (!hinserted && hit->second != n.state.hash()) {
    fail(fmt("n%llu: state machine diverged at index %llu", ull(n.id), ull(e.index)));
    return;
  }
  auto pit = n.proposals.find(e.index);
  if (pit != n.proposals.end()) {
    auto [term, op] = pit->second;
    n.proposals.erase(pit);
    if (term == e.term) {
      history_[op].op.cas_ok = cas_ok;
      complete_op(op);
    } else {
      history_[op].pending = false;  // overwritten: it definitely did not happen
      history_[op].dropped = true;
    }
  }
}

void Cluster::on_role(SimNode& n) {
  Role role = n.raft->role();
  Term term = n.raft->term();
  if (role == Role::Leader) {
    // Only voters of the winner's configuration may have elected it: a learner's
    // vote never counts (thesis §4.2.1).
    const auto& cfg = n.raft->config();
    std::size_t votes = cfg.is_voter(n.id) ? 1 : 0;
    for (NodeId v : grants_[{term, n.id}]) votes += (cfg.is_voter(v) && v != n.id) ? 1 : 0;
    if (votes < cfg.quorum()) {
      fail(fmt("n%llu leads t%llu with only %zu votes from voters", ull(n.id), ull(term), votes));
      return;
    }
    auto [it, inserted] = leader_of_term_.emplace(term, n.id);
    if (inserted) ++counters_.elections;
    if (!inserted && it->second != n.id) {
      fail(fmt("two leaders in term %llu: n%llu and n%llu", ull(term), ull(it->second), ull(n.id)));
      return;
    }
    // Leader Completeness (§5.4): every committed entry is in the new leader's log.
    const auto& log = n.raft->log();
    for (auto cit = committed_.upper_bound(log.snapshot_index()); cit != committed_.end(); ++cit) {
      if (!log.matches(cit->first, cit->second.term)) {
        fail(fmt("leader n%llu (t%llu) lacks committed entry %llu/t%llu", ull(n.id), ull(term), ull(cit->first),
                 ull(cit->second.term)));
        return;
      }
    }
  }
  if (role != n.last_role && events_) {
    events_(fmt("n%llu is %s at t%llu", ull(n.id), core::role_name(role), ull(term)));
  }
  n.last_role = role;
}

// ---------------------------------------------------------------- clients

std::size_t Cluster::new_op(NodeId at, const std::string& key, Op op) {
  ClientOp c;
  c.key = key;
  c.op = op;
  c.op.invoke = ++clock_;
  c.node = at;
  c.started_at = now_;
  c.id = std::to_string(++op_counter_);
  history_.push_back(std::move(c));
  return history_.size() - 1;
}

void Cluster::complete_op(std::size_t i) {
  history_[i].op.complete = ++clock_;
  history_[i].pending = false;
  if (events_) {
    const ClientOp& c = history_[i];
    std::string what = c.op.kind == OpKind::Get   ? fmt("get %s -> %lld", c.key.c_str(), (long long)c.op.value)
                       : c.op.kind == OpKind::Put ? fmt("put %s=%lld ok", c.key.c_str(), (long long)c.op.value)
                                                  : fmt("cas %s %lld->%lld %s", c.key.c_str(),
                                                        (long long)c.op.expected, (long long)c.op.value,
                                                        c.op.cas_ok ? "ok" : "failed");
    events_(fmt("n%llu client: %s", ull(c.node), what.c_str()));
  }
}

bool Cluster::client_put(NodeId at, const std::string& key, std::int64_t value, std::string* err) {
  SimNode& n = node(at);
  if (!n.up) return false;
  std::string data = "P " + std::to_string(op_counter_ + 1) + " " + key + " " + std::to_string(value);
  auto r = n.raft->propose(data);
  if (!r.ok()) {
    if (err) *err = core::error_name(r.error);
    drain(n);
    return false;
  }
  Op op;
  op.kind = OpKind::Put;
  op.value = value;
  std::size_t i = new_op(at, key, op);
  n.proposals[r.index] = {r.term, i};
  drain(n);
  return true;
}

bool Cluster::client_cas(NodeId at, const std::string& key, std::int64_t expected, std::int64_t value,
                         std::string* err) {
  SimNode& n = node(at);
  if (!n.up) return false;
  std::string data = "C " + std::to_string(op_counter_ + 1) + " " + key + " " + std::to_string(expected) + " " +
                     std::to_string(value);
  auto r = n.raft->propose(data);
  if (!r.ok()) {
    if (err) *err = core::error_name(r.error);
    drain(n);
    return false;
  }
  Op op;
  op.kind = OpKind::Cas;
  op.expected = expected;
  op.value = value;
  std::size_t i = new_op(at, key, op);
  n.proposals[r.index] = {r.term, i};
  drain(n);
  return true;
}

bool Cluster::client_get(NodeId at, const std::string& key, std::string* err) {
  SimNode& n = node(at);
  if (!n.up) return false;
  std::string ctx = "R" + std::to_string(op_counter_ + 1);
  auto e = n.raft->read_index(ctx);
  if (e != core::Error::Ok) {
    if (err) *err = core::error_name(e);
    return false;
  }
  Op op;
  op.kind = OpKind::Get;
  std::size_t i = new_op(at, key, op);
  n.reads_sent[ctx] = i;
  drain(n);
  return true;
}

void Cluster::complete_reads(SimNode& n) {
  for (auto it = n.reads_ready.begin(); it != n.reads_ready.end();) {
    if (it->first > n.applied) {
      ++it;
      continue;
    }
    ClientOp& c = history_[it->second];
    auto kv = n.state.kv.find(c.key);
    c.op.value = kv == n.state.kv.end() ? 0 : kv->second;
    ++counters_.reads;
    complete_op(it->second);
    it = n.reads_ready.erase(it);
  }
}

void Cluster::forget_node_ops(SimNode& n) {
  for (auto& [index, p] : n.proposals) history_[p.second].pending = false;  // indeterminate
  for (auto& [ctx, op] : n.reads_sent) {
    history_[op].pending = false;
    history_[op].dropped = true;
  }
  for (auto& [index, op] : n.reads_ready) {
    history_[op].pending = false;
    history_[op].dropped = true;
  }
  n.proposals.clear();
  n.reads_sent.clear();
  n.reads_ready.clear();
}

void Cluster::expire_client_ops(std::uint64_t max_age) {
  for (auto& [id, n] : nodes_) {
    for (auto it = n->proposals.begin(); it != n->proposals.end();) {
      if (now_ - history_[it->second.second].started_at > max_age) {
        history_[it->second.second].pending = false;
        it = n->proposals.erase(it);
      } else {
        ++it;
      }
    }
    for (auto it = n->reads_sent.begin(); it != n->reads_sent.end();) {
      if (now_ - history_[it->second].started_at > max_age) {
        history_[it->second].pending = false;
        history_[it->second].dropped = true;
        it = n->reads_sent.erase(it);
      } else {
        ++it;
      }
    }
    for (auto it = n->reads_ready.begin(); it != n->reads_ready.end();) {
      if (now_ - history_[it->second].started_at > max_age) {
        history_[it->second].pending = false;
        history_[it->second].dropped = true;
        it = n->reads_ready.erase(it);
      } else {
        ++it;
      }
    }
  }
}

std::size_t Cluster::pending_ops() const {
  std::size_t n = 0;
  for (auto& c : history_) n += c.pending ? 1 : 0;
  return n;
}

// ---------------------------------------------------------------- control

core::ProposeResult Cluster::propose_raw(NodeId at, std::string data) {
  SimNode& n = node(at);
  if (!n.up) return {core::Error::NotLeader};
  auto r = n.raft->propose(std::move(data));
  drain(n);
  return r;
}

core::ProposeResult Cluster::config_change(NodeId at, ConfigChange cc) {
  SimNode& n = node(at);
  if (!n.up) return {core::Error::NotLeader};
  auto r = n.raft->propose_config_change(cc);
  drain(n);
  return r;
}

core::Error Cluster::transfer(NodeId at, NodeId to) {
  SimNode& n = node(at);
  if (!n.up) return core::Error::NotLeader;
  auto r = n.raft->transfer_leadership(to);
  drain(n);
  return r;
}

void Cluster::campaign(NodeId at) {
  SimNode& n = node(at);
  if (!n.up) return;
  n.raft->campaign();
  drain(n);
}

bool Cluster::compact(NodeId at) {
  SimNode& n = node(at);
  if (!n.up || n.applied <= n.raft->snapshot_meta().index) return false;
  auto data = std::make_shared<const std::string>(n.state.encode());
  if (n.raft->compact(n.applied, data) != core::Error::Ok) return false;
  ++counters_.compactions;
  // The snapshot is made durable before the log prefix is dropped.
  n.disk.snapshot_meta = n.raft->snapshot_meta();
  n.disk.snapshot_data = data;
  Index drop = n.applied - (n.disk.entries.empty() ? n.applied : n.disk.entries.front().index - 1);
  n.disk.entries.erase(n.disk.entries.begin(),
                       n.disk.entries.begin() + static_cast<std::ptrdiff_t>(std::min<Index>(drop, n.disk.entries.size())));
  return true;
}

NodeId Cluster::leader() const {
  NodeId best = 0;
  Term best_term = 0;
  for (auto& [id, n] : nodes_) {
    if (n->up && n->raft->role() == Role::Leader && n->raft->term() >= best_term) {
      best = id;
      best_term = n->raft->term();
    }
  }
  return best;
}

// ---------------------------------------------------------------- invariants

void Cluster::fail(const std::string& what) {
  if (violation_.empty()) violation_ = fmt("t=%llu: ", ull(now_)) + what;
}

void Cluster::check_log_matching() {
  // §5.3 Log Matching: if two logs hold an entry with the same index and term, they
  // are identical up to it. Checked pairwise on every live node.
  std::vector<const core::RaftLog*> logs;
  std::vector<NodeId> ids;
  for (auto& [id, n] : nodes_) {
    if (!n->up) continue;
    logs.push_back(&n->raft->log());
    ids.push_back(id);
  }
  for (std::size_t a = 0; a < logs.size(); ++a) {
    for (std::size_t b = a + 1; b < logs.size(); ++b) {
      const auto& la = *logs[a];
      const auto& lb = *logs[b];
      Index lo = std::max(la.first_index(), lb.first_index());
      Index hi = std::min(la.last_index(), lb.last_index());
      Index common = 0;
      for (Index i = hi; i >= lo && i > 0; --i) {
        if (la.at(i).term == lb.at(i).term) {
          common = i;
          break;
        }
      }
      for (Index i = lo; i <= common; ++i) {
        if (!(la.at(i) == lb.at(i))) {
          fail(fmt("log matching broken between n%llu and n%llu at index %llu (common %llu)", ull(ids[a]),
                   ull(ids[b]), ull(i), ull(common)));
          return;
        }
      }
    }
  }
}

void Cluster::check_all() {
  check_log_matching();
  for (auto& [id, n] : nodes_) {
    if (!n->up) continue;
    if (n->raft->commit_index() > n->raft->last_index()) fail(fmt("n%llu commit beyond log", ull(id)));
    // Every committed entry still in the node's log is the committed one.
    const auto& log = n->raft->log();
    for (auto it = committed_.upper_bound(log.snapshot_index());
         it != committed_.end() && it->first <= n->raft->commit_index(); ++it) {
      if (!log.matches(it->first, it->second.term)) {
        fail(fmt("n%llu lost committed entry %llu", ull(id), ull(it->first)));
      }
    }
  }
}

void Cluster::check_linearizability() {
  std::map<std::string, std::vector<Op>> by_key;
  for (const ClientOp& c : history_) {
    if (c.dropped) continue;
    if (c.pending && c.op.kind == OpKind::Get) continue;
    Op op = c.op;
    if (c.pending) op.complete = kNever;
    by_key[c.key].push_back(op);
  }
  for (auto& [key, ops] : by_key) {
    auto r = check_key_history(ops);
    if (r == CheckResult::TooExpensive) {
      ++lin_inconclusive_;
    } else if (r == CheckResult::NotLinearizable) {
      fail("history of key '" + key + "' is not linearizable:\n" + describe(ops));
      return;
    }
  }
}

std::string Cluster::describe_node(NodeId id) const {
  const SimNode& n = *nodes_.at(id);
  if (n.removed) return fmt("n%llu removed", ull(id));
  if (!n.up) return fmt("n%llu down", ull(id));
  auto st = n.raft->status();
  std::string voters, learners;
  for (NodeId v : st.config.voters) voters += (voters.empty() ? "" : ",") + std::to_string(v);
  for (NodeId l : st.config.learners) learners += (learners.empty() ? "" : ",") + std::to_string(l);
  std::string progress;
  for (auto& [pid, pr] : st.progress) {
    progress += fmt(" [n%llu %s match=%llu next=%llu inflight=%zu]", ull(pid), core::progress_state_name(pr.state),
                    ull(pr.match), ull(pr.next), pr.inflight.size());
  }
  return fmt("n%llu %s t%llu leader=%llu last=%llu commit=%llu applied=%llu snap=%llu voters=%s learners=%s",
             ull(id), core::role_name(st.role), ull(st.term), ull(st.leader), ull(st.last_index), ull(st.commit),
             ull(n.applied), ull(st.snapshot_index), voters.c_str(), learners.c_str()) +
         progress;
}

}  // namespace corvus::rachis::sim
