#include "server/pull_replication/hub_tcp_handler.h"

#include <algorithm>
#include <cctype>
#include <ctime>
#include <future>
#include <memory>

#include <boost/json.hpp>

#include "rachis/cluster/external_replication_config.h"
#include "rachis/cluster/commands/pull_replication_commands.h"
#include "rachis/cluster/pull_replication_config.h"
#include "replication/database_replication.h"
#include "replication/messages.h"
#include "server/external_replication/delay_window.h"
#include "server/http/client_certificate.h"
#include "server/logging/logger.h"
#include "server/security/access_policy.h"
#include "server/server_store.h"
#include "server/tcp/tcp_byte_stream.h"
#include "storage/replication_items.h"

namespace corvus::server::pull_replication {
namespace json = boost::json;
namespace rc = rachis::cluster;

namespace {

constexpr auto kHandshakeTimeout = std::chrono::seconds(10);
constexpr auto kRegisterTimeout = std::chrono::seconds(15);

bool iequal(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

void refuse(tcp::TcpJsonStream& stream, const std::string& why) {
  log::info("pull replication refused").kv("peer", stream.peer()).kv("why", why);
  stream.write(json::serialize(json::object{{"Status", "Refused"}, {"Message", why}})).ignore_error();
}

// Items whose document id one of `paths` allows; everything when `paths` is null.
replication::IncomingReplication::ItemFilter path_filter(std::shared_ptr<const std::vector<std::string>> paths) {
  if (!paths) return nullptr;
  return [paths](const storage::ReplicationItem& item) {
    auto id = storage::replication_item_document_id(item);
    return id.ok() && rc::path_allowed(*paths, *id);
  };
}

}  // namespace

Status PullReplicationHubHandler::register_sink(const std::string& database, const std::string& sink_database_id) {
  rc::RegisterHubSinkCommand cmd;
  cmd.database = database;
  cmd.sink_database_id = sink_database_id;
  auto done = std::make_shared<std::promise<Status>>();
  auto result = done->get_future();
  store_.cluster().execute(cmd, [done](rc::CommandResult r, rachis::core::Index) { done->set_value(r.status); });
  if (result.wait_for(kRegisterTimeout) != std::future_status::ready) {
    return Status::Busy("no answer from the cluster within " + std::to_string(kRegisterTimeout.count()) + " s");
  }
  return result.get();
}

void PullReplicationHubHandler::serve(std::shared_ptr<tcp::TcpJsonStream> stream,
                                      const tcp::TcpConnectionHeader& header) {
  // Which direction this connection carries, and who the sink is.
  auto hello = stream->read_value(kHandshakeTimeout);
  if (!hello.ok() || !hello->is_object()) return refuse(*stream, "expected the sink's pull replication handshake");
  const json::object& h = hello->as_object();
  const auto text = [&](std::string_view key) {
    const json::value* v = h.if_contains(key);
    return v && v->is_string() ? std::string(v->as_string()) : std::string();
  };
  const std::string direction = text("Direction");
  const std::string sink_database_id = text("SinkDatabaseId");
  const std::string sink_database = text("SinkDatabase");
  const std::string sink_url = text("SinkUrl");
  const auto mode = rc::parse_pull_replication_mode(direction);
  if (!mode || (*mode != rc::kHubToSink && *mode != rc::kSinkToHub) || sink_database_id.empty()) {
    return refuse(*stream, "the handshake needs Direction (HubToSink or SinkToHub) and SinkDatabaseId");
  }

  const auto record = store_.cluster().state().record(header.database);
  const rc::HubDefinition* hub = record ? record->hub(header.authorization_for) : nullptr;
  if (!hub) {
    return refuse(*stream, "database '" + header.database + "' has no pull replication hub '" +
                               header.authorization_for + "'");
  }
  if (hub->disabled) return refuse(*stream, "pull replication hub '" + hub->name + "' is disabled");
  if (!(hub->mode & *mode)) {
    return refuse(*stream, "pull replication hub '" + hub->name + "' does not replicate " + direction + " (its mode is " +
                               rc::pull_replication_mode_name(hub->mode) + ")");
  }
  // The access this certificate has (the listener's authorizer already
  // checked there is one on a secured hub); its paths when the hub filters.
  std::shared_ptr<const std::vector<std::string>> paths;
  std::string access_name = "unsecured";
  http::ClientCertificate cert;
  if (X509* x509 = stream->peer_certificate()) {
    cert = http::describe_certificate(x509);
    for (const auto& g : store_.cluster().state().hub_grants(cert.thumbprint, cert.public_key_hash)) {
      if (!iequal(g.database, record->name) || !iequal(g.access.hub_name, hub->name)) continue;
      access_name = g.access.name;
      if (hub->with_filtering) {
        const auto& allowed = *mode == rc::kSinkToHub && !g.access.allowed_sink_to_hub_paths.empty()
                                  ? g.access.allowed_sink_to_hub_paths
                                  : g.access.allowed_hub_to_sink_paths;
        paths = std::make_shared<const std::vector<std::string>>(allowed);
      }
      break;
    }
  } else if (store_.security()->secured) {
    return refuse(*stream, "a pull replication sink must present its certificate");
  }
  auto db = store_.databases().get(record->name);
  auto replication = db ? db->replication() : nullptr;
  if (!replication) return refuse(*stream, "database '" + record->name + "' is not served by this node");
  // Every hub node learns of the sink (through the cluster) before it gets
  // anything, so each keeps the deletions it may fail over for.
  if (!record->hub_sink_database_ids.count(sink_database_id)) {
    if (Status s = register_sink(record->name, sink_database_id); !s.ok()) {
      return refuse(*stream, "the hub could not record sink " + sink_database_id + " in the cluster: " + s.message());
    }
  }
  if (!stream->write(json::serialize(json::object{{"Status", "Ok"}})).ok()) return;

  // The connection lives only as long as the hub, its direction and (on a
  // secured hub) the access do: checked before every batch.
  const bool secured = store_.security()->secured;
  auto permitted = [&store = store_, database = record->name, hub_name = hub->name, direction = *mode, cert,
                    secured]() -> Status {
    const auto now = store.cluster().state().record(database);
    const rc::HubDefinition* current = now ? now->hub(hub_name) : nullptr;
    if (!current || current->disabled || !(current->mode & direction)) {
      return Status::AccessDenied("pull replication hub '" + hub_name + "' of database '" + database +
                                  "' was deleted, disabled or no longer replicates this way");
    }
    if (secured && security::decide_pull_replication(*store.security(), store.cluster().state(), database, hub_name,
                                                     &cert, std::time(nullptr))) {
      return Status::AccessDenied("the sink's access to pull replication hub '" + hub_name + "' was removed");
    }
    return Status::Ok();
  };
  const std::string sink = "sink " + sink_database + " (" + sink_database_id + ", access " + access_name + ")";
  log::info("pull replication connected").kv("database", record->name).kv("hub", hub->name).kv("sink", sink)
      .kv("direction", direction);
  auto socket = std::make_unique<replication::FrameSocket>(std::make_unique<tcp::TcpByteStream>(stream));
  if (*mode == rc::kHubToSink) {
    // We push on the connection the sink opened: one connection, then done.
    auto shared = std::make_shared<std::unique_ptr<replication::FrameSocket>>(std::move(socket));
    replication::OutgoingOptions options;
    options.dial = [shared]() -> Result<std::unique_ptr<replication::FrameSocket>> {
      if (!*shared) return Status::ShuttingDown("the sink's connection was used");
      return std::move(*shared);
    };
    options.filter = path_filter(paths);
    options.permitted = permitted;
    // The hub's DelayReplicationFor, read from the record before every batch
    // (it may change while the sink is connected): younger items wait.
    options.send_limit = [&store = store_, database = record->name, hub_name = hub->name,
                          storage = &db->storage(),
                          window = std::make_shared<external_replication::DelayWindow>(std::chrono::milliseconds(0))] {
      std::chrono::milliseconds delay{0};
      const auto now = store.cluster().state().record(database);
      if (const rc::HubDefinition* current = now ? now->hub(hub_name) : nullptr) {
        if (auto parsed = rc::parse_time_span(current->delay_replication_for)) delay = *parsed;
      }
      return window->limit(external_replication::DelayWindow::Clock::now(), storage->published().last_etag, delay);
    };
    options.labels = {{"Hub", hub->name}, {"SinkDatabase", sink_database}, {"SinkUrl", sink_url}};
    options.once = true;
    // Keyed as the sink's pushes name their source, so what the sink sends
    // up is not sent back down (DatabaseReplication::accept).
    replication->add_external_outgoing(std::string(replication::kSinkKeyPrefix) + sink_database_id, sink,
                                       std::move(options));
    return;
  }
  // The sink pushes: its handshake frame first, then batches.
  auto first = socket->receive(std::chrono::duration_cast<std::chrono::milliseconds>(kHandshakeTimeout));
  if (!first.ok() || first->kind != replication::frames::kHandshake) return;
  auto handshake = replication::decode_handshake(first->payload);
  if (!handshake.ok()) return;
  // The position is kept per source database id: make it the sink's as it
  // said, whatever the frame claims, so one access cannot write another's.
  handshake->source_database_id = sink_database_id;
  handshake->from = "sink:" + sink_database_id;
  replication->accept(std::move(socket), std::move(handshake).value(), path_filter(paths), permitted);
}

}  // namespace corvus::server::pull_replication
