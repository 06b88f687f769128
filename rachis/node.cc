#include "rachis/node.h"

#include <algorithm>
#include <cstdio>
#include <random>

#include <unistd.h>

#include "failpoints/failpoints.h"
#include "rachis/cluster/commands/node_commands.h"
#include "rachis/snapshot_stream.h"

namespace corvus::rachis {

using core::Role;
using Clock = std::chrono::steady_clock;

namespace {

Status core_error(core::Error e, const std::string& what) {
  switch (e) {
    case core::Error::Ok: return Status::Ok();
    case core::Error::NotLeader: return Status::NotLeader(what);
    case core::Error::TransferInProgress:
      return Status::Busy("a leadership transfer is in progress; retry shortly");
    case core::Error::ConfigChangePending:
      return Status::Busy("another membership change is in progress; retry once it is committed");
    case core::Error::NotReady: return Status::Busy("the new leader is not ready yet; retry shortly");
    case core::Error::InvalidArgument: return Status::InvalidArgument(what);
  }
  return Status::Internal(what);
}

std::uint64_t random_seed() {
  std::random_device rd;
  return (std::uint64_t(rd()) << 32) ^ rd() ^
         static_cast<std::uint64_t>(Clock::now().time_since_epoch().count());
}

}  // namespace

Node::Node(const NodeOptions& options) : opts_(options), rng_(random_seed()) {}

Result<std::unique_ptr<Node>> Node::open(const NodeOptions& options) {
  if (options.path.empty()) return Status::InvalidArgument("Rachis node needs a path");
  std::unique_ptr<Node> node(new Node(options));
  node->load_left();
  auto storage = LogStorage::open(options.path);
  if (!storage.ok()) return storage.status();
  node->storage_ = std::move(storage).value();
  auto sm = cluster::ClusterStateMachine::open(options.state_path.empty() ? options.path + "-state"
                                                                           : options.state_path);
  if (!sm.ok()) return sm.status();
  node->sm_ = std::move(sm).value();
  if (!node->storage_->identity()) {
    if (options.new_cluster_id.empty()) return Status::InvalidArgument("a new Rachis store needs a cluster id");
    // A brand-new node is the only voter of its own cluster (NodeId 1).
    if (Status s = node->storage_->reset({options.new_cluster_id, 1}); !s.ok()) return s;
    core::SnapshotMeta meta;
    meta.config.voters = {1};
    if (Status s = node->storage_->save_snapshot_and_compact(meta, ""); !s.ok()) return s;
  }
  TransportHandler handler;
  Node* raw = node.get();
  handler.on_handshake = [raw](const std::string& cluster_id, core::NodeId from, core::NodeId to,
                               const std::string& address) { return raw->on_handshake(cluster_id, from, to, address); };
  handler.on_message = [raw](core::Message m) {
    raw->post([raw, m = std::move(m)]() mutable {
      // Queued before this node left its cluster (or joined another), for the
      // node id it had then: a new core must not take it (it would see a
      // second leader of its own term).
      if (m.to != raw->storage_->identity()->node_id) return;
      raw->raft_->step(std::move(m));
    });
  };
  handler.on_snapshot_request = [raw](const std::string& cluster_id, core::NodeId from, core::NodeId to,
                                      core::Index index) { return raw->serve_snapshot(cluster_id, from, to, index); };
  handler.on_snapshot_failed = [raw](core::NodeId to) {
    if (raw->opts_.log) raw->opts_.log("warn", "the cluster snapshot transfer to node id " + std::to_string(to) + " broke");
    raw->post([raw, to] { raw->raft_->report_snapshot_failure(to); });
  };
  handler.on_channel = options.on_channel;
  TransportOptions listen = options.listen;
  if (!listen.log) listen.log = options.log;
  auto transport = TcpTransport::start(listen, std::move(handler));
  if (!transport.ok()) return transport.status();
  node->transport_ = std::move(transport).value();
  node->advertise_ = options.advertise_address.empty()
                         ? (options.advertise_host.empty() ? options.listen.host : options.advertise_host) + ":" +
                               std::to_string(node->transport_->port())
                         : options.advertise_address;
  if (Status s = node->recover(); !s.ok()) return s;
  node->thread_ = std::thread([raw] { raw->run(); });
  return node;
}

Node::~Node() { stop(); }

Status Node::recover() {
  auto ps = storage_->load();
  if (!ps.ok()) return ps.status();
  auto& state = ps.value();
  // A node that starts over wipes its log first, then its state: a crash in
  // between leaves the old cluster's state under a new log. The state names
  // its cluster (the topology's id); one of another cluster is cleared.
  const std::string state_cluster = sm_->topology().cluster_id;
  if (sm_->applied() > 0 && !state_cluster.empty() && state_cluster != storage_->identity()->cluster_id) {
    if (opts_.log) opts_.log("warn", "the cluster state belongs to cluster " + state_cluster + "; clearing it");
    if (Status s = sm_->clear(); !s.ok()) return s;
  }
  // The state is synced before the log is compacted, and a pulled snapshot is
  // swapped in before the log records it: it never lags the log's snapshot.
  if (state.snapshot_meta.index > sm_->applied()) {
    return Status::Corruption("the cluster state (applied index " + std::to_string(sm_->applied()) +
                              ") is older than the Rachis log's snapshot at index " +
                              std::to_string(state.snapshot_meta.index));
  }
  // What lagging followers get: a descriptor; they pull the state itself.
  if (state.snapshot_meta.index > 0) {
    state.snapshot_data = std::make_shared<const std::string>(encode_snapshot_descriptor(state.snapshot_meta.index));
  }
  const NodeIdentity id = *storage_->identity();
  core::Options ro;
  ro.id = id.node_id;
  ro.election_tick = opts_.election_tick;
  ro.heartbeat_tick = 1;
  ro.snapshot_threshold = opts_.snapshot_threshold;
  ro.max_entries_per_message = 256;
  ro.max_inflight = 64;
  // Entries up to here are in the state already; the log hands out the rest
  // (apply skips those the state has). Never past the stored commit index:
  // after a crash between a snapshot swap and its log write, the state is ahead
  // of a log whose uncommitted suffix the leader may still overwrite, and the
  // core must not take that suffix for committed.
  const core::Index last = state.entries.empty() ? state.snapshot_meta.index : state.entries.back().index;
  state.applied = std::min({sm_->applied(), last, state.hard_state.commit});
  raft_ = std::make_unique<core::Raft>(ro, rng_, std::move(state));
  transport_->set_identity(id.cluster_id, id.node_id, advertise_);
  update_peers();
  // A lone voter need not wait a whole election timeout to lead its own cluster.
  const auto& cfg = raft_->config();
  if (cfg.voters.size() == 1 && cfg.is_voter(id.node_id)) raft_->campaign();
  update_view();
  return Status::Ok();
}

void Node::stop() {
  {
    std::lock_guard lock(mu_);
    if (stopping_ && !thread_.joinable()) return;
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  if (transport_) transport_->stop();
}

void Node::post(std::function<void()> task) {
  {
    std::lock_guard lock(mu_);
    if (stopping_) return;
    tasks_.push_back(std::move(task));
  }
  cv_.notify_one();
}

void Node::run() {
  auto next_tick = Clock::now() + opts_.tick;
  for (;;) {
    std::deque<std::function<void()>> batch;
    {
      std::unique_lock lock(mu_);
      cv_.wait_until(lock, next_tick, [&] { return stopping_ || !tasks_.empty(); });
      if (stopping_) break;
      batch.swap(tasks_);
    }
    for (auto& t : batch) t();
    const auto now = Clock::now();
    if (now >= next_tick) {
      if (!view().removed) raft_->tick();
      ++ticks_;
      housekeeping();
      next_tick += opts_.tick;
      if (next_tick < now) next_tick = now + opts_.tick;
    }
    process_ready();
    update_view();
  }
  fail_all_pending(Status::ShuttingDown("the cluster node is shutting down"));
}

void Node::process_ready() {
  while (raft_->has_ready()) {
    core::Ready rd = raft_->ready();
    if (rd.soft_state) {
      if (rd.soft_state->role == Role::Leader && last_role_ != Role::Leader) leader_since_ = Clock::now();
      if (rd.soft_state->leader != last_leader_ && opts_.log) {
        opts_.log("info", "leader is now node " + std::to_string(rd.soft_state->leader) + " (term " +
                              std::to_string(raft_->term()) + ")");
      }
      last_leader_ = rd.soft_state->leader;
      last_role_ = rd.soft_state->role;
      if (last_role_ == Role::Leader) maybe_bootstrap();  // a new lone cluster gets its first node at once
    }
    if (rd.snapshot) {
      // The state comes first: until the swap, the old state and the old log
      // are consistent with each other, and a crash or a failed pull keeps them.
      if (Status s = pull_snapshot(*rd.snapshot); !s.ok()) {
        if (s.code() != StatusCode::Busy && s.code() != StatusCode::ShuttingDown) {
          if (opts_.log) {
            opts_.log("error", "FATAL: cannot restore the cluster snapshot at index " +
                                   std::to_string(rd.snapshot->meta.index) + ": " + s.to_string() +
                                   "; stopping this node");
          }
          std::abort();
        }
        // Nothing of this Ready may take effect (its acknowledgement would
        // promise a state we do not have): start over from what is on disk.
        // The leader sends the snapshot again.
        if (opts_.log) {
          opts_.log("warn", "cannot pull the cluster snapshot at index " + std::to_string(rd.snapshot->meta.index) +
                                " (" + s.to_string() + "); will retry");
        }
        if (Status r = recover(); !r.ok()) {
          if (opts_.log) opts_.log("error", "FATAL: cannot reload the Rachis log: " + r.to_string());
          std::abort();
        }
        continue;
      }
    }
    // Thesis §10.2.1: the leader may write its log in parallel with replicating
    // it, so its appends and heartbeats leave before its own fsync. Safe because
    // an entry counts as committed only when followers' acknowledgements are
    // stepped, which happens on this thread after this save completes; votes
    // and acknowledgements (everything else) still wait for the save.
    auto parallel = std::stable_partition(rd.messages.begin(), rd.messages.end(), [](const core::Message& m) {
      return m.type == core::MessageType::Append || m.type == core::MessageType::Heartbeat;
    });
    for (auto it = rd.messages.begin(); it != parallel; ++it) transport_->send(std::move(*it));
    rd.messages.erase(rd.messages.begin(), parallel);
    if (Status s = storage_->save(rd); !s.ok()) {
      // Raft's promises (votes, acknowledged entries) would be broken: stop hard.
      if (opts_.log) opts_.log("error", "cannot persist the Rachis log: " + s.to_string());
      std::abort();
    }
    if (rd.snapshot) {
      if (opts_.on_applied) opts_.on_applied(cluster::AppliedCommand{rd.snapshot->meta.index, "Snapshot", {}, true});
      update_peers();
    }
    for (auto& m : rd.messages) transport_->send(std::move(m));
    if (!rd.committed_entries.empty()) CORVUS_FAILPOINT("rachis.after-append-before-apply");
    for (const auto& e : rd.committed_entries) apply_entry(e);
    for (const auto& rs : rd.read_states) {
      auto it = pending_reads_.find(rs.context);
      if (it == pending_reads_.end()) continue;
      Done done = std::move(it->second.done);
      pending_reads_.erase(it);
      done(Status::Ok(), rs.index);
    }
    raft_->advance(rd);
    if (rd.compact_hint != 0) {
      // Not past what the core applied: after a pulled snapshot the state may be
      // ahead of it (the entries in between are skipped as they commit).
      const core::Index i = std::min(sm_->applied(), raft_->status().applied);
      if (i > raft_->snapshot_meta().index) {
        // The state must be durable past i before the log forgets entries <= i.
        // The snapshot itself is a descriptor: followers pull the state.
        if (Status s = sm_->sync(); !s.ok()) {
          if (opts_.log) opts_.log("warn", "cannot sync the cluster state for a snapshot: " + s.to_string());
        } else {
          auto data = std::make_shared<const std::string>(encode_snapshot_descriptor(i));
          if (raft_->compact(i, data) == core::Error::Ok) {
            if (Status st = storage_->save_snapshot_and_compact(raft_->snapshot_meta(), *data); !st.ok() && opts_.log) {
              opts_.log("warn", "cannot store the cluster snapshot: " + st.to_string());
            }
          }
        }
      }
    }
    update_view();
    applied_cv_.notify_all();
  }
}

Status Node::pull_snapshot(const core::Snapshot& snapshot) {
  core::Index index = 0;
  if (!snapshot.data || !decode_snapshot_descriptor(*snapshot.data, &index) || index != snapshot.meta.index) {
    // Not corruption of ours: a sender of another version. Keep our state.
    return Status::Busy("the snapshot is not a streamed-snapshot descriptor this build reads");
  }
  const core::NodeId leader = raft_->leader();
  if (leader == core::kNoNode) return Status::Busy("no leader to pull the snapshot from");
  const auto peers = transport_->peer_status();
  auto peer = peers.find(leader);
  if (peer == peers.end() || peer->second.address.empty()) {
    return Status::Busy("the cluster address of node id " + std::to_string(leader) + " is unknown");
  }
  auto staged = sm_->stage_snapshot();
  if (!staged.ok()) return staged.status();
  const auto started = Clock::now();
  Status s = transport_->fetch_snapshot(peer->second.address, leader, index, **staged, [this] {
    std::lock_guard lock(mu_);
    return stopping_;
  });
  if (!s.ok()) return s;
  const core::Index applied = (*staged)->applied();
  if (applied < index) {
    return Status::Corruption("node id " + std::to_string(leader) + " sent its state at applied index " +
                              std::to_string(applied) + " for a snapshot at " + std::to_string(index));
  }
  if (Status is = sm_->install_snapshot(std::move(staged).value()); !is.ok()) return is;
  if (opts_.log) {
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - started).count();
    opts_.log("info", "installed the cluster state at applied index " + std::to_string(applied) + " (snapshot at " +
                          std::to_string(index) + ") from node id " + std::to_string(leader) + " in " +
                          std::to_string(ms) + " ms");
  }
  return Status::Ok();
}

Result<std::unique_ptr<SnapshotSource>> Node::serve_snapshot(const std::string& cluster_id, core::NodeId from,
                                                             core::NodeId to, core::Index index) {
  const NodeView v = view();
  if (cluster_id != v.identity.cluster_id || to != v.identity.node_id) {
    return Status::InvalidArgument("this node is node id " + std::to_string(v.identity.node_id) + " of cluster " +
                                   v.identity.cluster_id);
  }
  auto reader = sm_->read_snapshot();
  if (!reader.ok()) return reader.status();
  if ((*reader)->applied() < index) {
    return Status::Busy("this node applied only up to index " + std::to_string((*reader)->applied()) +
                        ", the snapshot is at " + std::to_string(index));
  }
  if (opts_.log) {
    opts_.log("info", "sending the cluster state at applied index " + std::to_string((*reader)->applied()) +
                          " to node id " + std::to_string(from) + " (snapshot at " + std::to_string(index) + ")");
  }
  return std::unique_ptr<SnapshotSource>(std::move(reader).value());
}

void Node::apply_entry(const core::Entry& e) {
  const core::Index etag_before = sm_->topology().etag;
  cluster::ClusterStateMachine::Outcome out = sm_->apply(e);
  if (out.fatal) {
    // Skipping would leave this node's state silently different from the
    // others'; stopping keeps the divergence visible and recoverable (upgrade,
    // restart). The log says which command and why.
    if (opts_.log) {
      opts_.log("error", "FATAL: cannot apply cluster log entry " + std::to_string(e.index) + " (type '" +
                             out.applied.type + "'): " + out.result.status.to_string() + "; stopping this node");
    }
    std::abort();
  }
  if (e.type == core::EntryType::ConfigChange) {
    core::ConfigChange cc;
    core::Configuration result;
    if (core::decode_config_change(e.data, &cc, &result) && cc.type == core::ConfigChangeType::RemoveNode &&
        cc.node == raft_->id()) {
      std::lock_guard lock(view_mu_);
      view_.removed = true;
      if (opts_.log) opts_.log("warn", "this node was removed from the cluster");
    }
  }
  if (sm_->topology().etag != etag_before) update_peers();
  if (opts_.on_applied) opts_.on_applied(out.applied);
  auto it = pending_.find(e.index);
  if (it != pending_.end()) {
    CORVUS_FAILPOINT("rachis.after-apply-before-respond");
    CommandDone done = std::move(it->second.done);
    const bool ours = it->second.term == e.term;
    pending_.erase(it);
    if (!ours) {
      done(cluster::CommandResult{Status::NotLeader("the command was lost in a leader change; retry it"), nullptr},
           e.index);
    } else {
      done(std::move(out.result), e.index);
    }
  }
}

void Node::housekeeping() {
  const auto now = Clock::now();
  for (auto it = pending_.begin(); it != pending_.end();) {
    if (it->second.deadline <= now) {
      CommandDone done = std::move(it->second.done);
      const core::Index index = it->first;
      it = pending_.erase(it);
      done(cluster::CommandResult{Status::Timeout("the cluster command was not committed in time"), nullptr}, index);
    } else {
      ++it;
    }
  }
  for (auto it = pending_reads_.begin(); it != pending_reads_.end();) {
    if (it->second.deadline <= now) {
      Done done = std::move(it->second.done);
      it = pending_reads_.erase(it);
      done(Status::Timeout("no read index from the leader in time (no quorum?)"), 0);
    } else {
      ++it;
    }
  }
  if (raft_->role() != Role::Leader) return;
  maybe_bootstrap();
  if (ticks_ % 10 == 0) maybe_update_address(raft_->id(), opts_.url, advertise_);
  if (ticks_ % 3 == 0) maybe_promote();
}

void Node::maybe_bootstrap() {
  if (!sm_->topology().nodes.empty()) return;
  if (bootstrap_index_ != 0 && raft_->term() == bootstrap_term_ && sm_->applied() < bootstrap_index_) return;
  const NodeIdentity id = *storage_->identity();
  const auto& cfg = raft_->config();
  if (!(cfg.voters.size() == 1 && cfg.is_voter(id.node_id))) return;
  cluster::NodeInfo self;
  self.tag = opts_.bootstrap_tag.empty() ? "A" : opts_.bootstrap_tag;
  self.id = id.node_id;
  self.url = opts_.url;
  self.address = advertise_;
  self.command_version = cluster::kCommandVersion;
  cluster::BootstrapCommand bootstrap;
  bootstrap.cluster_id = id.cluster_id;
  bootstrap.self = self;
  auto r = raft_->propose(cluster::encode_command(bootstrap));
  if (r.ok()) {
    bootstrap_index_ = r.index;
    bootstrap_term_ = r.term;
  }
}

void Node::maybe_update_address(core::NodeId id, const std::string& url, const std::string& address) {
  if (raft_->role() != Role::Leader) return;
  const cluster::Topology topo = sm_->topology();
  const cluster::NodeInfo* n = topo.by_id(id);
  if (!n) return;
  cluster::NodeInfo updated = *n;
  if (!url.empty()) updated.url = url;
  if (!address.empty()) updated.address = address;
  // Only a node itself knows which commands it can apply (after an upgrade).
  if (id == raft_->id()) updated.command_version = cluster::kCommandVersion;
  if (updated.url == n->url && updated.address == n->address && updated.command_version == n->command_version) return;
  cluster::UpdateNodeCommand update;
  update.node = updated;
  auto r = raft_->propose(cluster::encode_command(update));
  if (r.ok() && opts_.log) {
    opts_.log("info", "node " + n->tag + " moved: " + updated.url + ", cluster address " + updated.address);
  }
}

void Node::maybe_promote() {
  const core::RaftStatus st = raft_->status();
  if (st.config.learners.empty()) {
    promote_targets_.clear();
    return;
  }
  const cluster::Topology topo = sm_->topology();
  for (core::NodeId learner : st.config.learners) {
    const cluster::NodeInfo* n = topo.by_id(learner);
    if (!n || n->role != cluster::NodeRole::Promotable) continue;
    auto pr = st.progress.find(learner);
    if (pr == st.progress.end() || st.commit == 0) continue;
    // Caught up = it holds everything that was committed at the previous check
    // (a few ticks ago). Under steady load the commit index keeps moving, so
    // "match == commit" might never hold; this rule only asks that the learner
    // keeps pace (the last catch-up round of thesis §4.2.1 is short).
    auto target = promote_targets_.find(learner);
    if (target == promote_targets_.end() || pr->second.match < target->second) {
      promote_targets_[learner] = st.commit;
      continue;
    }
    core::ConfigChange cc;
    cc.type = core::ConfigChangeType::PromoteVoter;
    cc.node = learner;
    auto r = raft_->propose_config_change(cc);
    if (r.ok()) {
      promote_targets_.erase(learner);
      if (opts_.log) opts_.log("info", "promoting node " + n->tag + " to member");
    }
    return;  // one change at a time
  }
}

void Node::update_peers() {
  const cluster::Topology topo = sm_->topology();
  const core::NodeId self = raft_ ? raft_->id() : core::kNoNode;
  std::map<core::NodeId, std::string> peers;
  for (const auto& [tag, n] : topo.nodes) {
    if (n.id != self && !n.address.empty()) peers[n.id] = n.address;
  }
  // Learn dial-back addresses only while joining is possible: fresh, or not yet
  // listed in the topology we applied.
  transport_->set_peers(peers, topo.by_id(self) == nullptr || (raft_ && is_fresh()));
}

bool Node::is_fresh() const {
  const auto topo = sm_->topology();
  const core::NodeId self = raft_->id();
  const auto& cfg = raft_->config();
  if (view_.removed) return true;
  if (topo.nodes.size() > 1 || !cfg.learners.empty()) return false;
  for (core::NodeId v : cfg.voters) {
    if (v != self) return false;
  }
  return true;
}

void Node::update_view() {
  NodeView v;
  v.identity = *storage_->identity();
  v.role = raft_->role();
  v.term = raft_->term();
  v.leader = raft_->leader();
  v.commit = raft_->commit_index();
  v.applied = sm_->applied();
  v.last_index = raft_->last_index();
  v.config = raft_->config();
  v.leader_since = leader_since_;
  if (v.role == Role::Leader) {
    for (const auto& [id, pr] : raft_->status().progress) v.match[id] = pr.match;
  }
  {
    std::lock_guard lock(view_mu_);
    v.removed = view_.removed;
    view_ = std::move(v);
    view_.fresh = is_fresh();
  }
}

NodeView Node::view() const {
  std::lock_guard lock(view_mu_);
  return view_;
}

bool Node::wait_applied(core::Index index, std::chrono::milliseconds timeout) const {
  std::unique_lock lock(view_mu_);
  return applied_cv_.wait_for(lock, timeout, [&] { return view_.applied >= index; });
}

Status Node::not_leader() const {
  const core::NodeId leader = raft_->leader();
  if (leader == core::kNoNode) return Status::NotLeader("there is no cluster leader at the moment; retry shortly");
  const auto topo = sm_->topology();
  const auto* n = topo.by_id(leader);
  return Status::NotLeader(n ? "this node is not the leader; the leader is " + n->tag + " at " + n->url
                             : "this node is not the leader; the leader is node id " + std::to_string(leader));
}

void Node::track(const core::ProposeResult& r, CommandDone done) {
  pending_[r.index] = Pending{r.term, std::move(done), Clock::now() + opts_.propose_timeout};
}

void Node::track(const core::ProposeResult& r, Done done) {
  track(r, CommandDone([done = std::move(done)](cluster::CommandResult result, core::Index i) { done(result.status, i); }));
}

void Node::fail_all_pending(const Status& s) {
  auto pending = std::move(pending_);
  pending_.clear();
  for (auto& [index, p] : pending) p.done(cluster::CommandResult{s, nullptr}, index);
  auto reads = std::move(pending_reads_);
  pending_reads_.clear();
  for (auto& [ctx, r] : reads) r.done(s, 0);
}

void Node::propose(const cluster::ClusterCommand& command, CommandDone done) {
  propose_checked(cluster::encode_command(command), command.type(), command.version(), std::move(done));
}

void Node::propose_encoded(std::string payload, CommandDone done) {
  cluster::DecodedCommand decoded = cluster::decode_command(payload);
  if (!decoded.command) return done(cluster::CommandResult{Status::InvalidArgument(decoded.status.message()), nullptr}, 0);
  propose_checked(std::move(payload), decoded.command->type(), decoded.command->version(), std::move(done));
}

void Node::propose_checked(std::string payload, std::string_view type, std::uint32_t version, CommandDone done) {
  post([this, payload = std::move(payload), type = std::string(type), version, done = std::move(done)]() mutable {
    if (raft_->role() != Role::Leader) return done(cluster::CommandResult{not_leader(), nullptr}, 0);
    // Every node must be able to apply what the leader appends (a node meeting
    // an unknown command stops): refuse while some node runs an older version.
    const cluster::Topology topo = sm_->topology();
    for (const auto& [tag, n] : topo.nodes) {
      if (n.command_version < version) {
        return done(cluster::CommandResult{Status::InvalidArgument("cannot run '" + type + "' yet: node " + tag + " (" +
                                                                   n.url + ") runs cluster command version " +
                                                                   std::to_string(n.command_version) + ", '" + type +
                                                                   "' needs " + std::to_string(version) +
                                                                   "; upgrade that node first"),
                                           nullptr},
                    0);
      }
    }
    auto r = raft_->propose(std::move(payload));
    if (!r.ok()) {
      return done(cluster::CommandResult{r.error == core::Error::NotLeader ? not_leader() : core_error(r.error, "propose"),
                                         nullptr},
                  0);
    }
    track(r, std::move(done));
  });
}

void Node::read_index(Done done) {
  post([this, done = std::move(done)]() mutable {
    std::string ctx = std::to_string(++next_read_);
    core::Error e = raft_->read_index(ctx);
    if (e != core::Error::Ok) return done(e == core::Error::NotLeader ? not_leader() : core_error(e, "read index"), 0);
    // A lost read-index request (leader change, dropped message) is not resent
    // by the core; give up after one election timeout so the caller retries.
    pending_reads_[ctx] = PendingRead{std::move(done), Clock::now() + opts_.tick * opts_.election_tick};
  });
}

void Node::add_node(const std::string& tag, const std::string& url, const std::string& address, bool watcher,
                    std::uint32_t command_version, Done done) {
  post([this, tag, url, address, watcher, command_version, done = std::move(done)]() mutable {
    if (raft_->role() != Role::Leader) return done(not_leader(), 0);
    const cluster::Topology topo = sm_->topology();
    for (const auto& [t, n] : topo.nodes) {
      if (n.url == url) return done(Status::InvalidArgument("node " + t + " already has URL " + url), 0);
      if (!tag.empty() && t == tag) {
        return done(Status::InvalidArgument("node tag " + tag + " is already in use (" + n.url + ")"), 0);
      }
    }
    cluster::NodeInfo n;
    n.tag = tag.empty() ? topo.next_free_tag() : tag;
    core::NodeId max_id = topo.last_node_id;
    for (auto id : raft_->config().voters) max_id = std::max(max_id, id);
    for (auto id : raft_->config().learners) max_id = std::max(max_id, id);
    n.id = max_id + 1;
    n.url = url;
    n.address = address;
    n.role = watcher ? cluster::NodeRole::Watcher : cluster::NodeRole::Promotable;
    n.command_version = command_version == 0 ? 1 : command_version;
    core::ConfigChange cc;
    cc.type = core::ConfigChangeType::AddLearner;
    cc.node = n.id;
    cc.context = cluster::encode_node_context(n);
    auto r = raft_->propose_config_change(cc);
    if (!r.ok()) return done(r.error == core::Error::NotLeader ? not_leader() : core_error(r.error, "add node"), 0);
    if (opts_.log) opts_.log("info", "adding node " + n.tag + " (" + url + ", cluster address " + address + ")");
    track(r, std::move(done));
  });
}

void Node::remove_node(const std::string& tag, Done done) {
  post([this, tag, done = std::move(done)]() mutable {
    if (raft_->role() != Role::Leader) return done(not_leader(), 0);
    const cluster::Topology topo = sm_->topology();
    auto it = topo.nodes.find(tag);
    if (it == topo.nodes.end()) return done(Status::NotFound("there is no node " + tag + " in the cluster"), 0);
    if (topo.nodes.size() == 1) return done(Status::InvalidArgument("cannot remove the last node of a cluster"), 0);
    core::ConfigChange cc;
    cc.type = core::ConfigChangeType::RemoveNode;
    cc.node = it->second.id;
    auto r = raft_->propose_config_change(cc);
    if (!r.ok()) return done(r.error == core::Error::NotLeader ? not_leader() : core_error(r.error, "remove node"), 0);
    if (opts_.log) opts_.log("info", "removing node " + tag);
    track(r, std::move(done));
  });
}

void Node::reelect(Done done) {
  post([this, done = std::move(done)]() mutable {
    if (raft_->role() != Role::Leader) return done(not_leader(), 0);
    const core::RaftStatus st = raft_->status();
    core::NodeId best = core::kNoNode;
    core::Index best_match = 0;
    for (core::NodeId v : st.config.voters) {
      if (v == st.id) continue;
      auto pr = st.progress.find(v);
      const core::Index m = pr == st.progress.end() ? 0 : pr->second.match;
      if (best == core::kNoNode || m > best_match) {
        best = v;
        best_match = m;
      }
    }
    if (best == core::kNoNode) {
      return done(Status::InvalidArgument("there is no other member to hand the leadership to"), 0);
    }
    core::Error e = raft_->transfer_leadership(best);
    done(core_error(e, "leadership transfer"), st.commit);
  });
}

std::string Node::on_handshake(const std::string& cluster_id, core::NodeId from, core::NodeId to,
                               const std::string& address) {
  const NodeView v = view();
  {
    std::lock_guard lock(left_mu_);
    auto it = left_.find(cluster_id);
    if (it != left_.end() && it->second == to) {
      return "this node left cluster " + cluster_id + " (it was node id " + std::to_string(to) +
             "); remove it there and add it again";
    }
  }
  if (cluster_id == v.identity.cluster_id && to == v.identity.node_id) {
    if (v.role == Role::Leader && !address.empty()) {
      post([this, from, address] { maybe_update_address(from, "", address); });
    }
    return "";
  }
  if (cluster_id == v.identity.cluster_id && !v.fresh) {
    return "this node is node id " + std::to_string(v.identity.node_id) + " of cluster " + cluster_id +
           ", not node id " + std::to_string(to);
  }
  if (v.fresh && to != core::kNoNode && !cluster_id.empty()) {
    post([this, cluster_id, to, from] { join(cluster_id, to, from); });
    if (opts_.log) {
      opts_.log("info", "joining cluster " + cluster_id + " as node id " + std::to_string(to) + " (invited by node id " +
                            std::to_string(from) + ")");
    }
    return "";
  }
  return "this node already belongs to cluster " + v.identity.cluster_id + " with other nodes";
}

void Node::join(const std::string& cluster_id, core::NodeId id, core::NodeId inviter) {
  const NodeIdentity current = *storage_->identity();
  if (current.cluster_id == cluster_id && current.node_id == id) return;
  if (!is_fresh()) return;
  // Only addresses learned from the cluster we join are worth keeping (the
  // inviting leader's in particular); the rest comes with the log.
  (void)inviter;
  transport_->forget_learned_except(cluster_id);
  if (Status s = start_over(cluster_id, id, false); !s.ok() && opts_.log) {
    opts_.log("error", "cannot join cluster " + cluster_id + ": " + s.to_string());
  }
}

Status Node::start_over(const std::string& cluster_id, core::NodeId id, bool voter) {
  if (Status s = storage_->reset({cluster_id, id}); !s.ok()) return s;
  if (voter) {
    core::SnapshotMeta meta;
    meta.config.voters = {id};
    if (Status s = storage_->save_snapshot_and_compact(meta, ""); !s.ok()) return s;
  }
  fail_all_pending(Status::Internal("this node left its cluster"));
  if (Status s = sm_->clear(); !s.ok()) return s;
  {
    std::lock_guard lock(view_mu_);
    view_.removed = false;
  }
  bootstrap_index_ = 0;
  last_leader_ = core::kNoNode;
  last_role_ = Role::Follower;
  // Keep the peers learned from handshakes: an inviting leader is one of them,
  // and our answers must reach it before we have applied its address.
  return recover();
}

void Node::leave(const std::string& cluster_id, bool force, Done done) {
  post([this, cluster_id, force, done = std::move(done)]() mutable {
    const NodeIdentity current = *storage_->identity();
    if (current.cluster_id != cluster_id) {
      return done(Status::InvalidArgument("this node is not part of cluster " + cluster_id), 0);
    }
    const auto& cfg = raft_->config();
    const bool voter_of_many = cfg.is_voter(current.node_id) && cfg.voters.size() > 1;
    if (voter_of_many && !force) {
      return done(Status::InvalidArgument(
                      "this node is still a voting member of cluster " + cluster_id + " (" +
                      std::to_string(cfg.voters.size()) +
                      " voters); leaving would wipe its log and could erase acknowledged writes. Remove it on the "
                      "leader first (DELETE /admin/cluster/node?nodeTag=<tag>); to wipe it anyway and lose this "
                      "node's cluster data, add force=true"),
                  0);
    }
    if (Status s = remember_left(current.cluster_id, current.node_id); !s.ok()) return done(s, 0);
    std::string fresh_id;
    for (int i = 0; i < 4; ++i) {
      char buf[17];
      std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(rng_.next()));
      fresh_id += buf;
      if (i < 3) fresh_id += "-";
    }
    if (opts_.log) {
      opts_.log("warn", std::string(voter_of_many ? "FORCED: " : "") + "this node left cluster " + cluster_id +
                            "; starting over alone");
    }
    transport_->clear_peers();  // forget the old cluster entirely, learned peers included
    Status s = start_over(fresh_id, 1, true);
    done(s, 0);
  });
}

