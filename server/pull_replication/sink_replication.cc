#include "server/pull_replication/sink_replication.h"

#include "replication/messages.h"
#include "storage/replication_items.h"

namespace corvus::server::pull_replication {
namespace rc = rachis::cluster;

namespace {

constexpr auto kHandshakeTimeout = std::chrono::seconds(10);

}  // namespace

SinkReplication::SinkReplication(storage::DocumentsStorage& storage,
                                 std::shared_ptr<replication::DatabaseReplication> replication,
                                 replication::ReplicationIdentity identity, rc::SinkDefinition definition,
                                 HubTarget target, std::string own_url)
    : storage_(storage),
      replication_(std::move(replication)),
      identity_(std::move(identity)),
      definition_(std::move(definition)),
      connector_(std::make_shared<HubConnector>(std::move(target), identity_.database, storage.database_id(),
                                                std::move(own_url))),
      push_key_("sink-to-hub:" + std::to_string(definition_.task_id)) {
  if (definition_.mode & rc::kHubToSink) puller_ = std::thread([this] { pull_loop(); });
  if (definition_.mode & rc::kSinkToHub) {
    replication::OutgoingOptions options;
    options.dial = [connector = connector_] { return connector->connect(rc::kSinkToHub); };
    if (!definition_.allowed_sink_to_hub_paths.empty()) {
      options.filter = [paths = definition_.allowed_sink_to_hub_paths](const storage::ReplicationItem& item) {
        auto id = storage::replication_item_document_id(item);
        return id.ok() && rc::path_allowed(paths, *id);
      };
    }
    replication_->add_external_outgoing(push_key_, "hub " + definition_.hub_name, std::move(options));
  }
}

SinkReplication::~SinkReplication() { stop(); }

bool SinkReplication::connected() const {
  if (definition_.mode & rc::kHubToSink) {
    std::lock_guard lock(mu_);
    return current_ && !current_->finished();
  }
  for (const auto& e : replication_->externals()) {
    if (e.key == push_key_) return e.connected;
  }
  return false;
}

void SinkReplication::log(const char* level, const std::string& message) const {
  if (identity_.log) identity_.log(level, "pull replication sink '" + definition_.name + "': " + message);
}

void SinkReplication::stop() {
  if (stopping_.exchange(true)) return;
  {
    std::lock_guard lock(mu_);
    wake_.notify_all();
  }
  if (puller_.joinable()) puller_.join();
  if (definition_.mode & rc::kSinkToHub) replication_->remove_external_outgoing(push_key_);
}

void SinkReplication::pull_loop() {
  // A sink redials its hub as the group pushes redial their peers.
  replication::RedialWait redial_wait(replication::RedialBackoff{});
  std::string last_logged;
  while (!stopping_) {
    const auto started = std::chrono::steady_clock::now();
    Status ended = Status::Ok();
    auto socket = connector_->connect(rc::kHubToSink);
    if (socket.ok()) {
      // The hub pushes: its handshake first, then batches we apply.
      auto first = (*socket)->receive(std::chrono::duration_cast<std::chrono::milliseconds>(kHandshakeTimeout));
      if (!first.ok()) {
        ended = first.status();
      } else if (first->kind != replication::frames::kHandshake) {
        ended = Status::Corruption("the hub did not start with a handshake");
      } else if (auto handshake = replication::decode_handshake(first->payload); !handshake.ok()) {
        ended = handshake.status();
      } else {
        std::unique_lock lock(mu_);
        if (stopping_) break;
        current_ = std::make_unique<replication::IncomingReplication>(
            storage_, identity_, [s = &storage_] { return s->conflict_policy(); }, nullptr, std::move(socket).value(),
            std::move(handshake).value());
        if (last_logged != "connected") log("info", "connected to hub '" + definition_.hub_name + "'");
        last_logged = "connected";
        // Until the connection ends (the incoming side notices a silent or
        // broken hub within its silence limit) or we stop.
        while (!stopping_ && !current_->finished()) wake_.wait_for(lock, std::chrono::milliseconds(200));
        auto done = std::move(current_);
        lock.unlock();
        done.reset();  // stops and joins
        ended = Status::IOError("the connection to the hub ended");
      }
    } else {
      ended = socket.status();
    }
    if (stopping_) break;
    if (ended.to_string() != last_logged) log("info", ended.to_string());
    last_logged = ended.to_string();
    const auto wait = redial_wait.after(std::chrono::steady_clock::now() - started);
    std::unique_lock lock(mu_);
    wake_.wait_for(lock, wait, [&] { return stopping_.load(); });
  }
  std::unique_ptr<replication::IncomingReplication> done;
  {
    std::lock_guard lock(mu_);
    done = std::move(current_);
  }
}

}  // namespace corvus::server::pull_replication
