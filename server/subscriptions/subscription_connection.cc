#include "server/subscriptions/subscription_connection.h"

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <future>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <variant>

#include <boost/json.hpp>

#include "rachis/cluster/commands/subscription_commands.h"
#include "server/handlers/counter_batch_command.h"
#include "server/logging/logger.h"
#include "server/server_store.h"
#include "server/subscriptions/delivered_versions.h"
#include "server/subscriptions/subscription_connections.h"
#include "server/subscriptions/subscription_cursor.h"
#include "server/subscriptions/responsible_node.h"
#include "server/subscriptions/subscription_query.h"
#include "storage/change_vector.h"
#include "storage/clock.h"

namespace corvus::server::subscriptions {
namespace json = boost::json;

namespace {

constexpr auto kOptionsTimeout = std::chrono::seconds(30);
// How often an idle connection sends a heartbeat (and notices a gone client).
constexpr auto kHeartbeatInterval = std::chrono::seconds(1);
// How long a worker may take to acknowledge a batch before we give up on it.
constexpr auto kAcknowledgeTimeout = std::chrono::minutes(30);
// How long the acknowledgement may take to go through Rachis.
constexpr auto kClusterTimeout = std::chrono::seconds(60);
// How long a takeover waits to have applied what the cluster committed.
constexpr auto kTakeoverBarrierTimeout = std::chrono::seconds(10);
// A batch also ends at about this many bytes of documents.
constexpr std::size_t kMaxBatchBytes = 8 << 20;
// Entries read from the storage per scan step.
constexpr std::size_t kScanStep = 1024;
constexpr const char* kHeartbeat = "\r\n";

std::string error_json(const std::string& exception, const std::string& message) {
  return json::serialize(json::object{{"Type", "Error"}, {"Exception", exception}, {"Message", message}});
}

std::string get_string(const json::object& o, std::string_view key) {
  const auto* v = o.if_contains(key);
  return v && v->is_string() ? std::string(v->as_string()) : std::string();
}

struct WorkerOptions {
  std::string name;
  WorkerStrategy strategy = WorkerStrategy::OpenIfFree;
  std::size_t max_docs = 4096;
  bool close_when_no_docs_left = false;
  std::string worker_id;
};

Result<WorkerOptions> parse_options(const json::value& v) {
  if (!v.is_object()) return Status::InvalidArgument("the subscription worker options must be a JSON object");
  const auto& o = v.as_object();
  WorkerOptions w;
  w.name = get_string(o, "SubscriptionName");
  if (w.name.empty()) return Status::InvalidArgument("the subscription worker options need a SubscriptionName");
  const std::string strategy = get_string(o, "Strategy");
  if (strategy.empty() || strategy == "OpenIfFree") {
    w.strategy = WorkerStrategy::OpenIfFree;
  } else if (strategy == "TakeOver") {
    w.strategy = WorkerStrategy::TakeOver;
  } else if (strategy == "WaitForFree") {
    w.strategy = WorkerStrategy::WaitForFree;
  } else if (strategy == "Concurrent") {
    w.strategy = WorkerStrategy::Concurrent;
  } else {
    return Status::InvalidArgument("unknown subscription strategy '" + strategy + "'");
  }
  if (const auto* m = o.if_contains("MaxDocsPerBatch"); m && (m->is_int64() || m->is_uint64())) {
    const std::int64_t n = m->is_int64() ? m->as_int64() : static_cast<std::int64_t>(m->as_uint64());
    if (n > 0) w.max_docs = static_cast<std::size_t>(n);
  }
  if (const auto* c = o.if_contains("CloseWhenNoDocsLeft"); c && c->is_bool()) w.close_when_no_docs_left = c->as_bool();
  w.worker_id = get_string(o, "WorkerId");
  return w;
}

// Wakes the connection when the storage committed past what it has read.
class CommitWaiter {
 public:
  void on_commit(std::uint64_t last_etag) {
    {
      std::lock_guard lock(mu_);
      if (last_etag > last_etag_) last_etag_ = last_etag;
    }
    cv_.notify_all();
  }
  // True when an etag after `seen` was committed (or when it was already).
  bool wait_past(std::uint64_t seen, std::chrono::milliseconds timeout) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, timeout, [&] { return last_etag_ > seen; });
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::uint64_t last_etag_ = 0;
};

// One batch ready to send.
struct Batch {
  std::string bytes;            // Data (+ Includes) + EndOfBatch messages
  std::size_t documents = 0;
  std::uint64_t scanned_to = 0;  // every entry up to here was sent or does not match
  std::string last_change_vector;
  std::uint64_t lease = 0;       // the cursor's lease on what it holds (0: empty)
  // What it delivered, for the acknowledgement (when the group records it).
  std::vector<rachis::cluster::DeliveredDocument> delivered;
};

class Connection {
 public:
  Connection(ServerStore& store, std::shared_ptr<tcp::TcpJsonStream> stream, const tcp::TcpConnectionHeader& header)
      : store_(store), stream_(std::move(stream)), header_(header) {}

