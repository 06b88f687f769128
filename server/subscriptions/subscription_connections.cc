#include "server/subscriptions/subscription_connections.h"

#include <chrono>

#include <boost/json.hpp>

#include "storage/document.h"

namespace corvus::server::subscriptions {

std::string connection_status_json(const std::string& status, const std::string& message, bool can_reconnect) {
  boost::json::object o{{"Type", "ConnectionStatus"}, {"Status", status}};
  if (!message.empty()) {
    o["Message"] = message;
    o["Exception"] = message;
  }
  o["Data"] = boost::json::object{{"CanReconnect", can_reconnect}};
  return boost::json::serialize(o);
}

std::string SubscriptionConnections::key(const std::string& database, const std::string& name) {
  std::string k = storage::lower_id(database);
  k.push_back('\0');
  k += storage::lower_id(name);
  return k;
}

void SubscriptionConnections::tell_and_close(const Worker& w, const std::string& status_json) {
  // Best effort and never blocking for long: a worker busy writing a batch to a
  // client that does not read keeps the write lock; then it is only closed.
  w.stream->try_write_then_close(status_json);
}

SubscriptionConnections::Admission SubscriptionConnections::admit(const std::string& database, const std::string& name,
                                                                  WorkerStrategy strategy, const std::string& worker_id,
                                                                  std::shared_ptr<tcp::TcpJsonStream> stream,
                                                                  std::uint64_t* id,
                                                                  const std::function<bool()>& keepalive,
                                                                  const std::function<std::shared_ptr<SubscriptionCursor>()>& position,
                                                                  std::shared_ptr<SubscriptionCursor>* cursor) {
  const std::string k = key(database, name);
  std::unique_lock lock(mu_);
  for (;;) {
    auto& list = workers_[k];
    if (list.empty()) break;
    if (strategy == WorkerStrategy::Concurrent && list.front().strategy == WorkerStrategy::Concurrent) break;
    if (strategy == WorkerStrategy::TakeOver) {
      for (const auto& w : list) {
        tell_and_close(w, connection_status_json("InUse", "Subscription '" + name +
                                                              "' was taken over by another worker (TakeOver)"));
      }
      list.clear();
      cursors_.erase(k);  // the new worker starts from the recorded position
      break;
    }
    if (strategy != WorkerStrategy::WaitForFree) return Admission::InUse;
    freed_.wait_for(lock, std::chrono::seconds(1));
    if (stream->closed()) return Admission::Closed;
    lock.unlock();
    const bool alive = keepalive();
    lock.lock();
    if (!alive) return Admission::Closed;
  }
  *id = next_id_++;
  auto& list = workers_[k];
  if (list.empty()) {
    // Read under the lock: no other worker of this subscription can record a
    // position meanwhile (none is connected).
    cursors_[k] = position();
  }
  list.push_back(Worker{*id, strategy, worker_id, std::move(stream)});
  *cursor = cursors_[k];
  return Admission::Accepted;
}

void SubscriptionConnections::leave(const std::string& database, const std::string& name, std::uint64_t id) {
  std::lock_guard lock(mu_);
  auto it = workers_.find(key(database, name));
  if (it == workers_.end()) return;
  std::erase_if(it->second, [id](const Worker& w) { return w.id == id; });
  if (it->second.empty()) {
    cursors_.erase(it->first);
    workers_.erase(it);
  }
  freed_.notify_all();
}

std::size_t SubscriptionConnections::drop(const std::string& database, const std::string& name,
                                          const std::string& worker_id, const std::string& status_json) {
  std::lock_guard lock(mu_);
  std::size_t n = 0;
  const std::string prefix = key(database, "");
  for (auto it = workers_.begin(); it != workers_.end();) {
    const bool match = name.empty() ? it->first.starts_with(prefix) : it->first == key(database, name);
    if (match) {
      for (auto w = it->second.begin(); w != it->second.end();) {
        if (!worker_id.empty() && w->worker_id != worker_id) {
          ++w;
          continue;
        }
        tell_and_close(*w, status_json);
        w = it->second.erase(w);
        ++n;
      }
    }
    if (it->second.empty()) {
      cursors_.erase(it->first);
      it = workers_.erase(it);
    } else {
      ++it;
    }
  }
  freed_.notify_all();
  return n;
}

std::size_t SubscriptionConnections::connected(const std::string& database, const std::string& name) const {
  std::lock_guard lock(mu_);
  auto it = workers_.find(key(database, name));
  return it == workers_.end() ? 0 : it->second.size();
}

}  // namespace corvus::server::subscriptions
