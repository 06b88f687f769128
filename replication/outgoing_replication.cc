#include "replication/outgoing_replication.h"

#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <deque>
#include <set>

#include "storage/change_vector.h"
#include "storage/replication_items.h"

namespace corvus::replication {
namespace {

constexpr auto kConnectTimeout = std::chrono::seconds(2);

}  // namespace

OutgoingReplication::OutgoingReplication(storage::DocumentsStorage& storage, ReplicationIdentity identity,
                                         std::string peer_tag, std::string peer_address, RedialBackoff backoff)
    : OutgoingReplication(storage, identity, std::move(peer_tag), peer_address,
                          OutgoingOptions{[peer_address, dial = identity.dial_peer] {
                                            if (dial) return dial(peer_address);
                                            return FrameSocket::connect(peer_address, kConnectTimeout);
                                          },
                                          nullptr, nullptr, {}, nullptr, false, backoff}) {}

OutgoingReplication::OutgoingReplication(storage::DocumentsStorage& storage, ReplicationIdentity identity,
                                         std::string peer_tag, std::string peer_address, OutgoingOptions options)
    : storage_(storage),
      identity_(std::move(identity)),
      peer_tag_(std::move(peer_tag)),
      peer_address_(std::move(peer_address)),
      options_(std::move(options)) {
  wake_fd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  status_.destination = peer_tag_;
  status_.address = peer_address_;
  thread_ = std::thread([this] { run(); });
}

OutgoingReplication::~OutgoingReplication() {
  stop();
  if (wake_fd_ >= 0) ::close(wake_fd_);
}

void OutgoingReplication::notify() {
  const uint64_t one = 1;
  [[maybe_unused]] ssize_t r = ::write(wake_fd_, &one, sizeof one);
}

void OutgoingReplication::peer_sent(const std::vector<storage::ReplicationItem>& items) {
  std::lock_guard lock(status_mu_);
  for (const auto& item : items) sent_by_peer_.add(item);
}

void OutgoingReplication::redial_now() { redial_now_ = true; }

void OutgoingReplication::stop() {
  stopping_ = true;
  notify();
  {
    std::lock_guard lock(socket_mu_);
    if (socket_) socket_->shutdown();
  }
  if (thread_.joinable()) thread_.join();
}

OutgoingStatus OutgoingReplication::status() const {
  std::lock_guard lock(status_mu_);
  return status_;
}

void OutgoingReplication::log(const char* level, const std::string& message) const {
  if (identity_.log) {
    identity_.log(level, "replication of " + identity_.database + " to " + peer_tag_ + ": " + message);
  }
}

void OutgoingReplication::heard() {
  std::lock_guard lock(status_mu_);
  status_.last_heard_us = wall_clock_us();
}

void OutgoingReplication::run() {
  RedialWait redial_wait(options_.backoff);
  std::string last_logged;
  while (!stopping_) {
    const auto started = std::chrono::steady_clock::now();
    // A call before this dial is answered by it.
    redial_now_ = false;
    Status s = run_connection();
    {
      std::lock_guard lock(status_mu_);
      status_.connected = false;
      if (!stopping_) status_.last_error = s.to_string();
    }
    if (stopping_) break;
    if (options_.once) {
      log("info", "connection ended: " + s.to_string());
      break;
    }
    if (s.to_string() != last_logged) log("info", "connection ended: " + s.to_string());
    last_logged = s.to_string();
    const auto until = std::chrono::steady_clock::now() + redial_wait.after(std::chrono::steady_clock::now() - started);
    while (!stopping_ && !redial_now_ && std::chrono::steady_clock::now() < until) {
      std::this_thread::sleep_for(std::min<std::chrono::steady_clock::duration>(
          std::chrono::milliseconds(20), until - std::chrono::steady_clock::now()));
    }
    if (redial_now_) redial_wait.start_over();
  }
  finished_ = true;
}

Result<Frame> OutgoingReplication::next_frame(FrameSocket& socket) {
  for (;;) {
    auto f = socket.receive(kSilenceLimit);
    if (!f.ok()) {
      if (f.status().code() == StatusCode::Timeout) {
        return Status::Timeout("no word from " + peer_tag_ + " for " + std::to_string(kSilenceLimit.count()) + " s");
      }
      return f.status();
    }
    heard();
    if (f->kind == frames::kHeartbeat) continue;
    if (f->kind == frames::kRefusal) return Status::Busy("refused by " + peer_tag_ + ": " + f->payload);
    return f;
  }
}

Status OutgoingReplication::run_connection() {
  auto dialed = options_.dial();
  if (!dialed.ok()) return dialed.status();
  std::unique_ptr<FrameSocket> socket = std::move(dialed).value();
  {
    std::lock_guard lock(socket_mu_);
    if (stopping_) return Status::ShuttingDown("stopping");
    socket_ = socket.get();
  }
  struct Forget {
    OutgoingReplication* self;
    ~Forget() {
      std::lock_guard lock(self->socket_mu_);
      self->socket_ = nullptr;
    }
  } forget{this};

  Handshake hello{kProtocolVersion, identity_.cluster_id, identity_.node_tag, peer_tag_, identity_.database,
                  storage_.database_id()};
  if (Status s = socket->send(frames::kHandshake, encode(hello)); !s.ok()) return s;
  auto answer = next_frame(*socket);
  if (!answer.ok()) return answer.status();
  if (answer->kind != frames::kPosition) return Status::Corruption("expected a position from " + peer_tag_);
  auto position = decode_position(answer->payload);
  if (!position.ok()) return position.status();
  uint64_t sent = position->last_etag_accepted;
  {
    std::lock_guard lock(status_mu_);
    status_.connected = true;
    status_.last_error.clear();
    status_.last_sent_etag = sent;
    status_.last_acknowledged_etag = sent;
    status_.destination_change_vector = position->database_change_vector;
  }
  // Batches sent and not yet acknowledged, oldest first: while the peer
  // applies one, the next is read and sent (a window of kWindow).
  std::deque<InFlight> in_flight;
  complete_sent_ = 0;
  position_owed_ = false;
  auto last_sent_at = std::chrono::steady_clock::now();
  while (!stopping_) {
    if (options_.permitted) {
      if (Status s = options_.permitted(); !s.ok()) return s;
    }
    if (in_flight.size() >= kWindow) {
      if (Status s = await_ack(*socket, in_flight); !s.ok()) return s;
      continue;
    }
    if (!backlog_) {
      const auto since = std::chrono::steady_clock::now() - last_batch_at_;
      if (since < kLinger) std::this_thread::sleep_for(kLinger - since);
    }
    bool sent_any = false;
    if (Status s = send_batch(*socket, sent, in_flight, &sent_any); !s.ok()) return s;
    if (sent_any) {
      last_sent_at = std::chrono::steady_clock::now();
      continue;
    }
    if (!in_flight.empty()) {
      if (Status s = await_ack(*socket, in_flight); !s.ok()) return s;
      continue;
    }
    // Idle: wait for a commit, a frame of the peer, the time to beat, or the
    // time to send a position we owe.
    const auto now = std::chrono::steady_clock::now();
    auto wait = kHeartbeatEvery - (now - last_sent_at);
    if (position_owed_) {
      wait = std::min(wait, std::max<std::chrono::steady_clock::duration>(kQuietPositionEvery - (now - last_batch_at_),
                                                                          std::chrono::milliseconds(1)));
    }
    if (wait > std::chrono::milliseconds(0)) {
      auto f = socket->receive(std::chrono::duration_cast<std::chrono::milliseconds>(wait), wake_fd_);
      if (f.ok()) {
        heard();
        if (f->kind == frames::kRefusal) return Status::Busy("refused by " + peer_tag_ + ": " + f->payload);
        if (f->kind != frames::kHeartbeat) return Status::Corruption("unexpected frame from " + peer_tag_);
      } else if (f.status().code() != StatusCode::Busy && f.status().code() != StatusCode::Timeout) {
        return f.status();
      }
      continue;
    }
    if (Status s = socket->send(frames::kHeartbeat, ""); !s.ok()) return s;
    last_sent_at = std::chrono::steady_clock::now();
    std::lock_guard lock(status_mu_);
    if (std::chrono::microseconds(wall_clock_us() - status_.last_heard_us) > kSilenceLimit) {
      return Status::Timeout("no word from " + peer_tag_ + " for " + std::to_string(kSilenceLimit.count()) + " s");
    }
  }
  return Status::ShuttingDown("stopping");
}

Status OutgoingReplication::await_ack(FrameSocket& socket, std::deque<InFlight>& in_flight) {
  auto ack = next_frame(socket);
  if (!ack.ok()) return ack.status();
  if (ack->kind != frames::kAck) return Status::Corruption("expected an acknowledgement from " + peer_tag_);
  auto position = decode_position(ack->payload);
  if (!position.ok()) return position.status();
  InFlight done = std::move(in_flight.front());
  in_flight.pop_front();
  if (position->last_etag_accepted != done.record.last_etag) {
    return Status::Corruption(peer_tag_ + " acknowledged etag " + std::to_string(position->last_etag_accepted) +
                              ", expected " + std::to_string(done.record.last_etag));
  }
  done.record.duration_ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - done.started).count();
  std::lock_guard lock(status_mu_);
  status_.last_acknowledged_etag = std::max(status_.last_acknowledged_etag, position->last_etag_accepted);
  status_.destination_change_vector = position->database_change_vector;
  status_.recent.add(done.record);
  return Status::Ok();
}