  void run() {
    auto opts_value = stream_->read_value(kOptionsTimeout);
    if (!opts_value.ok()) return;
    auto opts = parse_options(opts_value.value());
    if (!opts.ok()) {
      stream_->write(error_json("System.ArgumentException", opts.status().message())).ignore_error();
      return;
    }
    options_ = std::move(opts).value();
    db_ = store_.databases().get(header_.database);
    if (!db_) {
      const std::string msg = "Database '" + header_.database + "' does not exist";
      stream_->write(error_json("Raven.Client.Exceptions.Database.DatabaseDoesNotExistException: " + msg, msg))
          .ignore_error();
      return;
    }
    auto record = store_.cluster().state().subscription(db_->name(), options_.name);
    if (!record.ok()) {
      stream_->write(error_json("System.Exception", record.status().to_string())).ignore_error();
      return;
    }
    if (!record.value()) {
      stream_->write(connection_status_json("NotFound", "Subscription '" + options_.name + "' does not exist in database '" +
                                                            db_->name() + "'"))
          .ignore_error();
      return;
    }
    subscription_ = *record.value();
    if (subscription_.disabled) {
      stream_->write(connection_status_json("Closed", "Subscription '" + options_.name + "' is disabled")).ignore_error();
      return;
    }
    auto query = SubscriptionQuery::parse(subscription_.query);
    if (!query.ok()) {
      stream_->write(connection_status_json("Invalid", query.status().message())).ignore_error();
      return;
    }
    query_ = query.value();
    if (!responsible_here()) return;
    if (!subscription_.position_database_id.empty() &&
        subscription_.position_database_id != db_->storage().database_id()) {
      catch_up_with_cluster();
    }

    std::uint64_t registration = 0;
    auto& registry = store_.subscription_connections();
    const auto admission = registry.admit(
        db_->name(), subscription_.name, options_.strategy, options_.worker_id, stream_, &registration,
        [this] { return stream_->write(kHeartbeat).ok(); },
        [this] {
          // The recorded position, read again: the worker we waited for (or
          // took over from) may have moved it.
          if (auto again = store_.cluster().state().subscription(db_->name(), options_.name);
              again.ok() && again.value() && again.value()->id == subscription_.id) {
            subscription_ = *again.value();
          }
          if (subscription_.position_database_id.empty() ||
              subscription_.position_database_id == db_->storage().database_id()) {
            return std::make_shared<SubscriptionCursor>(subscription_.last_etag);
          }
          // Another member's etags are another order. The subscription's
          // start point ("LastDocument" or a change vector, given on another
          // member) is its change vector: what it covers is not wanted, and
          // is skipped. The acknowledged change vector is not a position
          // (a document that reached the other member late, or that it
          // replaced before reading it, may be covered by it without having
          // been delivered: README); what the acknowledgements recorded as
          // delivered, id by id, is: this member scans from the start point
          // and skips a document only when the version here is covered by
          // the one delivered for its id.
          const bool acknowledged = !subscription_.last_ack_time.empty();
          const std::string& start =
              acknowledged ? subscription_.start_change_vector : subscription_.change_vector;
          log::warn(acknowledged ? "subscription position is another member's: from the start point, skipping what was delivered"
                                 : "subscription start point is another member's: from its change vector")
              .kv("database", db_->name())
              .kv("subscription", subscription_.name)
              .kv("from_start_change_vector", !start.empty());
          return std::make_shared<SubscriptionCursor>(0, start, /*skip_delivered=*/true);
        },
        &cursor_);
    if (admission == SubscriptionConnections::Admission::InUse) {
      stream_->write(connection_status_json("InUse", "Subscription '" + subscription_.name +
                                                         "' is in use by another worker and the strategy is not TakeOver"))
          .ignore_error();
      return;
    }
    if (admission == SubscriptionConnections::Admission::Closed) return;
    const std::uint64_t listener =
        db_->storage().add_commit_listener([this](std::uint64_t last) { waiter_.on_commit(last); });
    if (stream_->write(json::serialize(json::object{{"Type", "ConnectionStatus"}, {"Status", "Accepted"}})).ok()) {
      log::info("subscription worker connected")
          .kv("database", db_->name())
          .kv("subscription", subscription_.name)
          .kv("peer", stream_->peer());
      serve_batches();
    }
    db_->storage().remove_commit_listener(listener);
    registry.leave(db_->name(), subscription_.name, registration);
  }

