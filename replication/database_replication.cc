#include "replication/database_replication.h"

#include <algorithm>

#include <boost/json.hpp>

#include "storage/replication_items.h"

namespace corvus::replication {
namespace json = boost::json;
namespace {

constexpr size_t kCommitTimesKept = 100000;
constexpr auto kHousekeepingEvery = std::chrono::seconds(1);

json::array batches_json(const RecentBatches& recent) {
  json::array out;
  for (const auto& b : recent.batches) {
    out.push_back(json::object{{"StartedUs", b.started_us},
                               {"DurationInMs", b.duration_ms},
                               {"Items", b.items},
                               {"Bytes", b.bytes},
                               {"AttachmentBytes", b.attachment_bytes},
                               {"LastEtag", b.last_etag}});
  }
  return out;
}

}  // namespace

DatabaseReplication::DatabaseReplication(storage::DocumentsStorage& storage, ReplicationIdentity identity,
                                         IncomingReplication::PolicyFn policy, RedialBackoff redial)
    : storage_(storage), identity_(std::move(identity)), policy_(std::move(policy)), redial_(redial) {
  listener_id_ = storage_.add_commit_listener([this](uint64_t last_etag) { on_commit(last_etag); });
  housekeeper_ = std::thread([this] { housekeeping(); });
}

DatabaseReplication::~DatabaseReplication() { stop(); }

void DatabaseReplication::stop() {
  std::map<std::string, std::unique_ptr<OutgoingReplication>> outgoing;
  std::vector<std::unique_ptr<IncomingReplication>> incoming;
  {
    std::lock_guard lock(mu_);
    if (stopped_) return;
    stopped_ = true;
    outgoing.swap(outgoing_);
    incoming.swap(incoming_);
    for (auto& [key, o] : external_) outgoing.emplace("external:" + key, std::move(o));
    external_.clear();
  }
  storage_.remove_commit_listener(listener_id_);
  wake_.notify_all();
  if (housekeeper_.joinable()) housekeeper_.join();
  for (auto& [tag, o] : outgoing) o->stop();
  for (auto& i : incoming) i->stop();
}

void DatabaseReplication::on_commit(uint64_t last_etag) {
  std::lock_guard lock(mu_);
  commits_.emplace_back(last_etag, std::chrono::steady_clock::now());
  if (commits_.size() > kCommitTimesKept) commits_.pop_front();
  for (auto& [tag, o] : outgoing_) o->notify();
  for (auto& [key, o] : external_) o->notify();
}

void DatabaseReplication::add_external_outgoing(const std::string& key, const std::string& peer,
                                                OutgoingOptions options) {
  std::unique_ptr<OutgoingReplication> retired;
  {
    std::lock_guard lock(mu_);
    if (stopped_) return;  // the options' connection closes with them
    auto& slot = external_[key];
    retired = std::move(slot);
    slot = std::make_unique<OutgoingReplication>(storage_, identity_, peer, key, std::move(options));
  }
  if (retired) retired->stop();  // outside the lock: it joins a thread
}

std::vector<DatabaseReplication::ExternalInfo> DatabaseReplication::externals() const {
  std::vector<ExternalInfo> out;
  std::lock_guard lock(mu_);
  for (const auto& [key, o] : external_) {
    const auto st = o->status();
    out.push_back({key, o->labels(), st.connected, st.last_error});
  }
  return out;
}

void DatabaseReplication::remove_external_outgoing(const std::string& key) {
  std::unique_ptr<OutgoingReplication> retired;
  {
    std::lock_guard lock(mu_);
    auto it = external_.find(key);
    if (it == external_.end()) return;
    retired = std::move(it->second);
    external_.erase(it);
  }
  retired->stop();
}

void DatabaseReplication::set_destinations(const std::vector<ReplicationPeer>& peers) {
  std::vector<std::unique_ptr<OutgoingReplication>> retired;
  {
    std::lock_guard lock(mu_);
    if (stopped_) return;
    for (auto it = outgoing_.begin(); it != outgoing_.end();) {
      auto want = std::find_if(peers.begin(), peers.end(), [&](const ReplicationPeer& p) { return p.tag == it->first; });
      if (want == peers.end() || want->address != it->second->peer_address()) {
        retired.push_back(std::move(it->second));
        it = outgoing_.erase(it);
      } else {
        ++it;
      }
    }
    for (const auto& p : peers) {
      if (p.tag == identity_.node_tag || outgoing_.count(p.tag)) continue;
      outgoing_[p.tag] = std::make_unique<OutgoingReplication>(storage_, identity_, p.tag, p.address, redial_);
    }
  }
  for (auto& o : retired) o->stop();  // outside the lock: it joins a thread
}

void DatabaseReplication::accept(std::unique_ptr<FrameSocket> socket, Handshake handshake,
                                 IncomingReplication::ItemFilter filter, std::function<Status()> permitted) {
  std::vector<std::unique_ptr<IncomingReplication>> retired;
  {
    std::lock_guard lock(mu_);
    if (stopped_) return;  // the socket closes
    for (auto it = incoming_.begin(); it != incoming_.end();) {
      if ((*it)->finished() || (*it)->handshake().from == handshake.from) {
        retired.push_back(std::move(*it));
        it = incoming_.erase(it);
      } else {
        ++it;
      }
    }
    // The new connection starts only after the old one is stopped, below, so
    // the two never apply batches of the same source at once.
  }
  for (auto& i : retired) i->stop();
  std::lock_guard lock(mu_);
  if (stopped_) return;
  if (auto o = outgoing_.find(handshake.from); o != outgoing_.end()) o->second->redial_now();
  auto source_sent = [this](const std::string& source, const std::vector<storage::ReplicationItem>& items) {
    std::lock_guard guard(mu_);
    if (auto o = outgoing_.find(source); o != outgoing_.end()) o->second->peer_sent(items);
    // A pull replication sink's items need not go back down to it either.
    if (auto e = external_.find(source); e != external_.end()) e->second->peer_sent(items);
  };
  incoming_.push_back(std::make_unique<IncomingReplication>(storage_, identity_, policy_, source_sent, std::move(socket),
                                                            std::move(handshake), std::move(filter),
                                                            std::move(permitted)));
}

void DatabaseReplication::housekeeping() {
  std::unique_lock lock(mu_);
  while (!stopped_) {
    wake_.wait_for(lock, kHousekeepingEvery);
    if (stopped_) break;
    lock.unlock();
    persist_and_purge();
    lock.lock();
  }
}

void DatabaseReplication::set_required_positions(std::set<std::string> keys) {
  std::lock_guard lock(mu_);
  required_positions_ = std::move(keys);
}

void DatabaseReplication::persist_and_purge() {
  std::map<std::string, uint64_t> acked;
  std::vector<std::unique_ptr<IncomingReplication>> finished;
  std::vector<std::unique_ptr<OutgoingReplication>> finished_external;
  std::set<std::string> required;
  {
    std::lock_guard lock(mu_);
    required = required_positions_;
    for (const auto& [tag, o] : outgoing_) acked[tag] = o->status().last_acknowledged_etag;
    // A hub's connections to its sinks ("sink:<database id>") keep their
    // positions too, so a deletion waits for every sink that ever pulled.
    for (const auto& [key, o] : external_) {
      if (key.rfind(kSinkKeyPrefix, 0) == 0 || key.rfind(kExternalKeyPrefix, 0) == 0) {
        acked[key] = o->status().last_acknowledged_etag;
      }
    }
    for (auto it = external_.begin(); it != external_.end();) {
      if (it->second->finished()) {
        finished_external.push_back(std::move(it->second));
        it = external_.erase(it);
      } else {
        ++it;
      }
    }
    for (auto it = incoming_.begin(); it != incoming_.end();) {
      if ((*it)->finished()) {
        finished.push_back(std::move(*it));
        it = incoming_.erase(it);
      } else {
        ++it;
      }
    }
  }
  finished.clear();  // joins their (ended) threads
  finished_external.clear();
  // A destination not heard from since this node started keeps its last
  // persisted position: a purge must wait for it too.
  auto stored = storage::acknowledged_positions(storage_);
  if (!stored.ok()) return;
  std::map<std::string, uint64_t> changed;
  for (auto& [tag, etag] : acked) {
    auto s = stored->find(tag);
    if (s != stored->end()) etag = std::max(etag, s->second);
    if (s == stored->end() || s->second < etag) changed[tag] = etag;
  }
  // Tombstones go once every destination has acknowledged past them; with no
  // destination (a single-node group) there is nobody to tell of a delete.
  uint64_t purge_to = 0;
  if (!acked.empty()) {
    purge_to = UINT64_MAX;
    for (const auto& [tag, etag] : acked) purge_to = std::min(purge_to, etag);
    // Sinks away now still count, from their last persisted position.
    for (const auto& [tag, etag] : *stored) {
      const bool holds = tag.rfind(kSinkKeyPrefix, 0) == 0 || tag.rfind(kExternalKeyPrefix, 0) == 0;
      if (holds && !acked.count(tag)) purge_to = std::min(purge_to, etag);
    }
  }
  // A sink or an external task with no position here yet would get
  // everything from here from the start one day, so nothing may go.
  for (const auto& key : required)
    if (!acked.count(key) && !stored->count(key)) purge_to = 0;
  if (changed.empty() && purge_to == 0) return;
  (void)storage_.write([&](storage::WriteTransaction& txn) -> Status {
    for (const auto& [tag, etag] : changed) storage::set_acknowledged_position(txn, tag, etag);
    if (purge_to > 0) {
      auto purged = storage::purge_tombstones(txn, purge_to, kPurgeBatch);
      if (!purged.ok()) return purged.status();
    }
    return Status::Ok();
  });
}

std::vector<PeerLag> DatabaseReplication::lag() const {
  const uint64_t last = storage_.published().last_etag;
  const auto now = std::chrono::steady_clock::now();
  std::vector<PeerLag> out;
  std::lock_guard lock(mu_);
  for (const auto& [tag, o] : outgoing_) {
    const auto st = o->status();
    PeerLag l{tag, last > st.last_acknowledged_etag ? last - st.last_acknowledged_etag : 0, 0, st.connected};
    if (l.etags > 0) {
      auto first = std::find_if(commits_.begin(), commits_.end(),
                                [&](const auto& c) { return c.first > st.last_acknowledged_etag; });
      if (first != commits_.end()) l.ms = std::chrono::duration<double, std::milli>(now - first->second).count();
    }
    out.push_back(std::move(l));
  }
  return out;
}

json::object DatabaseReplication::performance() const {
  const auto lags = lag();
  json::array outgoing;
  json::array incoming;
  {
    std::lock_guard lock(mu_);
    for (const auto& [tag, o] : outgoing_) {
      const auto st = o->status();
      json::object e{{"Destination", st.destination},
                     {"Address", st.address},
                     {"Connected", st.connected},
                     {"LastError", st.last_error},
                     {"LastSentEtag", st.last_sent_etag},
                     {"LastAcknowledgedEtag", st.last_acknowledged_etag},
                     {"LastHeardUs", st.last_heard_us},
                     {"DestinationChangeVector", st.destination_change_vector},
                     {"TotalBatches", st.recent.total_batches},
                     {"TotalItems", st.recent.total_items},
                     {"Batches", batches_json(st.recent)}};
      for (const auto& l : lags) {
        if (l.tag == tag) {
          e["LagInEtags"] = l.etags;
          e["LagInMs"] = l.ms;
        }
      }
      outgoing.push_back(std::move(e));
    }
    for (const auto& [key, o] : external_) {
      const auto st = o->status();
      outgoing.push_back(json::object{{"Destination", st.destination},
                                      {"External", key},
                                      {"Connected", st.connected},
                                      {"LastError", st.last_error},
                                      {"LastSentEtag", st.last_sent_etag},
                                      {"LastAcknowledgedEtag", st.last_acknowledged_etag},
                                      {"TotalBatches", st.recent.total_batches},
                                      {"TotalItems", st.recent.total_items}});
    }
    for (const auto& i : incoming_) {
      const auto st = i->status();
      incoming.push_back(json::object{{"Source", st.source},
                                      {"SourceDatabaseId", st.source_database_id},
                                      {"Connected", !i->finished()},
                                      {"ConnectedAtUs", st.connected_at_us},
                                      {"LastHeardUs", st.last_heard_us},
                                      {"LastAcceptedEtag", st.last_accepted_etag},
                                      {"Conflicts", st.conflicts},
                                      {"TotalBatches", st.recent.total_batches},
                                      {"TotalItems", st.recent.total_items},
                                      {"Batches", batches_json(st.recent)}});
    }
  }
  const auto published = storage_.published();
  return json::object{{"DatabaseId", storage_.database_id()},
                      {"LastEtag", published.last_etag},
                      {"DatabaseChangeVector", published.database_change_vector},
                      {"Outgoing", std::move(outgoing)},
                      {"Incoming", std::move(incoming)}};
}

}  // namespace corvus::replication