Status Node::remember_left(const std::string& cluster_id, core::NodeId id) {
  std::string text;
  {
    std::lock_guard lock(left_mu_);
    left_[cluster_id] = id;
    for (const auto& [c, n] : left_) text += c + " " + std::to_string(n) + "\n";
  }
  const std::string path = opts_.path + "-left.txt";
  const std::string tmp = path + ".tmp";
  std::FILE* f = std::fopen(tmp.c_str(), "w");
  if (!f) return Status::IOError("cannot write " + tmp);
  const bool ok = std::fwrite(text.data(), 1, text.size(), f) == text.size() && std::fflush(f) == 0 &&
                  ::fsync(::fileno(f)) == 0;
  std::fclose(f);
  if (!ok || std::rename(tmp.c_str(), path.c_str()) != 0) return Status::IOError("cannot write " + path);
  return Status::Ok();
}

void Node::load_left() {
  std::FILE* f = std::fopen((opts_.path + "-left.txt").c_str(), "r");
  if (!f) return;
  char cluster[256];
  unsigned long long id = 0;
  std::lock_guard lock(left_mu_);
  while (std::fscanf(f, "%255s %llu", cluster, &id) == 2) left_[cluster] = static_cast<core::NodeId>(id);
  std::fclose(f);
}

}  // namespace corvus::rachis