 private:
  // The batch loop; returns when the connection ends. A batch this worker
  // got but did not acknowledge goes back to the cursor for the next worker.
  void serve_batches() {
    std::uint64_t lease = 0;
    serve_batches(&lease);
    if (lease != 0) cursor_->abandoned(lease);
  }

  void serve_batches(std::uint64_t* lease) {
    for (;;) {
      if (stream_->closed() || !database_still_here() || !responsible_here()) return;
      Batch batch;
      auto scan = cursor_->next(
          [&](std::uint64_t after, std::uint64_t upto) -> Result<SubscriptionCursor::Scan> {
            auto read = read_batch(after, upto);
            if (!read.ok()) return read.status();
            batch = std::move(read).value();
            return SubscriptionCursor::Scan{batch.scanned_to, batch.documents};
          },
          lease);
      if (!scan.ok()) {
        stream_->write(error_json("System.Exception", scan.status().to_string())).ignore_error();
        return;
      }
      if (batch.documents == 0) {
        if (options_.close_when_no_docs_left) {
          stream_->write(connection_status_json("Closed", "No documents left to send (CloseWhenNoDocsLeft)")).ignore_error();
          return;
        }
        if (!waiter_.wait_past(batch.scanned_to, kHeartbeatInterval) && !stream_->write(kHeartbeat).ok()) return;
        continue;
      }
      batch.lease = *lease;
      if (!stream_->write(batch.bytes).ok()) return;
      if (!await_acknowledge(batch)) return;
      *lease = 0;
    }
  }

  // A takeover skips what the other member's acknowledgements recorded as
  // delivered: first apply everything the cluster committed, so that its last
  // acknowledgements are not missed. Without a barrier in time (no leader)
  // it goes on: what it missed is delivered again, never skipped.
  void catch_up_with_cluster() {
    auto done = std::make_shared<std::promise<Status>>();
    auto result = done->get_future();
    store_.cluster().read_barrier([done](Status s) { done->set_value(s); });
    const bool ready = result.wait_for(kTakeoverBarrierTimeout) == std::future_status::ready;
    const Status s = ready ? result.get() : Status::Timeout("no read barrier in time");
    if (!s.ok()) {
      log::warn("subscription takeover without a read barrier: the last batches acknowledged on the other member may come again")
          .kv("database", db_->name())
          .kv("subscription", subscription_.name)
          .kv("error", s.to_string());
    }
  }

  // One member of the database group serves a subscription
  // (responsible_node.h); the others redirect the worker (ConnectionStatus
  // Redirect).
  bool responsible_here() {
    auto record = store_.cluster().state().record(db_->name());
    if (!record) return true;  // database_still_here() reports it
    const std::string responsible = responsible_node(*record, subscription_);
    const std::string me = store_.node_tag();
    if (responsible.empty() || responsible == me) return true;
    const std::string reason = "Subscription '" + subscription_.name + "' is served by node " + responsible;
    // The clients read the tags in camelCase (npm) or PascalCase: both are sent.
    json::object data{{"RedirectedTag", responsible}, {"CurrentTag", me},
                      {"Reasons", json::object{{me, reason}}}, {"redirectedTag", responsible},
                      {"currentTag", me}, {"reasons", json::object{{me, reason}}}};
    stream_->write(json::serialize(json::object{{"Type", "ConnectionStatus"},
                                                {"Status", "Redirect"},
                                                {"Message", reason},
                                                {"Data", std::move(data)}}))
        .ignore_error();
    return false;
  }

  bool database_still_here() {
    auto current = store_.databases().get(db_->name());
    if (current == db_) return true;
    const std::string msg = "Database '" + db_->name() + "' is no longer served here";
    stream_->write(error_json("Raven.Client.Exceptions.Database.DatabaseDoesNotExistException: " + msg, msg))
        .ignore_error();
    return false;
  }

