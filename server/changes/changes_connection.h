#pragma once
// ChangesConnection: one client of /databases/{db}/changes, a WebSocket
// endpoint and a watcher of its database's ChangesFeed. It keeps the client's
// watches (watch-doc, watch-prefix, ...: filters), answers each command with
// {"Type":"Confirm","CommandId":n} (or {"Type":"Error",...} for a malformed or
// unknown command, changing nothing), and queues the matching events, in etag
// order, until the socket takes them (several at once as one JSON array).
// A client that does not keep up is closed with the reason once its queue
// passes the limits; the queue never grows past them.
//
// Resuming: the first message is {"ConnectionId": id} (clients that do not
// know it skip a message without "Type"), and events carry their "Etag".
// A database connection's second message is {"TopologyChange": true}. A
// closed connection's watches are kept for ChangesFeed::kResumeGrace; a
// client connecting with ?connectionId=<id>&after=<etag> within it gets the
// same watches and every change after that etag (no gaps, no duplicates);
// later, it gets an Error saying changes may have been missed, and starts
// afresh.
//
// Operations: watch-operation(s) get OperationStatusChange {OperationId, State}
// when a database operation starts and finishes; watch-index(es) get
// IndexChange {Name, Type}; watch-topology-change gets TopologyChange {Url,
// Database} when the database's group changes.
//
// Scope::Server is the server-wide GET /changes: the same machinery on the
// server's own feed, with its own commands: watch-databases, watch-database
// <name> (DatabaseChange) and watch-topology-change (TopologyChange of every
// database). It is not resumable (the server feed keeps no history).
//
// Ownership: shared by its WebSocketSession and the feed (until on_closed).
// Thread-safety: on_message/next_outgoing run on the connection's strand,
// offer on the feed's thread; the filters and the queue are under one mutex.

#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "server/changes/changes_feed.h"
#include "server/changes/watch_filters.h"
#include "server/http/websocket.h"

namespace corvus::server::changes {

struct ChangesLimits {
  size_t max_queued_events = 10'000;
  size_t max_queued_bytes = 10 * 1024 * 1024;
};

class ChangesConnection final : public http::WebSocketEndpoint,
                                public ChangesWatcher,
                                public std::enable_shared_from_this<ChangesConnection> {
 public:
  // What a client resuming a closed connection asked for
  // (?connectionId=&after=): that connection's watches, and the changes after
  // the etag of the last event it got.
  struct Resume {
    std::string connection_id;
    uint64_t after = 0;
  };
  enum class Scope { Database, Server };
  ChangesConnection(std::shared_ptr<ChangesFeed> feed, ChangesLimits limits, std::optional<Resume> resume,
                    Scope scope = Scope::Database);

  // WebSocketEndpoint (strand)
  void on_open(std::weak_ptr<http::WebSocketChannel> channel) override;
  void on_message(std::string_view text) override;
  std::optional<std::string> next_outgoing() override;
  void on_closed() override;

  // ChangesWatcher (feed thread)
  void offer(const std::shared_ptr<const ChangeEvent>& event) override;
  void feed_closed(const std::string& reason) override;
  bool gone() const override;

 private:

  // Applies one command; an empty string on success, else what is wrong.
  std::string apply(std::string_view command, const std::string* param, const std::vector<std::string>& params);
  // The server-wide commands (Scope::Server); mu_ held.
  std::string apply_server(std::string_view command, std::string_view what, bool watch, const std::string* param);
  // Queues a message; false when the queue is past its limits.
  bool enqueue(std::string message);  // mu_ held
  void wake();
  void close(uint16_t code, std::string reason);

  std::shared_ptr<ChangesFeed> feed_;
  const std::string id_;  // random; told to the client first: {"ConnectionId": id}
  const std::optional<Resume> resume_;
  const Scope scope_;
  bool feed_gone_ = false;  // the database closed: nothing to resume
  const ChangesLimits limits_;
  mutable std::mutex mu_;
  std::weak_ptr<http::WebSocketChannel> channel_;
  WatchFilters filters_;
  std::deque<std::string> queue_;
  size_t queued_bytes_ = 0;
  bool cut_off_ = false;  // over the limits, or closed: nothing more is queued
};

}  // namespace corvus::server::changes
