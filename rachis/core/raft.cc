#include "rachis/core/raft.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <limits>

namespace corvus::rachis::core {

namespace {

// A broken Raft invariant is a bug that could lose committed data: log and abort
// (STYLE.md, "Errors").
[[noreturn]] void fatal(NodeId id, const char* what) {
  std::fprintf(stderr, "rachis core (node %llu): invariant broken: %s\n",
               static_cast<unsigned long long>(id), what);
  std::abort();
}

}  // namespace

const char* role_name(Role r) {
  switch (r) {
    case Role::Follower: return "Follower";
    case Role::PreCandidate: return "PreCandidate";
    case Role::Candidate: return "Candidate";
    case Role::Leader: return "Leader";
  }
  return "?";
}

const char* progress_state_name(ProgressState s) {
  switch (s) {
    case ProgressState::Probe: return "Probe";
    case ProgressState::Replicate: return "Replicate";
    case ProgressState::Snapshot: return "Snapshot";
  }
  return "?";
}

const char* error_name(Error e) {
  switch (e) {
    case Error::Ok: return "Ok";
    case Error::NotLeader: return "NotLeader";
    case Error::TransferInProgress: return "TransferInProgress";
    case Error::ConfigChangePending: return "ConfigChangePending";
    case Error::NotReady: return "NotReady";
    case Error::InvalidArgument: return "InvalidArgument";
  }
  return "?";
}

Raft::Raft(const Options& options, Random& rng, PersistedState st)
    : opts_(options),
      rng_(rng),
      log_(st.snapshot_meta.index, st.snapshot_meta.term, std::move(st.entries)) {
  if (opts_.id == kNoNode) fatal(opts_.id, "node id 0");
  if (opts_.heartbeat_tick == 0 || opts_.election_tick <= opts_.heartbeat_tick) {
    fatal(opts_.id, "election_tick must exceed heartbeat_tick > 0");
  }
  if (opts_.max_entries_per_message == 0) opts_.max_entries_per_message = 1;
  if (opts_.max_inflight == 0) opts_.max_inflight = 1;
  if (opts_.snapshot_retry_ticks == 0) opts_.snapshot_retry_ticks = 4 * opts_.election_tick;

  term_ = st.hard_state.term;
  vote_ = st.hard_state.vote;
  snapshot_meta_ = st.snapshot_meta;
  snapshot_data_ = st.snapshot_data ? st.snapshot_data : std::make_shared<const std::string>();
  commit_ = std::max(st.hard_state.commit, snapshot_meta_.index);
  applied_ = std::max(st.applied, snapshot_meta_.index);
  // A durable state machine may be ahead of a commit index that was not synced.
  commit_ = std::max(commit_, applied_);
  if (commit_ > log_.last_index()) fatal(opts_.id, "recovered commit index beyond the log");
  handed_apply_ = applied_;
  unstable_from_ = log_.last_index() + 1;
  recompute_config();
  prev_hard_state_ = HardState{term_, vote_, commit_};
  prev_soft_state_ = SoftState{};
  become_follower(term_, kNoNode);
}

// ---------------------------------------------------------------- role changes

void Raft::reset_timers() {
  election_elapsed_ = 0;
  heartbeat_elapsed_ = 0;
  // §5.2: randomized in [election_tick, 2 * election_tick) to avoid split votes.
  randomized_timeout_ = opts_.election_tick + rng_.uniform(opts_.election_tick);
}

void Raft::become_follower(Term term, NodeId leader) {
  if (term != term_) {
    term_ = term;
    vote_ = kNoNode;
  }
  role_ = Role::Follower;
  leader_ = leader;
  reset_timers();
  transferee_ = kNoNode;
  progress_.clear();
  votes_.clear();
  pending_reads_.clear();
  waiting_reads_.clear();
}

void Raft::become_pre_candidate() {
  // Thesis §9.6: neither the term nor the vote changes during pre-vote.
  role_ = Role::PreCandidate;
  leader_ = kNoNode;
  votes_.clear();
  progress_.clear();
  reset_timers();
}

void Raft::become_candidate() {
  role_ = Role::Candidate;
  ++term_;
  vote_ = opts_.id;
  leader_ = kNoNode;
  votes_.clear();
  progress_.clear();
  reset_timers();
}

void Raft::become_leader() {
  role_ = Role::Leader;
  leader_ = opts_.id;
  transferee_ = kNoNode;
  votes_.clear();
  reset_timers();
  progress_.clear();
  sync_progress_with_config();
  // Any configuration entry still uncommitted in our log must commit first; the
  // no-op below covers it (thesis §4.1 and the 2015 single-server change fix).
  pending_conf_index_ = log_.last_index();
  Entry noop;
  noop.type = EntryType::Noop;
  append_entry(std::move(noop));
  broadcast_append();
  maybe_commit();
}

void Raft::start_campaign(CampaignKind kind) {
  if (!config_.is_voter(opts_.id) || role_ == Role::Leader) return;
  if (kind == CampaignKind::PreVote) {
    become_pre_candidate();
  } else {
    become_candidate();
  }
  votes_[opts_.id] = true;
  if (config_.quorum() <= 1) {
    if (kind == CampaignKind::PreVote) {
      start_campaign(CampaignKind::Election);
    } else {
      become_leader();
    }
    return;
  }
  for (NodeId v : config_.voters) {
    if (v == opts_.id) continue;
    Message m;
    m.type = kind == CampaignKind::PreVote ? MessageType::PreVote : MessageType::Vote;
    m.to = v;
    m.term = kind == CampaignKind::PreVote ? term_ + 1 : term_;
    m.last_index = log_.last_index();
    m.last_term = log_.last_term();
    m.transfer = kind == CampaignKind::Transfer;
    send(std::move(m));
  }
}

void Raft::campaign() {
  if (role_ == Role::Leader) return;
  start_campaign(opts_.pre_vote ? CampaignKind::PreVote : CampaignKind::Election);
}

bool Raft::in_lease() const {
  return opts_.check_quorum && leader_ != kNoNode && election_elapsed_ < opts_.election_tick;
}

// ---------------------------------------------------------------- tick

void Raft::tick() {
  if (role_ != Role::Leader) {
    ++election_elapsed_;
    if (config_.is_voter(opts_.id) && past_election_timeout()) {
      start_campaign(opts_.pre_vote ? CampaignKind::PreVote : CampaignKind::Election);
    }
    return;
  }

  ++heartbeat_elapsed_;
  ++election_elapsed_;
  for (auto& [id, pr] : progress_) {
    if (pr.state == ProgressState::Snapshot && ++pr.snapshot_elapsed >= opts_.snapshot_retry_ticks) {
      pr.become_probe(pr.match + 1);
    }
  }
  if (election_elapsed_ >= opts_.election_tick) {
    election_elapsed_ = 0;
    if (opts_.check_quorum) {
      // Thesis §6.2: a leader cut off from a quorum steps down, so clients find the
      // real leader and read-index/lease reasoning stays sound.
      if (quorum_count_recent_active() < config_.quorum()) {
        become_follower(term_, kNoNode);
        return;
      }
      for (auto& [id, pr] : progress_) pr.recent_active = id == opts_.id;
    }
    transferee_ = kNoNode;  // thesis §3.10: abort a transfer that takes too long
  }
  if (heartbeat_elapsed_ >= opts_.heartbeat_tick) {
    heartbeat_elapsed_ = 0;
    broadcast_heartbeat();
  }
}

std::size_t Raft::quorum_count_recent_active() const {
  std::size_t n = 0;
  for (NodeId v : config_.voters) {
    if (v == opts_.id) {
      ++n;
      continue;
    }
    auto it = progress_.find(v);
    if (it != progress_.end() && it->second.recent_active) ++n;
  }
  return n;
}

// ---------------------------------------------------------------- step

void Raft::step(Message m) {
  if (m.term > term_) {
    bool vote_request = m.type == MessageType::Vote || m.type == MessageType::PreVote;
    if (vote_request && !m.transfer && in_lease()) {
      // Thesis §4.2.3: we heard from a leader within the minimum election timeout,
      // so a vote request is from a disruptive (removed or partitioned) server.
      return;
    }
    if (m.type == MessageType::PreVote) {
      // A pre-vote never changes our term.
    } else if (m.type == MessageType::PreVoteResponse && !m.reject) {
      // A granted pre-vote carries the term it was granted for (ours + 1).
    } else {
      bool from_leader = m.type == MessageType::Append || m.type == MessageType::Heartbeat ||
                         m.type == MessageType::InstallSnapshot;
      become_follower(m.term, from_leader ? m.from : kNoNode);
    }
  } else if (m.term < term_) {
    if (m.type == MessageType::Append || m.type == MessageType::Heartbeat ||
        m.type == MessageType::InstallSnapshot) {
      // A stale leader: tell it our term so it steps down. Without this a leader
      // partitioned away and back could stay stuck, since pre-vote keeps our term
      // from reaching it through vote requests.
      Message r;
      r.type = MessageType::AppendResponse;
      r.to = m.from;
      r.reject = true;
      send(std::move(r));
    } else if (m.type == MessageType::PreVote) {
      Message r;
      r.type = MessageType::PreVoteResponse;
      r.to = m.from;
      r.reject = true;
      send(std::move(r));
    }
    return;
  }

  if (m.type == MessageType::PreVote || m.type == MessageType::Vote) {
    handle_vote_request(m);
    return;
  }
  switch (role_) {
    case Role::Leader: step_leader(m); break;
    case Role::PreCandidate:
    case Role::Candidate: step_candidate(m); break;
    case Role::Follower: step_follower(m); break;
  }
}

void Raft::handle_vote_request(const Message& m) {
  bool pre = m.type == MessageType::PreVote;
  // Who may vote is decided by the candidate: it asks only the voters of its
  // configuration and counts only their answers, so a learner's vote never counts
  // (thesis §4.2.1) and a learner is never asked. But a node must answer even when
  // its own, older configuration still lists it as a learner (thesis §4.1: servers
  // vote regardless of their own configuration): otherwise a leader change before
  // the promotion entry reaches the promoted node deadlocks the cluster (found by
  // the simulation, seed 104).
  bool free = vote_ == m.from || (vote_ == kNoNode && leader_ == kNoNode) || (pre && m.term > term_);
  bool grant = free && log_.is_up_to_date(m.last_index, m.last_term);
  Message r;
  r.type = pre ? MessageType::PreVoteResponse : MessageType::VoteResponse;
  r.to = m.from;
  if (grant) {
    r.term = m.term;
    if (!pre) {
      vote_ = m.from;
      election_elapsed_ = 0;
    }
  } else {
    r.term = term_;
    r.reject = true;
  }
  send(std::move(r));
}

void Raft::step_leader(Message& m) {
  switch (m.type) {
    case MessageType::AppendResponse: handle_append_response(m); break;
    case MessageType::HeartbeatResponse: handle_heartbeat_response(m); break;
    case MessageType::ReadIndex:
      if (committed_in_current_term()) {
        add_read(std::move(m.context), m.from);
      } else {
        waiting_reads_.push_back(PendingRead{0, 0, std::move(m.context), m.from});
      }
      break;
    case MessageType::Append:
    case MessageType::Heartbeat:
    case MessageType::InstallSnapshot:
      fatal(opts_.id, "two leaders in one term");
    default: break;  // stale votes, TimeoutNow, ReadIndexResponse: nothing to do
  }
}

void Raft::step_candidate(Message& m) {
  switch (m.type) {
    case MessageType::Append:
      become_follower(term_, m.from);
      handle_append(m);
      break;
    case MessageType::Heartbeat:
      become_follower(term_, m.from);
      handle_heartbeat(m);
      break;
    case MessageType::InstallSnapshot:
      become_follower(term_, m.from);
      handle_snapshot(m);
      break;
    case MessageType::PreVoteResponse:
    case MessageType::VoteResponse: {
      bool expected = (m.type == MessageType::PreVoteResponse) == (role_ == Role::PreCandidate);
      if (!expected || !config_.is_voter(m.from)) break;
      votes_.emplace(m.from, !m.reject);
      std::size_t granted = 0, rejected = 0;
      for (auto& [id, g] : votes_) (g ? granted : rejected) += 1;
      if (granted >= config_.quorum()) {
        if (role_ == Role::PreCandidate) {
          start_campaign(CampaignKind::Election);
        } else {
          become_leader();
        }
      } else if (rejected >= config_.quorum()) {
        become_follower(term_, kNoNode);
      }
      break;
    }
    case MessageType::TimeoutNow: start_campaign(CampaignKind::Transfer); break;
    default: break;
  }
}

void Raft::step_follower(Message& m) {
  switch (m.type) {
    case MessageType::Append:
      election_elapsed_ = 0;
      leader_ = m.from;
      handle_append(m);
      break;
    case MessageType::Heartbeat:
      election_elapsed_ = 0;
      leader_ = m.from;
      handle_heartbeat(m);
      break;
    case MessageType::InstallSnapshot:
      election_elapsed_ = 0;
      leader_ = m.from;
      handle_snapshot(m);
      break;
    case MessageType::TimeoutNow: start_campaign(CampaignKind::Transfer); break;
    case MessageType::ReadIndexResponse:
      read_states_.push_back(ReadState{m.index, std::move(m.context)});
      break;
    default: break;
  }
}

// ---------------------------------------------------------------- follower side

void Raft::handle_append(Message& m) {
  Message r;
  r.type = MessageType::AppendResponse;
  r.to = m.from;
  if (m.prev_index < commit_) {
    // Everything up to commit_ already matches the leader (Log Matching).
    r.index = commit_;
    send(std::move(r));
    return;
  }
  if (!log_.matches(m.prev_index, m.prev_term)) {
    // §5.3 consistency check failed; give the leader a hint to skip a whole term.
    r.reject = true;
    r.index = m.prev_index;
    r.hint_index = log_.last_index_with_term_at_most(m.prev_index, m.prev_term);
    r.hint_term = *log_.term(r.hint_index);
    send(std::move(r));
    return;
  }
  Index last_new = m.prev_index + m.entries.size();
  bool config_touched = false;
  for (auto& e : m.entries) {
    if (e.index <= log_.last_index()) {
      if (log_.matches(e.index, e.term)) continue;
      if (e.index <= commit_) fatal(opts_.id, "leader overwrites a committed entry");
      for (Index i = e.index; i <= log_.last_index(); ++i) {
        if (log_.at(i).type == EntryType::ConfigChange) config_touched = true;
      }
      log_.truncate_from(e.index);
      unstable_from_ = std::min(unstable_from_, e.index);
    }
    if (e.type == EntryType::ConfigChange) config_touched = true;
    log_.append(std::move(e));
  }
  if (config_touched) recompute_config();
  commit_to(std::min(m.commit, last_new));
  r.index = last_new;
  send(std::move(r));
}

void Raft::handle_heartbeat(const Message& m) {
  // The leader caps m.commit at our match index, so it is within our log.
  commit_to(m.commit);
  Message r;
  r.type = MessageType::HeartbeatResponse;
  r.to = m.from;
  r.read_seq = m.read_seq;
  send(std::move(r));
}

void Raft::handle_snapshot(Message& m) {
  Message r;
  r.type = MessageType::AppendResponse;
  r.to = m.from;
  if (!m.snapshot || !m.snapshot->data) return;
  const SnapshotMeta& meta = m.snapshot->meta;
  if (meta.index <= commit_) {
    r.index = commit_;
  } else if (log_.matches(meta.index, meta.term)) {
    // We already hold the snapshot's last entry: keep the log and its suffix (§7).
    commit_to(meta.index);
    r.index = meta.index;
  } else {
    // §7: discard the whole log and restore from the snapshot.
    log_.reset(meta.index, meta.term);
    commit_ = meta.index;
    unstable_from_ = meta.index + 1;
    snapshot_meta_ = meta;
    snapshot_data_ = m.snapshot->data;
    config_ = meta.config;
    pending_snapshot_ = std::move(*m.snapshot);
    r.index = meta.index;
  }
  send(std::move(r));
}

void Raft::commit_to(Index c) {
  if (c <= commit_) return;
  if (c > log_.last_index()) fatal(opts_.id, "commit index beyond the log");
  commit_ = c;
}

// ---------------------------------------------------------------- leader side

void Raft::send(Message m) {
  m.from = opts_.id;
  if (m.term == 0) m.term = term_;
  msgs_.push_back(std::move(m));
}

bool Raft::maybe_send_append(NodeId to, bool send_if_empty) {
  if (to == opts_.id) return false;
  auto it = progress_.find(to);
  if (it == progress_.end()) return false;
  Progress& pr = it->second;
  if (pr.state == ProgressState::Snapshot) return false;
  if (pr.state == ProgressState::Probe && pr.probe_sent) return false;
  if (pr.state == ProgressState::Replicate && pr.inflight.size() >= opts_.max_inflight) return false;
  if (pr.next > log_.last_index() + 1) pr.next = log_.last_index() + 1;
  Index prev = pr.next - 1;
  auto prev_term = log_.term(prev);
  if (!prev_term) {
    send_snapshot(to, pr);
    return true;
  }
  std::vector<Entry> entries = log_.slice(pr.next, log_.last_index(), opts_.max_entries_per_message);
  if (entries.empty() && !send_if_empty) return false;
  Message m;
  m.type = MessageType::Append;
  m.to = to;
  m.prev_index = prev;
  m.prev_term = *prev_term;
  m.commit = commit_;
  if (pr.state == ProgressState::Replicate && !entries.empty()) {
    pr.next = entries.back().index + 1;
    pr.inflight.push_back(entries.back().index);
  } else if (pr.state == ProgressState::Probe) {
    pr.probe_sent = true;
  }
  m.entries = std::move(entries);
  send(std::move(m));
  return true;
}

void Raft::send_snapshot(NodeId to, Progress& pr) {
  if (snapshot_meta_.index == 0) fatal(opts_.id, "follower needs compacted entries but no snapshot");
  Message m;
  m.type = MessageType::InstallSnapshot;
  m.to = to;
  m.snapshot = Snapshot{snapshot_meta_, snapshot_data_};
  pr.become_snapshot(snapshot_meta_.index);
  send(std::move(m));
}

void Raft::broadcast_append() {
  for (auto& [id, pr] : progress_) maybe_send_append(id, true);
}

void Raft::broadcast_heartbeat() {
  for (auto& [id, pr] : progress_) {
    if (id == opts_.id) continue;
    Message m;
    m.type = MessageType::Heartbeat;
    m.to = id;
    // Capped at what we know the follower holds: a heartbeat skips the log check.
    m.commit = std::min(pr.match, commit_);
    m.read_seq = read_seq_;
    send(std::move(m));
  }
}

void Raft::handle_append_response(const Message& m) {
  auto it = progress_.find(m.from);
  if (it == progress_.end()) return;
  Progress& pr = it->second;
  pr.recent_active = true;

  if (m.reject) {
    if (pr.state == ProgressState::Snapshot) return;
    bool stale = pr.state == ProgressState::Replicate ? m.index <= pr.match : m.index + 1 != pr.next;
    if (stale || m.index == 0) return;
    // Fast back-off: skip every entry of ours whose term exceeds the follower's
    // term at the hinted position; they cannot match.
    Index probe = log_.last_index_with_term_at_most(m.hint_index, m.hint_term);
    Index next = std::min(probe + 1, m.index);
    next = std::max(next, pr.match + 1);
    pr.become_probe(next);
    maybe_send_append(m.from, true);
    return;
  }

  bool updated = false;
  if (m.index > pr.match) {
    pr.match = m.index;
    updated = true;
  }
  if (pr.next < pr.match + 1) pr.next = pr.match + 1;
  switch (pr.state) {
    case ProgressState::Probe: pr.become_replicate(); break;
    case ProgressState::Snapshot:
      if (pr.match >= pr.pending_snapshot) pr.become_replicate();
      break;
    case ProgressState::Replicate: pr.free_inflight_to(m.index); break;
  }
  if (updated && maybe_commit() && role_ != Role::Leader) return;
  if (transferee_ == m.from && pr.match == log_.last_index()) {
    Message t;
    t.type = MessageType::TimeoutNow;
    t.to = m.from;
    send(std::move(t));
  }
  while (maybe_send_append(m.from, false)) {
  }
}

void Raft::handle_heartbeat_response(const Message& m) {
  auto it = progress_.find(m.from);
  if (it == progress_.end()) return;
  Progress& pr = it->second;
  pr.recent_active = true;
  if (pr.state == ProgressState::Probe) {
    pr.probe_sent = false;
  } else if (pr.state == ProgressState::Replicate && pr.inflight.size() >= opts_.max_inflight) {
    pr.inflight.pop_front();  // an Append may have been lost; keep the pipe moving
  }
  // Sending even an empty Append repairs a follower that lost Appends while we
  // were in Replicate state: it rejects, and we probe back.
  if (pr.match < log_.last_index()) maybe_send_append(m.from, true);
  if (m.read_seq > pr.read_ack_seq) {
    pr.read_ack_seq = m.read_seq;
    release_reads();
  }
}

void Raft::append_entry(Entry e) {
  e.term = term_;
  e.index = log_.last_index() + 1;
  bool is_config = e.type == EntryType::ConfigChange;
  Configuration cfg;
  if (is_config && !decode_config_change(e.data, nullptr, &cfg)) fatal(opts_.id, "bad config entry");
  log_.append(std::move(e));
  auto self = progress_.find(opts_.id);
  if (self != progress_.end()) {
    self->second.match = log_.last_index();
    self->second.next = log_.last_index() + 1;
  }
  if (is_config) on_config_appended(cfg);
}

bool Raft::maybe_commit() {
  if (config_.voters.empty()) return false;
  std::vector<Index> matches;
  for (NodeId v : config_.voters) {
    if (v == opts_.id) {
      matches.push_back(log_.last_index());
      continue;
    }
    auto it = progress_.find(v);
    matches.push_back(it == progress_.end() ? 0 : it->second.match);
  }
  std::sort(matches.begin(), matches.end(), std::greater<>());
  Index q = matches[config_.quorum() - 1];
  // §5.4.2 / Figure 8: only an entry of the current term is committed by counting
  // replicas; earlier entries commit indirectly through it.
  if (q <= commit_ || log_.term(q) != term_) return false;
  commit_ = q;
  on_leader_commit_advanced();
  return true;
}

bool Raft::committed_in_current_term() const { return log_.term(commit_) == term_; }

void Raft::on_leader_commit_advanced() {
  if (committed_in_current_term() && !waiting_reads_.empty()) {
    auto waiting = std::move(waiting_reads_);
    waiting_reads_.clear();
    for (auto& r : waiting) add_read(std::move(r.context), r.from);
  }
  if (!config_.is_voter(opts_.id) && commit_ >= pending_conf_index_) {
    // Thesis §4.2.2: the configuration that removed us is committed; hand over to
    // the most up-to-date voter and step down.
    NodeId best = kNoNode;
    Index best_match = 0;
    for (NodeId v : config_.voters) {
      auto it = progress_.find(v);
      if (it != progress_.end() && it->second.match >= best_match) {
        best = v;
        best_match = it->second.match;
      }
    }
    if (best != kNoNode && best_match == log_.last_index()) {
      Message t;
      t.type = MessageType::TimeoutNow;
      t.to = best;
      send(std::move(t));
    }
    become_follower(term_, kNoNode);
    return;
  }
  broadcast_append();
}

// ---------------------------------------------------------------- proposals

ProposeResult Raft::propose(std::string data) {
  if (role_ != Role::Leader) return {Error::NotLeader};
  if (transferee_ != kNoNode) return {Error::TransferInProgress};
  Entry e;
  e.type = EntryType::Normal;
  e.data = std::move(data);
  append_entry(std::move(e));
  ProposeResult res{Error::Ok, log_.last_index(), term_};
  broadcast_append();
  maybe_commit();
  return res;
}

ProposeResult Raft::propose_config_change(const ConfigChange& change) {
  if (role_ != Role::Leader) return {Error::NotLeader};
  if (transferee_ != kNoNode) return {Error::TransferInProgress};
  if (pending_conf_index_ > commit_) return {Error::ConfigChangePending};
  if (!committed_in_current_term()) return {Error::NotReady};
  if (change.node == kNoNode) return {Error::InvalidArgument};
  Configuration next = config_;
  switch (change.type) {
    case ConfigChangeType::AddLearner:
      if (next.contains(change.node)) return {Error::InvalidArgument};
      next.learners.insert(change.node);
      break;
    case ConfigChangeType::PromoteVoter:
      if (!next.is_learner(change.node)) return {Error::InvalidArgument};
      next.learners.erase(change.node);
      next.voters.insert(change.node);
      break;
    case ConfigChangeType::RemoveNode:
      if (!next.contains(change.node)) return {Error::InvalidArgument};
      next.learners.erase(change.node);
      next.voters.erase(change.node);
      if (next.voters.empty()) return {Error::InvalidArgument};
      break;
  }
  Entry e;
  e.type = EntryType::ConfigChange;
  e.data = encode_config_change(change, next);
  append_entry(std::move(e));
  pending_conf_index_ = log_.last_index();
  ProposeResult res{Error::Ok, log_.last_index(), term_};
  broadcast_append();
  maybe_commit();
  return res;
}

Error Raft::transfer_leadership(NodeId to) {
  if (role_ != Role::Leader) return Error::NotLeader;
  if (to == opts_.id || !config_.is_voter(to)) return Error::InvalidArgument;
  if (transferee_ == to) return Error::Ok;
  transferee_ = to;
  election_elapsed_ = 0;  // the transfer is abandoned after one election timeout
  Progress& pr = progress_[to];
  if (pr.match == log_.last_index()) {
    Message t;
    t.type = MessageType::TimeoutNow;
    t.to = to;
    send(std::move(t));
  } else {
    maybe_send_append(to, true);
  }
  return Error::Ok;
}

// ---------------------------------------------------------------- reads

Error Raft::read_index(std::string context) {
  if (role_ == Role::Leader) {
    // Thesis §6.4 step 1: the leader's commit index is only known to be current
    // once it has committed an entry of its own term (its no-op).
    if (committed_in_current_term()) {
      add_read(std::move(context), opts_.id);
    } else {
      waiting_reads_.push_back(PendingRead{0, 0, std::move(context), opts_.id});
    }
    return Error::Ok;
  }
  if (leader_ == kNoNode || role_ != Role::Follower) return Error::NotLeader;
  Message m;
  m.type = MessageType::ReadIndex;
  m.to = leader_;
  m.context = std::move(context);
  send(std::move(m));
  return Error::Ok;
}

void Raft::add_read(std::string context, NodeId from) {
  PendingRead r{0, commit_, std::move(context), from};
  if (config_.voters.size() == 1 && config_.is_voter(opts_.id)) {
    finish_read(r);
    return;
  }
  // Step 2-3: a heartbeat round tagged with this sequence number; the read is safe
  // once a quorum of voters has answered it.
  r.seq = ++read_seq_;
  pending_reads_.push_back(std::move(r));
  broadcast_heartbeat();
}

void Raft::release_reads() {
  while (!pending_reads_.empty()) {
    const PendingRead& r = pending_reads_.front();
    std::size_t acks = 0;
    for (NodeId v : config_.voters) {
      if (v == opts_.id) {
        ++acks;
        continue;
      }
      auto it = progress_.find(v);
      if (it != progress_.end() && it->second.read_ack_seq >= r.seq) ++acks;
    }
    if (acks < config_.quorum()) return;
    finish_read(r);
    pending_reads_.pop_front();
  }
}

void Raft::finish_read(const PendingRead& r) {
  if (r.from == opts_.id) {
    read_states_.push_back(ReadState{r.index, r.context});
    return;
  }
  Message m;
  m.type = MessageType::ReadIndexResponse;
  m.to = r.from;
  m.index = r.index;
  m.context = r.context;
  send(std::move(m));
}

// ---------------------------------------------------------------- configuration

void Raft::on_config_appended(const Configuration& c) {
  config_ = c;
  if (role_ == Role::Leader) sync_progress_with_config();
}

Configuration Raft::config_at(Index i) const {
  for (Index j = std::min(i, log_.last_index()); j >= log_.first_index(); --j) {
    const Entry& e = log_.at(j);
    if (e.type != EntryType::ConfigChange) continue;
    Configuration c;
    if (!decode_config_change(e.data, nullptr, &c)) fatal(opts_.id, "bad config entry");
    return c;
  }
  return snapshot_meta_.config;
}

void Raft::recompute_config() {
  config_ = config_at(log_.last_index());
  if (role_ == Role::Leader) sync_progress_with_config();
}

void Raft::sync_progress_with_config() {
  for (auto it = progress_.begin(); it != progress_.end();) {
    if (!config_.contains(it->first) && it->first != opts_.id) {
      if (transferee_ == it->first) transferee_ = kNoNode;
      it = progress_.erase(it);
    } else {
      ++it;
    }
  }
  auto add = [&](NodeId id) {
    if (progress_.count(id)) return;
    Progress pr;
    pr.next = log_.last_index() + 1;
    pr.match = id == opts_.id ? log_.last_index() : 0;
    pr.recent_active = true;  // a grace period for check-quorum
    progress_.emplace(id, pr);
  };
  add(opts_.id);
  for (NodeId v : config_.voters) add(v);
  for (NodeId l : config_.learners) add(l);
}

// ---------------------------------------------------------------- snapshots

Error Raft::compact(Index index, std::shared_ptr<const std::string> data) {
  if (index <= log_.snapshot_index() || index > applied_ || index > log_.last_index() || !data) {
    return Error::InvalidArgument;
  }
  Configuration c = config_at(index);
  Term t = *log_.term(index);
  log_.compact(index, t);
  snapshot_meta_ = SnapshotMeta{index, t, std::move(c)};
  snapshot_data_ = std::move(data);
  unstable_from_ = std::max(unstable_from_, index + 1);
  return Error::Ok;
}

void Raft::report_snapshot_failure(NodeId to) {
  if (role_ != Role::Leader) return;
  auto it = progress_.find(to);
  if (it != progress_.end() && it->second.state == ProgressState::Snapshot) {
    it->second.become_probe(it->second.match + 1);
  }
}

// ---------------------------------------------------------------- ready / advance

Index Raft::compact_hint_now() const {
  if (opts_.snapshot_threshold == 0) return 0;
  Index base = std::max(snapshot_meta_.index, last_compact_hint_);
  return applied_ >= base + opts_.snapshot_threshold ? applied_ : 0;
}

bool Raft::has_ready() const {
  if (SoftState{leader_, role_} != prev_soft_state_) return true;
  if (HardState{term_, vote_, commit_} != prev_hard_state_) return true;
  if (pending_snapshot_ || unstable_from_ <= log_.last_index()) return true;
  if (!msgs_.empty() || !read_states_.empty()) return true;
  if (commit_ > std::max(handed_apply_, log_.snapshot_index())) return true;
  return compact_hint_now() != 0;
}

Ready Raft::ready() {
  Ready rd;
  SoftState ss{leader_, role_};
  if (ss != prev_soft_state_) {
    rd.soft_state = ss;
    prev_soft_state_ = ss;
  }
  HardState hs{term_, vote_, commit_};
  if (hs != prev_hard_state_) {
    if (hs.term != prev_hard_state_.term || hs.vote != prev_hard_state_.vote) rd.must_sync = true;
    rd.hard_state = hs;
    prev_hard_state_ = hs;
  }
  if (pending_snapshot_) {
    handed_apply_ = std::max(handed_apply_, pending_snapshot_->meta.index);
    rd.snapshot = std::move(*pending_snapshot_);
    pending_snapshot_.reset();
    rd.must_sync = true;
  }
  if (unstable_from_ <= log_.last_index()) {
    rd.entries = log_.slice(unstable_from_, log_.last_index(), std::numeric_limits<std::size_t>::max());
    unstable_from_ = log_.last_index() + 1;
    rd.must_sync = true;
  }
  Index from = std::max(handed_apply_, log_.snapshot_index()) + 1;
  if (commit_ >= from) {
    rd.committed_entries = log_.slice(from, commit_, std::numeric_limits<std::size_t>::max());
    handed_apply_ = commit_;
  }
  rd.messages = std::move(msgs_);
  msgs_.clear();
  rd.read_states = std::move(read_states_);
  read_states_.clear();
  rd.compact_hint = compact_hint_now();
  if (rd.compact_hint != 0) last_compact_hint_ = rd.compact_hint;
  return rd;
}

void Raft::advance(const Ready& rd) {
  if (rd.snapshot) applied_ = std::max(applied_, rd.snapshot->meta.index);
  if (!rd.committed_entries.empty()) applied_ = std::max(applied_, rd.committed_entries.back().index);
}

RaftStatus Raft::status() const {
  RaftStatus s;
  s.id = opts_.id;
  s.role = role_;
  s.term = term_;
  s.vote = vote_;
  s.leader = leader_;
  s.commit = commit_;
  s.applied = applied_;
  s.last_index = log_.last_index();
  s.snapshot_index = log_.snapshot_index();
  s.config = config_;
  s.transferee = transferee_;
  if (role_ == Role::Leader) s.progress = progress_;
  return s;
}

}  // namespace corvus::rachis::core
