#include "replication/incoming_replication.h"

#include <chrono>
#include <future>

#include "storage/replication_items.h"

namespace corvus::replication {
IncomingReplication::IncomingReplication(storage::DocumentsStorage& storage, ReplicationIdentity identity,
                                         PolicyFn policy, SourceSent source_sent, std::unique_ptr<FrameSocket> socket,
                                         Handshake handshake, ItemFilter filter, std::function<Status()> permitted)
    : storage_(storage),
      identity_(std::move(identity)),
      policy_(std::move(policy)),
      source_sent_(std::move(source_sent)),
      filter_(std::move(filter)),
      permitted_(std::move(permitted)),
      socket_(std::move(socket)),
      handshake_(std::move(handshake)) {
  status_.source = handshake_.from;
  status_.source_database_id = handshake_.source_database_id;
  status_.connected_at_us = wall_clock_us();
  status_.last_heard_us = status_.connected_at_us;
  thread_ = std::thread([this] { run(); });
}

IncomingReplication::~IncomingReplication() { stop(); }

void IncomingReplication::stop() {
  stopping_ = true;
  socket_->shutdown();
  if (thread_.joinable()) thread_.join();
}

IncomingStatus IncomingReplication::status() const {
  std::lock_guard lock(status_mu_);
  return status_;
}

void IncomingReplication::log(const char* level, const std::string& message) const {
  if (identity_.log) {
    identity_.log(level, "replication of " + identity_.database + " from " + handshake_.from + ": " + message);
  }
}

void IncomingReplication::run() {
  Status s = serve();
  if (!stopping_ && s.code() != StatusCode::IOError && s.code() != StatusCode::Timeout) {
    // Tell the source why (a malformed item, a storage failure): it logs it.
    (void)socket_->send(frames::kRefusal, s.to_string());
  }
  if (!stopping_) log("info", "connection ended: " + s.to_string());
  socket_->shutdown();
  finished_ = true;
}

Position IncomingReplication::position() const {
  auto published = storage_.published();
  std::lock_guard lock(status_mu_);
  return Position{status_.last_accepted_etag, std::move(published.database_change_vector)};
}

Result<Frame> IncomingReplication::next_frame() {
  for (;;) {
    // The source beats twice a second while idle; silence means it is gone.
    auto f = socket_->receive(OutgoingReplication::kSilenceLimit);
    if (!f.ok()) return f.status();
    {
      std::lock_guard lock(status_mu_);
      status_.last_heard_us = wall_clock_us();
    }
    if (f->kind != frames::kHeartbeat) return f;
    if (Status s = socket_->send(frames::kHeartbeat, ""); !s.ok()) return s;
  }
}

Status IncomingReplication::serve() {
  auto accepted = storage::incoming_position(storage_, handshake_.source_database_id);
  if (!accepted.ok()) return accepted.status();
  {
    std::lock_guard lock(status_mu_);
    status_.last_accepted_etag = *accepted;
  }
  if (Status s = socket_->send(frames::kPosition, encode(position())); !s.ok()) return s;
  while (!stopping_) {
    auto f = next_frame();
    if (!f.ok()) return f.status();
    if (f->kind != frames::kBatch) return Status::InvalidArgument(std::string("unexpected frame '") + f->kind + "'");
    auto header = decode_batch(f->payload);
    if (!header.ok()) return header.status();
    if (permitted_) {
      if (Status s = permitted_(); !s.ok()) return s;
    }
    if (Status s = receive_batch(*header); !s.ok()) return s;
  }
  return Status::ShuttingDown("stopping");
}

Result<std::unique_ptr<storage::BlobStore::Pin>> IncomingReplication::receive_attachment(const std::string& hash,
                                                                                          uint64_t* bytes) {
  auto upload = storage_.blob_store()->begin_upload();
  if (!upload.ok()) return upload.status();
  for (;;) {
    auto f = next_frame();
    if (!f.ok()) return f.status();
    if (f->kind != frames::kChunk) return Status::InvalidArgument("expected attachment bytes for " + hash);
    if (f->payload.empty()) break;
    if (Status s = (*upload)->append(f->payload); !s.ok()) return s;
    *bytes += f->payload.size();
  }
  auto stored = (*upload)->finish();
  if (!stored.ok()) return stored.status();
  if (stored->hash != hash) {
    return Status::InvalidArgument("attachment bytes sent for " + hash + " hash to " + stored->hash);
  }
  return std::move(stored->pin);
}

Status IncomingReplication::receive_batch(const BatchHeader& header) {
  BatchRecord record;
  record.started_us = wall_clock_us();
  record.last_etag = header.last_etag;
  const auto started = std::chrono::steady_clock::now();
  // Pins keep received bytes until the items referencing them are committed.
  std::vector<std::unique_ptr<storage::BlobStore::Pin>> pins;
  if (!header.hashes.empty()) {
    std::vector<std::string> wanted;
    for (const auto& hash : header.hashes) {
      if (auto pin = storage_.blob_store()->pin(hash); storage_.blob_store()->open_blob(hash).ok()) {
        pins.push_back(std::move(pin));
      } else {
        wanted.push_back(hash);
      }
    }
    if (Status s = socket_->send(frames::kWanted, encode_hashes(wanted)); !s.ok()) return s;
    for (const auto& hash : wanted) {
      auto pin = receive_attachment(hash, &record.attachment_bytes);
      if (!pin.ok()) return pin.status();
      pins.push_back(std::move(pin).value());
    }
  }
  std::vector<storage::ReplicationItem> items;
  items.reserve(header.items);
  for (uint64_t i = 0; i < header.items; ++i) {
    auto f = next_frame();
    if (!f.ok()) return f.status();
    if (f->kind != frames::kItem) return Status::InvalidArgument("expected a replication item");
    auto item = decode_item(f->payload);
    if (!item.ok()) return item.status();
    record.bytes += item->payload.size();
    if (filter_ && !filter_(*item)) continue;  // not this source's to send: dropped
    items.push_back(std::move(item).value());
  }
  record.items = items.size();
  if (source_sent_) source_sent_(handshake_.from, items);
  const auto policy = policy_ ? policy_() : storage::ConflictPolicy::ResolveToLatest;
  uint64_t conflicts = 0;  // the transaction is waited for below, so it may write here
  auto done = std::make_shared<std::promise<Status>>();
  auto durable = done->get_future();
  storage_.submit(
      [this, &items, &header, policy, &conflicts](storage::WriteTransaction& txn) -> Status {
        conflicts = 0;
        for (const auto& item : items) {
          auto outcome = storage::apply_replication_item(txn, item, policy);
          if (!outcome.ok()) return outcome.status();
          if (*outcome == storage::ReplicatedOutcome::IncomingWon || *outcome == storage::ReplicatedOutcome::LocalWon ||
              *outcome == storage::ReplicatedOutcome::Conflicted) {
            ++conflicts;
          }
        }
        if (!header.complete_change_vector.empty()) {
          auto cv = storage::ChangeVector::parse(header.complete_change_vector);
          if (!cv.ok()) return cv.status();
          txn.note_change_vector(*cv);
        }
        storage::set_incoming_position(txn, handshake_.source_database_id, header.last_etag);
        return Status::Ok();
      },
      [done](Status s) { done->set_value(std::move(s)); });
  // Applying a large batch may take a while: keep the source from timing out.
  while (durable.wait_for(OutgoingReplication::kHeartbeatEvery) != std::future_status::ready) {
    if (Status s = socket_->send(frames::kHeartbeat, ""); !s.ok()) {
      durable.wait();  // the transaction references `items`
      return s;
    }
  }
  if (Status s = durable.get(); !s.ok()) return s;
  pins.clear();
  record.duration_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started).count();
  {
    std::lock_guard lock(status_mu_);
    status_.last_accepted_etag = header.last_etag;
    status_.conflicts += conflicts;
    status_.recent.add(record);
  }
  return socket_->send(frames::kAck, encode(position()));
}

}  // namespace corvus::replication