  // The documents in (after, upto] that the query takes, up to the worker's
  // MaxDocsPerBatch and about kMaxBatchBytes.
  Result<Batch> read_batch(std::uint64_t after, std::uint64_t upto) {
    Batch b;
    b.scanned_to = after;
    std::optional<storage::ChangeVector> skip_up_to;
    if (!cursor_->skip_up_to().empty()) {
      auto parsed = storage::ChangeVector::parse(cursor_->skip_up_to());
      if (parsed.ok()) skip_up_to = std::move(parsed).value();
    }
    const auto& storage = db_->storage();
    std::set<std::string> included;  // lowered ids already in this batch's includes
    json::object includes;
    std::vector<std::string> counter_documents;  // delivered ids whose counters go with them
    for (;;) {
      auto changes = storage.changes_since(b.scanned_to, kScanStep);
      if (!changes.ok()) return changes.status();
      if (changes.value().empty()) break;
      bool full = false;
      for (const auto& change : changes.value()) {
        const std::uint64_t etag = std::visit([](const auto& c) { return c.etag; }, change);
        if (etag > upto) {
          full = true;
          break;
        }
        const auto* doc = std::get_if<storage::Document>(&change);
        if (!doc) {
          b.scanned_to = std::get<storage::Tombstone>(change).etag;
          continue;
        }
        auto match = query_->matches(*doc);
        if (!match.ok()) return match.status();
        b.scanned_to = doc->etag;
        if (!match.value()) continue;
        if (skip_up_to) {
          auto cv = storage::ChangeVector::parse(doc->change_vector);
          if (cv.ok()) {
            const auto order = cv.value().compare(*skip_up_to);
            if (order == storage::ChangeVectorOrder::Older || order == storage::ChangeVectorOrder::Equal) continue;
          }
        }
        if (cursor_->skip_delivered()) {
          auto delivered = store_.cluster().state().delivered_change_vector(db_->name(), subscription_.id, doc->id);
          // A failed read is an error, never a skipped document.
          if (!delivered.ok()) return delivered.status();
          if (delivered.value() && delivered_covers(*delivered.value(), doc->change_vector)) continue;
        }
        b.bytes += R"({"Type":"Data","Data":)";
        b.bytes += doc->json;
        b.bytes += '}';
        b.last_change_vector = doc->change_vector;
        b.delivered.push_back({doc->id, doc->change_vector});
        ++b.documents;
        if (query_->has_includes()) {
          auto add = add_includes(*doc, included, includes);
          if (!add.ok()) return add;
        }
        if (query_->includes_counters()) counter_documents.push_back(doc->id);
        if (b.documents >= options_.max_docs || b.bytes.size() >= kMaxBatchBytes) {
          full = true;
          break;
        }
      }
      if (full || changes.value().size() < kScanStep) break;
    }
    if (b.documents > 0) {
      if (!includes.empty()) {
        b.bytes += json::serialize(json::object{{"Type", "Includes"}, {"Includes", std::move(includes)}});
      }
      if (!counter_documents.empty()) {
        if (Status s = append_counter_includes(counter_documents, b.bytes); !s.ok()) return s;
      }
      b.bytes += R"({"Type":"EndOfBatch"})";
    }
    return b;
  }

  // RavenDB's CounterIncludes message: each delivered document's counters
  // ({id: [CounterDetail or null...]}) and IncludedCounterNames ({id: names},
  // [] meaning all), which the batch's sessions register so that reading
  // those counters needs no request.
  Status append_counter_includes(const std::vector<std::string>& ids, std::string& out) {
    const std::vector<std::string> names =
        query_->includes_all_counters() ? std::vector<std::string>{std::string(handlers::kAllCounters)}
                                        : query_->included_counter_names();
    std::vector<std::pair<std::string, std::vector<std::string>>> wanted;
    json::object included_names;
    for (const auto& id : ids) {
      json::array listed;
      if (!query_->includes_all_counters())
        for (const auto& n : names) listed.emplace_back(n);
      included_names[id] = std::move(listed);
      wanted.emplace_back(id, names);
    }
    out += R"({"Type":"CounterIncludes","CounterIncludes":)";
    if (Status s = handlers::append_counter_includes(db_->storage(), wanted, out); !s.ok()) return s;
    out += ",\"IncludedCounterNames\":" + json::serialize(included_names) + "}";
    return Status::Ok();
  }

