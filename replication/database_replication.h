#pragma once
// DatabaseReplication: everything replication does for one database on this
// node: an OutgoingReplication to every other node of the group (members and
// promotables; the server says which), the IncomingReplication connections
// other nodes opened to us, and housekeeping once a second: the peers'
// acknowledged positions kept in storage, and tombstones purged once every
// destination acknowledged past them. It reports what it does for
// /replication/performance and the lag metrics.
//
// Owned by the server's DocumentDatabase; stop() (or the destructor) before
// the storage closes. Thread-safety: every public function from any thread.

#include <cstdint>
#include <deque>
#include <map>
#include <set>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json/object.hpp>

#include "replication/incoming_replication.h"
#include "replication/outgoing_replication.h"
#include "storage/documents_storage.h"

namespace corvus::replication {

struct ReplicationPeer {
  std::string tag;
  std::string address;  // its cluster port, host:port
};

struct PeerLag {
  std::string tag;
  uint64_t etags = 0;  // our last etag minus what the peer acknowledged
  double ms = 0;       // age of the oldest commit the peer has not acknowledged
  bool connected = false;
};

// The key prefix of a hub's connections to its pull replication sinks
// ("sink:<sink database id>"): their acknowledged positions are kept like a
// group member's and hold back tombstone purges, even while a sink is away.
inline constexpr std::string_view kSinkKeyPrefix = "sink:";
// External replication's pushes ("external:<task id>", server/external_replication/)
// hold back tombstone purges the same way: a deletion made while the other
// cluster is away still reaches it.
inline constexpr std::string_view kExternalKeyPrefix = "external:";

class DatabaseReplication {
 public:
  static constexpr size_t kPurgeBatch = 1024;

  // `redial`: the back-off of the pushes to the group's members.
  DatabaseReplication(storage::DocumentsStorage& storage, ReplicationIdentity identity,
                      IncomingReplication::PolicyFn policy, RedialBackoff redial = {});
  ~DatabaseReplication();
  DatabaseReplication(const DatabaseReplication&) = delete;
  DatabaseReplication& operator=(const DatabaseReplication&) = delete;

  // The other nodes of the group to push to: connections to new ones start,
  // to dropped ones (or moved addresses) stop.
  void set_destinations(const std::vector<ReplicationPeer>& peers);
  // A connection whose handshake names this database; a previous connection
  // of the same source is closed (it is a stale half of a broken link), and
  // our push to that source redials now if it was waiting to.
  // `filter`: only the items it allows are applied (pull replication).
  void accept(std::unique_ptr<FrameSocket> socket, Handshake handshake,
              IncomingReplication::ItemFilter filter = nullptr, std::function<Status()> permitted = nullptr);
  // Pull replication's outgoing connections, which are not to a group member
  // (a hub serving the connection a sink opened, a sink pushing up to its
  // hub): kept by `key` (one of the same key is stopped and replaced),
  // notified of commits, stopped with the rest, dropped once finished. Those
  // keyed kSinkKeyPrefix + id hold back tombstone purges (a sink away still
  // needs the deletions); the others do not.
  // `peer`: how logs and /replication/performance name the destination.
  void add_external_outgoing(const std::string& key, const std::string& peer, OutgoingOptions options);
  void remove_external_outgoing(const std::string& key);
  // Position keys this node may have to serve from the start one day, as
  // the server reads them from the record: kSinkKeyPrefix + the database id
  // of every sink that ever pulled from a hub of this database (on any node),
  // kExternalKeyPrefix + every external replication task (it may move here).
  // While one of them has no position on this node, no tombstone goes here:
  // a sink failing over to this node, or a task taken over by it, sends
  // everything from the start and must not miss a deletion.
  void set_required_positions(std::set<std::string> keys);
  struct ExternalInfo {
    std::string key;
    std::map<std::string, std::string> labels;  // OutgoingOptions::labels
    bool connected = false;
    std::string last_error;  // why the last connection failed or ended ("" while it works)
  };
  std::vector<ExternalInfo> externals() const;
  void stop();

  // GET /databases/{db}/replication/performance.
  boost::json::object performance() const;
  std::vector<PeerLag> lag() const;

 private:
  void on_commit(uint64_t last_etag);
  void housekeeping();
  // Keeps acknowledged positions and purges tombstones (housekeeping thread).
  void persist_and_purge();

  storage::DocumentsStorage& storage_;
  const ReplicationIdentity identity_;
  const IncomingReplication::PolicyFn policy_;
  const RedialBackoff redial_;
  uint64_t listener_id_ = 0;

  mutable std::mutex mu_;
  bool stopped_ = false;
  std::map<std::string, std::unique_ptr<OutgoingReplication>> outgoing_;  // by peer tag
  std::vector<std::unique_ptr<IncomingReplication>> incoming_;
  std::map<std::string, std::unique_ptr<OutgoingReplication>> external_;  // by key
  std::set<std::string> required_positions_;  // set_required_positions
  // Commit times of recent etags, oldest first, for lag in milliseconds.
  std::deque<std::pair<uint64_t, std::chrono::steady_clock::time_point>> commits_;
  std::condition_variable wake_;
  std::thread housekeeper_;
};

}  // namespace corvus::replication
