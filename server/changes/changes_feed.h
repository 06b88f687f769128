#pragma once
// ChangesFeed: the one reader of a database's changes for the Changes API.
// The storage commit hook only records that the last etag moved; the feed's
// thread then reads the new entries in etag order (read_replication_items:
// documents, tombstones and counters) and hands each, as a ChangeEvent, to every ChangesWatcher
// (the WebSocket connections), one after the other: every watcher sees the
// changes in etag order. A document changed twice before the feed reads it is
// told once, at its last etag.
//
// The server-wide feed (GET /changes) is a ChangesFeed without storage and
// without a thread: it only carries what is published to it (database and
// topology changes, from the cluster's applied feed).
//
// Ownership: a database's feed is created lazily and owned by DocumentDatabase (shared_ptr, also
// held by its connections); stop() (the database closing) ends the thread,
// unhooks it from the storage and closes every watcher; it never touches the
// storage afterwards. Thread-safety: add/remove/stop from any thread.

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "server/changes/change_event.h"
#include "server/changes/watch_filters.h"
#include "storage/status.h"

namespace corvus::storage {
class DocumentsStorage;
}

namespace corvus::server::changes {

class ChangesWatcher {
 public:
  virtual ~ChangesWatcher() = default;
  // On the feed's thread, in etag order; must not block.
  virtual void offer(const std::shared_ptr<const ChangeEvent>& event) = 0;
  // The feed stopped (database closing) or cannot read: the watcher closes.
  virtual void feed_closed(const std::string& reason) = 0;
  // True once it closed or is closing: a replayed watcher is then not added.
  virtual bool gone() const = 0;
};

class ChangesFeed {
 public:
  explicit ChangesFeed(storage::DocumentsStorage& storage);
  // The server-wide feed: no etag order, only published events.
  ChangesFeed();
  ~ChangesFeed();  // stop()
  ChangesFeed(const ChangesFeed&) = delete;
  ChangesFeed& operator=(const ChangesFeed&) = delete;

  // Changes committed after this call reach `watcher` (a few just before it
  // may too: those the feed had not read yet). False (and
  // watcher->feed_closed) once the feed is stopped.
  // With `after`: the watcher first gets, in etag order, the changes after
  // that etag (read from the storage: a document or counter changed several
  // times since is told once, in its latest state), then the live ones, with
  // neither gaps nor duplicates between the two.
  bool add(std::shared_ptr<ChangesWatcher> watcher, std::optional<uint64_t> after = std::nullopt);

  // Resuming: a closed connection's watches are kept under its id for the
  // grace period; unpark() hands them back once (nullopt when unknown or
  // expired).
  static constexpr std::chrono::seconds kResumeGrace{60};
  void park(const std::string& connection_id, WatchFilters filters);
  std::optional<WatchFilters> unpark(const std::string& connection_id);
  void remove(const ChangesWatcher* watcher);
  // An operation's new state (DatabaseOperations' listener), told to the
  // watchers at once on the calling thread: operations are not in the etag
  // order.
  void publish_operation(uint64_t operation_id, const boost::json::object& state);
  // An event outside the etag order (index, topology, database changes), told
  // to the watchers at once on the calling thread.
  void publish_now(const std::shared_ptr<const ChangeEvent>& event) { publish(event); }
  // Idempotent; joins the thread. Must not run on the feed's own thread.
  void stop(const std::string& reason = "The database is closing");

 private:
  struct Events {
    std::vector<std::shared_ptr<const ChangeEvent>> events;
    uint64_t scanned_to = 0;  // the last etag read
    bool more = false;        // it found entries (there may be more after them)
  };
  // The events after `after_etag`, one bounded read (one snapshot).
  Result<Events> read_events(uint64_t after_etag) const;
  void run();
  // The changes in (after, up_to] to one watcher (feed thread); false when
  // reading failed (the watcher was told and closed).
  bool replay(ChangesWatcher& watcher, uint64_t after, uint64_t up_to);
  void publish(const std::shared_ptr<const ChangeEvent>& event);

  storage::DocumentsStorage* const storage_;  // nullptr: the server-wide feed
  uint64_t listener_id_ = 0;
  std::mutex mu_;
  std::condition_variable cv_;
  uint64_t committed_ = 0;  // the last etag the commit hook told
  uint64_t position_ = 0;   // everything up to here was told (feed thread)
  bool stopping_ = false;
  std::string stop_reason_;  // what stop() said: told to watchers added afterwards
  std::map<const ChangesWatcher*, std::shared_ptr<ChangesWatcher>> watchers_;
  // Added with a starting etag, waiting for the feed thread's replay.
  std::vector<std::pair<std::shared_ptr<ChangesWatcher>, uint64_t>> catching_up_;
  struct Parked {
    WatchFilters filters;
    std::chrono::steady_clock::time_point expires;
  };
  std::map<std::string, Parked> parked_;
  std::thread thread_;
};

}  // namespace corvus::server::changes