  Status add_includes(const storage::Document& doc, std::set<std::string>& seen, json::object& includes) {
    std::vector<std::string> wanted;
    for (auto& id : query_->included_ids(doc)) {
      if (seen.insert(storage::lower_id(id)).second) wanted.push_back(std::move(id));
    }
    if (wanted.empty()) return Status::Ok();
    auto docs = db_->storage().get_many(wanted);
    if (!docs.ok()) return docs.status();
    for (const auto& d : docs.value()) {
      if (!d) continue;
      boost::system::error_code ec;
      auto v = json::parse(d->json, ec);
      if (ec) return Status::Corruption("document '" + d->id + "' is not JSON");
      includes[d->id] = std::move(v);
    }
    return Status::Ok();
  }

  // Waits for the worker's Acknowledge, records the position through Rachis
  // and confirms. False when the connection ends.
  // Takes the batch's delivered pairs into the acknowledgement.
  bool await_acknowledge(Batch& batch) {
    const auto deadline = std::chrono::steady_clock::now() + kAcknowledgeTimeout;
    json::value message;
    for (;;) {
      auto read = stream_->read_value(std::chrono::seconds(5));
      if (read.ok()) {
        message = std::move(read).value();
        break;
      }
      if (read.status().code() != StatusCode::Timeout || std::chrono::steady_clock::now() > deadline) return false;
      // A worker thinking for long must not keep a closed or deleted database open.
      if (!database_still_here()) return false;
    }
    const std::string type = message.is_object() ? get_string(message.as_object(), "Type") : std::string();
    if (type != "Acknowledge") {
      if (type != "DisposedNotification") {
        stream_->write(error_json("System.InvalidOperationException",
                                  "expected an Acknowledge, got '" + (type.empty() ? json::serialize(message) : type) + "'"))
            .ignore_error();
      }
      return false;
    }
    rachis::cluster::AcknowledgeSubscriptionBatchCommand cmd;
    cmd.database = db_->name();
    cmd.name = subscription_.name;
    cmd.id = subscription_.id;
    // Several workers (Concurrent) acknowledge out of order: what is recorded
    // is the cursor's floor, below every batch still out.
    cmd.last_etag = cursor_->floor_without(batch.lease);
    cmd.database_id = db_->storage().database_id();
    cmd.change_vector = batch.last_change_vector;
    cmd.ack_time = storage::format_iso8601(storage::SystemClock().now_micros());
    if (auto record = store_.cluster().state().record(db_->name());
        record && records_delivered(*record, store_.cluster().state().topology())) {
      cmd.delivered = std::move(batch.delivered);
    }
    auto done = std::make_shared<std::promise<Status>>();
    auto result = done->get_future();
    store_.cluster().execute(cmd, [done](rachis::cluster::CommandResult r, rachis::core::Index) {
      done->set_value(r.status);
    });
    if (result.wait_for(kClusterTimeout) != std::future_status::ready) {
      stream_->write(error_json("System.TimeoutException", "the acknowledgement was not recorded in time")).ignore_error();
      return false;
    }
    const Status s = result.get();
    if (s.is_not_found()) {
      stream_->write(connection_status_json("NotFound", s.message())).ignore_error();
      return false;
    }
    if (!s.ok()) {
      stream_->write(error_json("System.Exception", "the acknowledgement was not recorded: " + s.to_string())).ignore_error();
      return false;
    }
    cursor_->acknowledged(batch.lease);
    return stream_->write(R"({"Type":"Confirm"})").ok();
  }

  ServerStore& store_;
  std::shared_ptr<tcp::TcpJsonStream> stream_;
  tcp::TcpConnectionHeader header_;
  WorkerOptions options_;
  std::shared_ptr<DocumentDatabase> db_;
  rachis::cluster::SubscriptionRecord subscription_;
  std::shared_ptr<const SubscriptionQuery> query_;
  CommitWaiter waiter_;
  std::shared_ptr<SubscriptionCursor> cursor_;
};

}  // namespace

std::vector<std::int64_t> SubscriptionTcpHandler::versions() const {
  return {kTcpConnectionsWithCompression, kSubscriptionTimeSeriesIncludes, kSubscriptionCounterIncludes,
          kSubscriptionIncludes, kSubscriptionBaseLine};
}

void SubscriptionTcpHandler::serve(std::shared_ptr<tcp::TcpJsonStream> stream, const tcp::TcpConnectionHeader& header) {
  Connection(store_, std::move(stream), header).run();
}

}  // namespace corvus::server::subscriptions