Status OutgoingReplication::send_batch(FrameSocket& socket, uint64_t& sent, std::deque<InFlight>& in_flight,
                                       bool* sent_any) {
  // The change vector first, then the items: the items' snapshot then holds
  // at least everything that change vector stands for.
  const auto before = storage_.published();
  auto read = storage::read_replication_items(storage_, sent, kMaxBatchItems, kMaxBatchBytes);
  if (!read.ok()) return read.status();
  backlog_ = read->more;
  bool held_back = false;
  if (options_.send_limit) {
    const uint64_t limit = options_.send_limit();
    if (read->scanned_to > limit) {
      std::erase_if(read->items, [&](const storage::ReplicationItem& item) { return item.etag > limit; });
      read->scanned_to = read->items.empty() ? sent : read->items.back().etag;
      held_back = true;
    }
  }
  const auto now = std::chrono::steady_clock::now();
  const bool quiet_due = now - last_batch_at_ >= kQuietPositionEvery;
  if (read->scanned_to <= sent) {
    // Nothing new, but the peer may not have our change vector as it is now
    // (a batch read before its commit was published carried an older one, or
    // none), or our position moved past items it did not need. An empty batch
    // brings both, so the peer's change vector ends up containing ours (what
    // the supervisor's "caught up" reads); not more often than
    // kQuietPositionEvery (run_connection's idle wait comes back for it).
    const bool cv_owed =
        !options_.filter && !held_back && before.last_etag <= sent && complete_sent_ < before.last_etag;
    position_owed_ = position_owed_ || cv_owed;
    *sent_any = position_owed_ && quiet_due;
    if (!*sent_any) return Status::Ok();
  }
  std::vector<const storage::ReplicationItem*> items;
  std::set<std::string> hashes;
  uint64_t bytes = 0;
  std::unique_lock sent_by_peer_lock(status_mu_);
  for (const auto& item : read->items) {
    if (sent_by_peer_.contains(item)) continue;
    if (options_.filter && !options_.filter(item)) continue;
    items.push_back(&item);
    bytes += item.payload.size();
    if (!item.attachment_hash.empty()) hashes.insert(item.attachment_hash);
  }
  sent_by_peer_lock.unlock();
  if (items.empty() && read->scanned_to > sent && !quiet_due) {
    // Nothing here the peer lacks (all its own items, or filtered, or held
    // back): a batch would cost it a transaction for a position alone. Read
    // on; the position goes with the next batch, or after kQuietPositionEvery.
    sent = read->scanned_to;
    position_owed_ = true;
    *sent_any = true;
    return Status::Ok();
  }
  if (!hashes.empty() && !in_flight.empty()) {
    // The peer answers which bytes it lacks only after the batches before;
    // keep it simple: no window for batches with attachments.
    *sent_any = true;
    while (!in_flight.empty()) {
      if (Status s = await_ack(socket, in_flight); !s.ok()) return s;
    }
    return Status::Ok();  // read again: the acknowledgements told us more
  }
  *sent_any = true;
  BatchHeader header;
  header.items = items.size();
  header.last_etag = std::max(read->scanned_to, sent);
  header.hashes.assign(hashes.begin(), hashes.end());
  if (!options_.filter && !held_back && std::max(read->scanned_to, sent) >= before.last_etag) {
    header.complete_change_vector = before.database_change_vector;
    complete_sent_ = before.last_etag;
  }

  InFlight batch;
  batch.started = std::chrono::steady_clock::now();
  batch.record.started_us = wall_clock_us();
  batch.record.items = items.size();
  batch.record.bytes = bytes;
  batch.record.last_etag = header.last_etag;
  if (Status s = socket.send(frames::kBatch, encode(header)); !s.ok()) return s;
  if (!header.hashes.empty()) {
    auto wanted = next_frame(socket);
    if (!wanted.ok()) return wanted.status();
    if (wanted->kind != frames::kWanted) return Status::Corruption("expected wanted hashes from " + peer_tag_);
    auto list = decode_hashes(wanted->payload);
    if (!list.ok()) return list.status();
    for (const auto& hash : *list) {
      if (!hashes.count(hash)) return Status::Corruption(peer_tag_ + " wants a hash the batch does not have");
      if (Status s = send_attachment(socket, hash, &batch.record.attachment_bytes); !s.ok()) return s;
    }
  }
  // The items leave in writes of about 256 KB, not one system call each.
  std::string pending;
  for (const auto* item : items) {
    FrameSocket::append_frame(pending, frames::kItem, encode(*item));
    if (pending.size() >= kWriteBytes) {
      if (Status s = socket.send_frames(pending); !s.ok()) return s;
      pending.clear();
    }
  }
  if (!pending.empty()) {
    if (Status s = socket.send_frames(pending); !s.ok()) return s;
  }
  sent = header.last_etag;
  last_batch_at_ = now;
  position_owed_ = false;
  in_flight.push_back(std::move(batch));
  std::lock_guard lock(status_mu_);
  status_.last_sent_etag = sent;
  return Status::Ok();
}

Status OutgoingReplication::send_attachment(FrameSocket& socket, const std::string& hash, uint64_t* bytes) {
  auto blob = storage_.blob_store()->open_blob(hash);
  if (!blob.ok()) return blob.status();
  std::string chunk;
  for (uint64_t offset = 0; offset < (*blob)->size();) {
    chunk.resize(std::min<uint64_t>(kChunkBytes, (*blob)->size() - offset));
    auto n = (*blob)->read_at(offset, chunk.data(), chunk.size());
    if (!n.ok()) return n.status();
    if (*n == 0) return Status::IOError("attachment " + hash + " is shorter than its size");
    chunk.resize(*n);
    if (Status s = socket.send(frames::kChunk, chunk); !s.ok()) return s;
    offset += *n;
    *bytes += *n;
  }
  return socket.send(frames::kChunk, "");
}

}  // namespace corvus::replication
