#pragma once
// DatabaseOperations: the long-running operations of one database (a bulk
// insert today), as the clients follow them: they take an id first
// (GET /operations/next-operation-id), start the operation under it, and ask
// for its state (GET /operations/state?id=) or kill it
// (POST /operations/kill?id=). Ids and states live in memory, as in RavenDB:
// a restart forgets them. Owned by DocumentDatabase; thread-safe.

#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include <boost/json/object.hpp>

namespace corvus::server {

class DatabaseOperations {
 public:
  // One operation, shared by the registry and the code running it.
  class Operation {
   public:
    // Set by kill(); the running code checks it between steps and stops.
    bool killed() const { return killed_.load(); }
    // The progress the state shows while it runs (any JSON object).
    void set_progress(boost::json::object progress);

   private:
    friend class DatabaseOperations;
    std::atomic<bool> killed_{false};
    std::string status_ = "InProgress";  // InProgress, Completed, Faulted, Canceled (registry's lock)
    boost::json::object result_;
    boost::json::object progress_;
    mutable std::mutex mu_;  // progress_
  };

  // Finished operations kept for their state; the oldest go first.
  static constexpr size_t kKeptFinished = 1000;

  uint64_t next_id() { return ++last_id_; }
  // Registers operation `id` (normally from next_id); nullptr when 0 or in use.
  // An id killed before it started comes back killed (Canceled).
  std::shared_ptr<Operation> start(uint64_t id);
  void complete(uint64_t id, boost::json::object result);
  // Faulted with `error` (a killed operation stays Canceled).
  void fault(uint64_t id, const std::string& error);
  // The same with RavenDB's exception type name (e.g. JavaScriptException),
  // which the clients raise from the operation's result.
  void fault(uint64_t id, const std::string& error, const std::string& type);
  // {Status, Result, Progress}; nullopt for an unknown id.
  std::optional<boost::json::object> state(uint64_t id) const;
  // Marks a running operation (or one handed out and not started yet)
  // Canceled and asks its code to stop; false for an unknown or finished one.
  bool kill(uint64_t id);

  // Told of each state change (started, finished) with the new state, on the
  // thread making it, outside the registry's lock; must be quick. Set once
  // (the database's Changes feed, for OperationStatusChange events).
  using StateListener = std::function<void(uint64_t id, const boost::json::object& state)>;
  void set_listener(StateListener listener);

 private:
  void notify(uint64_t id) const;
  std::shared_ptr<Operation> register_operation(uint64_t id);
  void finish(uint64_t id, std::string status, boost::json::object result);

  std::atomic<uint64_t> last_id_{0};
  mutable std::mutex mu_;
  std::map<uint64_t, std::shared_ptr<Operation>> operations_;
  std::deque<uint64_t> finished_;  // oldest first
  mutable std::mutex listener_mu_;
  std::shared_ptr<const StateListener> listener_;
};

}  // namespace corvus::server
