// ChangesFeed: see changes_feed.h.

#include "server/changes/changes_feed.h"

#include <chrono>
#include <type_traits>
#include <variant>
#include <vector>

#include "server/logging/logger.h"
#include "storage/documents_storage.h"
#include "storage/replication_items.h"
#include "storage/replication_payloads.h"

namespace corvus::server::changes {

namespace {
// Entries read per snapshot: bounds the feed's memory, not what it delivers.
constexpr size_t kReadBatch = 1024;
constexpr size_t kReadBytes = 4 * 1024 * 1024;
// After a failed read, the next attempt (the watchers were told and closed).
constexpr auto kRetryAfterError = std::chrono::seconds(1);

std::string collection_or_empty(const std::string& collection) {
  return collection.empty() ? "@empty" : collection;
}

// The event of one entry of the etag order; nullptr for entries the Changes
// API does not tell (attachments, revisions). Counters name their document by
// its lowered id: the document gives its casing and collection.
Result<std::shared_ptr<const ChangeEvent>> to_event(const storage::DocumentsStorage& storage,
                                                    const storage::ReplicationItem& item) {
  auto event = std::make_shared<ChangeEvent>();
  event->etag = item.etag;
  switch (item.kind) {
    case storage::kEtagOfDocument: {
      auto doc = storage::decode_document(item.payload);
      if (!doc.ok()) return doc.status();
      event->document_id = doc->id;
      event->collection = collection_or_empty(doc->collection);
      event->message = document_change_message("Put", doc->id, event->collection, doc->change_vector, item.etag);
      return std::shared_ptr<const ChangeEvent>(std::move(event));
    }
    case storage::kEtagOfTombstone: {
      auto t = storage::decode_tombstone(item.payload);
      if (!t.ok()) return t.status();
      event->document_id = t->id;
      event->collection = collection_or_empty(t->collection);
      event->message = document_change_message("Delete", t->id, event->collection, t->change_vector, item.etag);
      return std::shared_ptr<const ChangeEvent>(std::move(event));
    }
    case storage::kEtagOfCounter: {
      auto counter = storage::decode_counter_payload(item.payload);
      if (!counter.ok()) return counter.status();
      event->kind = ChangeEvent::Kind::Counter;
      event->document_id = counter->document_id;
      event->counter_name = counter->value.name();
      std::string change_vector;
      if (auto doc = storage.get(counter->document_id); doc.ok()) {
        event->document_id = doc->id;
        event->collection = collection_or_empty(doc->collection);
        change_vector = doc->change_vector;
      } else if (!doc.status().is_not_found()) {
        return doc.status();
      }
      const bool exists = counter->value.exists();
      // One increment since the counter was (re)created: this change created
      // it (a Put, as RavenDB says); told exactly unless two changes of the
      // counter were committed before the feed read them.
      uint64_t increments = 0;
      for (const auto& e : counter->value.entries()) increments += e.increments - e.deleted_increments;
      const char* type = !exists ? "Delete" : increments == 1 ? "Put" : "Increment";
      event->message = counter_change_message(type, event->document_id, event->collection,
                                              event->counter_name, exists ? counter->value.saturated_total() : 0,
                                              change_vector, item.etag);
      return std::shared_ptr<const ChangeEvent>(std::move(event));
    }
    default:
      return std::shared_ptr<const ChangeEvent>();
  }
}
}  // namespace

ChangesFeed::ChangesFeed() : storage_(nullptr) {}

ChangesFeed::ChangesFeed(storage::DocumentsStorage& storage) : storage_(&storage) {
  // Position first, then the hook: a commit between the two is read anyway
  // (committed_ starts at the same position and only grows).
  position_ = committed_ = storage_->published().last_etag;
  listener_id_ = storage_->add_commit_listener([this](uint64_t last_etag) {
    {
      std::lock_guard lock(mu_);
      if (last_etag <= committed_) return;
      committed_ = last_etag;
    }
    cv_.notify_one();
  });
  thread_ = std::thread([this] { run(); });
}

ChangesFeed::~ChangesFeed() { stop(); }

bool ChangesFeed::add(std::shared_ptr<ChangesWatcher> watcher, std::optional<uint64_t> after) {
  {
    std::lock_guard lock(mu_);
    if (!stopping_) {
      // The server-wide feed has no etag order to replay: a resumed
      // connection gets its watches back and the events from now on.
      if (after && storage_ != nullptr) {
        catching_up_.emplace_back(watcher, *after);
      } else {
        watchers_.emplace(watcher.get(), watcher);
      }
    }
  }
  if (after && storage_ != nullptr) cv_.notify_one();
  {
    std::lock_guard lock(mu_);
    if (!stopping_) return true;
  }
  std::string reason;
  {
    std::lock_guard lock(mu_);
    reason = stop_reason_;
  }
  watcher->feed_closed(reason);
  return false;
}

void ChangesFeed::remove(const ChangesWatcher* watcher) {
  std::lock_guard lock(mu_);
  watchers_.erase(watcher);
  std::erase_if(catching_up_, [watcher](const auto& w) { return w.first.get() == watcher; });
}

void ChangesFeed::park(const std::string& connection_id, WatchFilters filters) {
  const auto now = std::chrono::steady_clock::now();
  std::lock_guard lock(mu_);
  std::erase_if(parked_, [now](const auto& p) { return p.second.expires <= now; });
  parked_[connection_id] = Parked{std::move(filters), now + kResumeGrace};
}

std::optional<WatchFilters> ChangesFeed::unpark(const std::string& connection_id) {
  std::lock_guard lock(mu_);
  auto it = parked_.find(connection_id);
  if (it == parked_.end()) return std::nullopt;
  std::optional<WatchFilters> out;
  if (it->second.expires > std::chrono::steady_clock::now()) out = std::move(it->second.filters);
  parked_.erase(it);
  return out;
}

bool ChangesFeed::replay(ChangesWatcher& watcher, uint64_t after, uint64_t up_to) {
  uint64_t cursor = after;
  while (cursor < up_to) {
    auto events = read_events(cursor);
    if (!events.ok()) {
      watcher.feed_closed("Reading the changes failed: " + events.status().message());
      return false;
    }
    for (const auto& e : events->events) {
      if (e->etag > up_to) return true;
      watcher.offer(e);
    }
    if (!events->more || events->scanned_to <= cursor) break;
    cursor = events->scanned_to;
  }
  return true;
}

void ChangesFeed::stop(const std::string& reason) {
  std::map<const ChangesWatcher*, std::shared_ptr<ChangesWatcher>> watchers;
  {
    std::lock_guard lock(mu_);
    if (stopping_) return;
    stopping_ = true;
    stop_reason_ = reason;
    watchers.swap(watchers_);
  }
  cv_.notify_one();
  if (storage_ != nullptr) storage_->remove_commit_listener(listener_id_);
  if (thread_.joinable()) thread_.join();
  for (auto& [_, w] : watchers) w->feed_closed(reason);
}

void ChangesFeed::publish_operation(uint64_t operation_id, const boost::json::object& state) {
  auto event = std::make_shared<ChangeEvent>();
  event->kind = ChangeEvent::Kind::Operation;
  event->operation_id = operation_id;
  event->message = operation_change_message(operation_id, state);
  publish(event);
}

void ChangesFeed::publish(const std::shared_ptr<const ChangeEvent>& event) {
  std::vector<std::shared_ptr<ChangesWatcher>> watchers;
  {
    std::lock_guard lock(mu_);
    watchers.reserve(watchers_.size());
    for (auto& [_, w] : watchers_) watchers.push_back(w);
  }
  for (auto& w : watchers) w->offer(event);
}

Result<ChangesFeed::Events> ChangesFeed::read_events(uint64_t after_etag) const {
  auto items = storage::read_replication_items(*storage_, after_etag, kReadBatch, kReadBytes);
  if (!items.ok()) return items.status();
  Events out;
  out.scanned_to = items->scanned_to;
  out.more = !items->items.empty();
  for (const auto& item : items->items) {
    auto event = to_event(*storage_, item);
    if (!event.ok()) return event.status();
    if (*event) out.events.push_back(std::move(event).value());
  }
  return out;
}

void ChangesFeed::run() {
  while (true) {
    uint64_t from = 0;
    uint64_t committed = 0;
    std::vector<std::pair<std::shared_ptr<ChangesWatcher>, uint64_t>> catching_up;
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [this] { return stopping_ || committed_ > position_ || !catching_up_.empty(); });
      if (stopping_) return;
      catching_up.swap(catching_up_);
    }
    // Resumed connections: what they missed up to where the live feed is,
    // then they join it (the feed thread alone moves position_).
    for (auto& [watcher, after] : catching_up) {
      if (!replay(*watcher, after, position_)) continue;
      std::lock_guard lock(mu_);
      if (!stopping_ && !watcher->gone()) watchers_.emplace(watcher.get(), watcher);
    }
    {
      std::unique_lock lock(mu_);
      if (committed_ <= position_) continue;
      if (watchers_.empty()) {
        // Nobody to tell: skip ahead instead of reading. A watcher added
        // later gets the changes committed after it was added.
        position_ = committed_;
        continue;
      }
      from = position_;
      committed = committed_;
    }
    auto changes = read_events(from);
    if (!changes.ok()) {
      // Watchers must not silently miss changes: they are closed with the
      // reason and reconnect; the feed retries from the same position.
      log::error("changes feed: reading the database failed").kv("error", changes.status().message());
      std::vector<std::shared_ptr<ChangesWatcher>> watchers;
      {
        std::lock_guard lock(mu_);
        for (auto& [_, w] : watchers_) watchers.push_back(w);
        watchers_.clear();
      }
      for (auto& w : watchers) w->feed_closed("Reading the changes failed: " + changes.status().message());
      std::unique_lock lock(mu_);
      cv_.wait_for(lock, kRetryAfterError, [this] { return stopping_; });
      continue;
    }
    for (const auto& event : changes->events) publish(event);
    uint64_t reached = changes->scanned_to;
    // A read that found nothing saw everything up to `committed` (its
    // snapshot was taken after the hook told it).
    if (!changes->more && committed > reached) reached = committed;
    std::lock_guard lock(mu_);
    position_ = reached;
  }
}

}  // namespace corvus::server::changes
