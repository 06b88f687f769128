#pragma once
// SubscriptionConnections: which worker connections serve which data
// subscription on this node, and the rules between them (RavenDB's worker
// strategies): OpenIfFree is refused while another worker is connected,
// TakeOver closes the connected ones (they are told InUse), WaitForFree waits
// until the subscription is free, Concurrent workers share it with each other
// (only). The connected workers of a subscription share one
// SubscriptionCursor (created from the recorded position with the first). Also how the HTTP side reaches connected
// workers: drop (POST /subscriptions/drop), delete (the workers are told the
// subscription is gone).
//
// One per node, owned by ServerStore; used by the worker connections
// (subscription_connection.h) and the subscription handlers. Thread-safe.

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "server/subscriptions/subscription_cursor.h"
#include "server/tcp/tcp_json_stream.h"

namespace corvus::server::subscriptions {

enum class WorkerStrategy { OpenIfFree, TakeOver, WaitForFree, Concurrent };

class SubscriptionConnections {
 public:
  enum class Admission { Accepted, InUse, Closed };

  // Registers a worker of subscription `name` of `database`; on Accepted,
  // `*id` is its registration for leave() and `*cursor` the cursor it shares
  // with the other connected workers (a new one from `position()` when it is
  // the first). WaitForFree waits while another is connected, calling
  // `keepalive` about every second (false: the waiting client is gone,
  // Closed); Closed too when `stream` is closed meanwhile.
  Admission admit(const std::string& database, const std::string& name, WorkerStrategy strategy,
                  const std::string& worker_id, std::shared_ptr<tcp::TcpJsonStream> stream, std::uint64_t* id,
                  const std::function<bool()>& keepalive,
                  const std::function<std::shared_ptr<SubscriptionCursor>()>& position,
                  std::shared_ptr<SubscriptionCursor>* cursor);
  void leave(const std::string& database, const std::string& name, std::uint64_t id);

  // Tells the connected workers of `name` (every subscription of `database`
  // when empty; only worker `worker_id` when not empty) the ConnectionStatus
  // message `status_json` and closes them. Returns how many were closed.
  std::size_t drop(const std::string& database, const std::string& name, const std::string& worker_id,
                   const std::string& status_json);
  // How many workers are connected to `name` now.
  std::size_t connected(const std::string& database, const std::string& name) const;

 private:
  struct Worker {
    std::uint64_t id;
    WorkerStrategy strategy;
    std::string worker_id;
    std::shared_ptr<tcp::TcpJsonStream> stream;
  };
  static std::string key(const std::string& database, const std::string& name);
  static void tell_and_close(const Worker& w, const std::string& status_json);

  mutable std::mutex mu_;
  std::condition_variable freed_;
  std::uint64_t next_id_ = 1;
  std::map<std::string, std::vector<Worker>> workers_;  // by key()
  // While a subscription has workers: the cursor they share (by key()).
  std::map<std::string, std::shared_ptr<SubscriptionCursor>> cursors_;
};

// {"Type":"ConnectionStatus","Status":status,"Message":..,"Exception":..,"Data":{"CanReconnect":..}}
std::string connection_status_json(const std::string& status, const std::string& message, bool can_reconnect = false);

}  // namespace corvus::server::subscriptions
