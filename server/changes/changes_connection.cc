// ChangesConnection: see changes_connection.h.

#include "server/changes/changes_connection.h"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>
#include <charconv>
#include <cstdio>
#include <random>
#include <system_error>
#include <utility>

namespace corvus::server::changes {

namespace {
namespace json = boost::json;

// One outgoing message holds at most this much (more waits for the next).
constexpr size_t kMaxBatchBytes = 1024 * 1024;

bool starts_with(std::string_view s, std::string_view prefix) { return s.substr(0, prefix.size()) == prefix; }

// watch-x adds to `set`, unwatch-x removes; false for a missing parameter.
bool toggle(std::set<std::string>& set, bool watch, const std::string* param) {
  if (param == nullptr || param->empty()) return false;
  if (watch) {
    set.insert(lowered(*param));
  } else {
    set.erase(lowered(*param));
  }
  return true;
}
}  // namespace

namespace {
std::string random_id() {
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  char buf[33];
  std::snprintf(buf, sizeof(buf), "%016llx%016llx", static_cast<unsigned long long>(rng()),
                static_cast<unsigned long long>(rng()));
  return buf;
}
}  // namespace

ChangesConnection::ChangesConnection(std::shared_ptr<ChangesFeed> feed, ChangesLimits limits,
                                     std::optional<Resume> resume, Scope scope)
    : feed_(std::move(feed)), id_(random_id()), resume_(std::move(resume)), scope_(scope), limits_(limits) {}

void ChangesConnection::on_open(std::weak_ptr<http::WebSocketChannel> channel) {
  std::optional<uint64_t> after;
  {
    std::lock_guard lock(mu_);
    channel_ = std::move(channel);
    enqueue(json::serialize(json::object{{"ConnectionId", id_}}));
    // As RavenDB: a database connection says it tells topology changes; the
    // clients answer with watch-topology-change (and refresh the topology).
    if (scope_ == Scope::Database) enqueue(json::serialize(json::object{{"TopologyChange", true}}));
    if (resume_) {
      if (auto filters = feed_->unpark(resume_->connection_id)) {
        filters_ = std::move(*filters);
        after = resume_->after;
      } else {
        enqueue(json::serialize(json::object{
            {"Type", "Error"},
            {"Exception", "Changes may have been missed: connection '" + resume_->connection_id +
                              "' cannot be resumed (unknown, or closed more than " +
                              std::to_string(ChangesFeed::kResumeGrace.count()) +
                              " s ago); watch again"}}));
      }
    }
  }
  wake();
  feed_->add(shared_from_this(), after);
}

void ChangesConnection::on_closed() {
  WatchFilters filters;
  bool park = false;
  {
    std::lock_guard lock(mu_);
    cut_off_ = true;
    queue_.clear();
    queued_bytes_ = 0;
    park = !feed_gone_ && scope_ == Scope::Database;  // the server feed is not resumable
    if (park) filters = filters_;
  }
  feed_->remove(this);
  if (park) feed_->park(id_, std::move(filters));
}

bool ChangesConnection::gone() const {
  std::lock_guard lock(mu_);
  return cut_off_;
}

void ChangesConnection::on_message(std::string_view text) {
  std::string failure;
  std::optional<int64_t> command_id;
  {
    boost::system::error_code ec;
    json::value v = json::parse(text, ec);
    const json::object* cmd = ec ? nullptr : v.if_object();
    if (cmd == nullptr) {
      failure = "A changes command must be a JSON object {\"CommandId\", \"Command\", \"Param\"}";
    } else {
      const json::value* id = cmd->if_contains("CommandId");
      const json::value* name = cmd->if_contains("Command");
      const json::value* param = cmd->if_contains("Param");
      const json::value* params = cmd->if_contains("Params");
      if (id == nullptr || !id->is_int64()) {
        failure = "'CommandId' must be an integer";
      } else if (command_id = id->as_int64(); name == nullptr || !name->is_string()) {
        failure = "'Command' must be a string";
      } else if (param != nullptr && !param->is_string() && !param->is_null()) {
        failure = "'Param' must be a string";
      } else if (params != nullptr && !params->is_array() && !params->is_null()) {
        failure = "'Params' must be an array of strings";
      } else {
        std::string param_text;
        if (param != nullptr && param->is_string()) param_text = std::string(param->as_string());
        std::vector<std::string> params_text;
        if (params != nullptr && params->is_array()) {
          for (const auto& p : params->as_array()) {
            if (!p.is_string()) {
              failure = "'Params' must be an array of strings";
              break;
            }
            params_text.emplace_back(p.as_string());
          }
        }
        if (failure.empty()) {
          const bool has_param = param != nullptr && param->is_string();
          failure = apply(std::string_view(name->as_string()), has_param ? &param_text : nullptr, params_text);
        }
      }
    }
  }
  bool over = false;
  {
    std::lock_guard lock(mu_);
    if (cut_off_) return;
    if (failure.empty()) {
      over = !enqueue(json::serialize(json::object{{"Type", "Confirm"}, {"CommandId", *command_id}}));
    } else {
      json::object err{{"Type", "Error"}, {"Exception", failure}};
      if (command_id) err["CommandId"] = *command_id;
      over = !enqueue(json::serialize(err));
    }
  }
  if (over) return close(1008, "Too many changes pending for this connection");
  wake();
}

std::string ChangesConnection::apply(std::string_view command, const std::string* param,
                                     const std::vector<std::string>& params) {
  bool watch = false;
  std::string_view what;
  if (starts_with(command, "watch-")) {
    watch = true;
    what = command.substr(6);
  } else if (starts_with(command, "unwatch-")) {
    what = command.substr(8);
  } else {
    return "Unknown command: '" + std::string(command) + "'";
  }
  const std::string missing = "'" + std::string(command) + "' needs a non-empty 'Param'";
  std::lock_guard lock(mu_);
  if (scope_ == Scope::Server) return apply_server(command, what, watch, param);
  WatchFilters& f = filters_;
  if (what == "topology-change") {
    f.topology = watch;
  } else if (what == "docs") {
    f.all_documents = watch;
  } else if (what == "doc") {
    if (!toggle(f.documents, watch, param)) return missing;
  } else if (what == "prefix") {
    if (!toggle(f.prefixes, watch, param)) return missing;
  } else if (what == "collection") {
    if (!toggle(f.collections, watch, param)) return missing;
  } else if (what == "counters") {
    f.all_counters = watch;
  } else if (what == "counter") {
    if (!toggle(f.counter_names, watch, param)) return missing;
  } else if (what == "document-counters") {
    if (!toggle(f.document_counters, watch, param)) return missing;
  } else if (what == "document-counter") {
    if (params.size() != 2 || params[0].empty() || params[1].empty()) {
      return "'" + std::string(command) + "' needs 'Params': [documentId, counterName]";
    }
    const std::string key = lowered(params[0]) + '\0' + lowered(params[1]);
    if (watch) {
      f.document_counter.insert(key);
    } else {
      f.document_counter.erase(key);
    }
  } else if (what == "index") {
    if (!toggle(f.indexes, watch, param)) return missing;
  } else if (what == "indexes") {
    f.all_indexes = watch;
  } else if (what == "operations") {
    f.all_operations = watch;
  } else if (what == "operation") {
    if (param == nullptr || param->empty()) return missing;
    uint64_t id = 0;
    auto [end, ec] = std::from_chars(param->data(), param->data() + param->size(), id);
    if (ec != std::errc() || end != param->data() + param->size()) {
      return "'" + std::string(command) + "' needs an operation id, not '" + *param + "'";
    }
    if (watch) {
      f.operations.insert(id);
    } else {
      f.operations.erase(id);
    }
  } else {
    return "Unknown command: '" + std::string(command) + "'";
  }
  return "";
}

std::string ChangesConnection::apply_server(std::string_view command, std::string_view what, bool watch,
                                            const std::string* param) {
  WatchFilters& f = filters_;
  if (what == "databases") {
    f.all_databases = watch;
  } else if (what == "database") {
    if (!toggle(f.databases, watch, param)) return "'" + std::string(command) + "' needs a non-empty 'Param'";
  } else if (what == "topology-change") {
    f.topology = watch;
  } else {
    return "Unknown command for the server-wide changes: '" + std::string(command) +
           "' (watch-databases, watch-database, watch-topology-change)";
  }
  return "";
}

bool ChangesConnection::enqueue(std::string message) {
  queued_bytes_ += message.size();
  queue_.push_back(std::move(message));
  if (queue_.size() > limits_.max_queued_events || queued_bytes_ > limits_.max_queued_bytes) {
    cut_off_ = true;
    queue_.clear();
    queued_bytes_ = 0;
    return false;
  }
  return true;
}

void ChangesConnection::offer(const std::shared_ptr<const ChangeEvent>& event) {
  bool over = false;
  bool was_empty = false;
  {
    std::lock_guard lock(mu_);
    if (cut_off_ || !filters_.matches(*event)) return;
    was_empty = queue_.empty();
    over = !enqueue(event->message);
  }
  if (over) {
    return close(1008, "Too many changes pending for this connection (limits: " +
                           std::to_string(limits_.max_queued_events) + " events, " +
                           std::to_string(limits_.max_queued_bytes) + " bytes)");
  }
  if (was_empty) wake();
}

void ChangesConnection::feed_closed(const std::string& reason) {
  {
    std::lock_guard lock(mu_);
    feed_gone_ = true;
    cut_off_ = true;
    queue_.clear();
    queued_bytes_ = 0;
  }
  close(1001, reason);
}

std::optional<std::string> ChangesConnection::next_outgoing() {
  std::lock_guard lock(mu_);
  if (queue_.empty()) return std::nullopt;
  if (queue_.size() == 1) {
    std::string one = std::move(queue_.front());
    queue_.pop_front();
    queued_bytes_ = 0;
    return one;
  }
  std::string batch = "[";
  while (!queue_.empty() && (batch.size() == 1 || batch.size() + queue_.front().size() < kMaxBatchBytes)) {
    if (batch.size() > 1) batch += ',';
    batch += queue_.front();
    queued_bytes_ -= queue_.front().size();
    queue_.pop_front();
  }
  batch += ']';
  return batch;
}

void ChangesConnection::wake() {
  std::shared_ptr<http::WebSocketChannel> channel;
  {
    std::lock_guard lock(mu_);
    channel = channel_.lock();
  }
  if (channel) channel->wake();
}

void ChangesConnection::close(uint16_t code, std::string reason) {
  std::shared_ptr<http::WebSocketChannel> channel;
  {
    std::lock_guard lock(mu_);
    channel = channel_.lock();
  }
  if (channel) channel->close(code, std::move(reason));
}

}  // namespace corvus::server::changes
