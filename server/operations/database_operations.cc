#include "server/operations/database_operations.h"

namespace corvus::server {

void DatabaseOperations::Operation::set_progress(boost::json::object progress) {
  std::lock_guard lock(mu_);
  progress_ = std::move(progress);
}

void DatabaseOperations::set_listener(StateListener listener) {
  std::lock_guard lock(listener_mu_);
  listener_ = std::make_shared<const StateListener>(std::move(listener));
}

void DatabaseOperations::notify(uint64_t id) const {
  std::shared_ptr<const StateListener> listener;
  {
    std::lock_guard lock(listener_mu_);
    listener = listener_;
  }
  if (!listener) return;
  if (auto s = state(id)) (*listener)(id, *s);
}

std::shared_ptr<DatabaseOperations::Operation> DatabaseOperations::start(uint64_t id) {
  auto op = register_operation(id);
  if (op && !op->killed()) notify(id);
  return op;
}

std::shared_ptr<DatabaseOperations::Operation> DatabaseOperations::register_operation(uint64_t id) {
  if (id == 0) return nullptr;
  std::lock_guard lock(mu_);
  // Clients take ids from next_id(); one chosen otherwise must not be handed out later.
  for (uint64_t last = last_id_.load(); last < id && !last_id_.compare_exchange_weak(last, id);) {
  }
  auto [it, inserted] = operations_.try_emplace(id, std::make_shared<Operation>());
  // Killed before it started (the client's kill overtook its request): it
  // starts killed, and stops at once.
  if (!inserted && !it->second->killed()) return nullptr;
  return it->second;
}

void DatabaseOperations::finish(uint64_t id, std::string status, boost::json::object result) {
  {
    std::lock_guard lock(mu_);
    auto it = operations_.find(id);
    if (it == operations_.end() || it->second->status_ != "InProgress") return;
    it->second->status_ = std::move(status);
    it->second->result_ = std::move(result);
    finished_.push_back(id);
    if (finished_.size() > kKeptFinished) {
      operations_.erase(finished_.front());
      finished_.pop_front();
    }
  }
  notify(id);
}

void DatabaseOperations::complete(uint64_t id, boost::json::object result) {
  finish(id, "Completed", std::move(result));
}

void DatabaseOperations::fault(uint64_t id, const std::string& error) {
  finish(id, "Faulted", boost::json::object{{"Error", error}, {"Message", error}});
}

void DatabaseOperations::fault(uint64_t id, const std::string& error, const std::string& type) {
  finish(id, "Faulted", boost::json::object{{"Error", error}, {"Message", error}, {"Type", type}});
}

std::optional<boost::json::object> DatabaseOperations::state(uint64_t id) const {
  std::lock_guard lock(mu_);
  auto it = operations_.find(id);
  if (it == operations_.end()) return std::nullopt;
  const Operation& op = *it->second;
  boost::json::object out{{"Status", op.status_}};
  out["Result"] = op.status_ == "InProgress" ? boost::json::value(nullptr) : boost::json::value(op.result_);
  std::lock_guard progress_lock(op.mu_);
  out["Progress"] = op.progress_.empty() ? boost::json::value(nullptr) : boost::json::value(op.progress_);
  return out;
}

bool DatabaseOperations::kill(uint64_t id) {
  std::shared_ptr<Operation> op;
  {
    std::lock_guard lock(mu_);
    auto it = operations_.find(id);
    if (it == operations_.end() && id > 0 && id <= last_id_.load()) {
      // Handed out but not started yet: the kill may overtake the request
      // that starts it.
      it = operations_.emplace(id, std::make_shared<Operation>()).first;
    }
    if (it == operations_.end() || it->second->status_ != "InProgress") return false;
    op = it->second;
  }
  // Canceled at once: the running code may notice only at its next step
  // (a bulk insert, when its client sends more), and must not override it.
  op->killed_ = true;
  finish(id, "Canceled", boost::json::object{{"Error", "the operation was killed"}});
  return true;
}

}  // namespace corvus::server
