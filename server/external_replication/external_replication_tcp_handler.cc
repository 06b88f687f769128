#include "server/external_replication/external_replication_tcp_handler.h"

#include <ctime>

#include <boost/json.hpp>

#include "replication/database_replication.h"
#include "replication/messages.h"
#include "server/external_replication/external_replication_set.h"
#include "server/http/client_certificate.h"
#include "server/logging/logger.h"
#include "server/security/access_policy.h"
#include "server/server_store.h"
#include "server/tcp/tcp_byte_stream.h"

namespace corvus::server::external_replication {
namespace json = boost::json;

namespace {

constexpr auto kHandshakeTimeout = std::chrono::seconds(10);

void refuse(tcp::TcpJsonStream& stream, const std::string& why) {
  log::info("external replication refused").kv("peer", stream.peer()).kv("why", why);
  stream.write(json::serialize(json::object{{"Status", "Refused"}, {"Message", why}})).ignore_error();
}

}  // namespace

std::vector<std::int64_t> ExternalReplicationTcpHandler::versions() const { return {kExternalReplicationVersion}; }

void ExternalReplicationTcpHandler::serve(std::shared_ptr<tcp::TcpJsonStream> stream,
                                          const tcp::TcpConnectionHeader& header) {
  auto hello = stream->read_value(kHandshakeTimeout);
  if (!hello.ok() || !hello->is_object()) return refuse(*stream, "expected the source's external replication hello");
  const json::object& h = hello->as_object();
  const auto text = [&](std::string_view key) {
    const json::value* v = h.if_contains(key);
    return v && v->is_string() ? std::string(v->as_string()) : std::string();
  };
  const std::string source_database_id = text("SourceDatabaseId");
  const std::string source_database = text("SourceDatabase");
  const std::string source_url = text("SourceUrl");
  if (source_database_id.empty()) return refuse(*stream, "the hello needs SourceDatabaseId");

  const auto record = store_.cluster().state().record(header.database);
  if (!record || !record->active()) {
    return refuse(*stream, "database '" + header.database + "' does not exist on this cluster");
  }
  auto db = store_.databases().get(record->name);
  auto replication = db ? db->replication() : nullptr;
  if (!replication) return refuse(*stream, "database '" + record->name + "' is not served by this node");
  if (source_database_id == db->storage().database_id()) {
    return refuse(*stream, "database '" + record->name + "' cannot replicate into itself");
  }
  if (!stream->write(json::serialize(json::object{{"Status", "Ok"}})).ok()) return;

  // On a secured server the certificate's access is checked again before
  // every batch: a certificate that loses it stops writing at once.
  std::optional<http::ClientCertificate> cert;
  if (X509* x509 = stream->peer_certificate()) cert = http::describe_certificate(x509);
  auto permitted = [&store = store_, database = record->name, cert]() -> Status {
    const auto security = store.security();
    if (!security->secured) return Status::Ok();
    auto refusal = security::decide(*security, store.cluster().state(), http::RouteAccess::DatabaseReadWrite, database,
                                    cert ? &*cert : nullptr, std::time(nullptr),
                                    "external replication into database " + database);
    if (!refusal) return Status::Ok();
    return Status::AccessDenied(refusal->message);
  };
  log::info("external replication connected")
      .kv("database", record->name)
      .kv("source", source_database + " (" + source_database_id + ") at " + source_url);
  auto socket = std::make_unique<replication::FrameSocket>(std::make_unique<tcp::TcpByteStream>(stream));
  auto first = socket->receive(std::chrono::duration_cast<std::chrono::milliseconds>(kHandshakeTimeout));
  if (!first.ok() || first->kind != replication::frames::kHandshake) return;
  auto handshake = replication::decode_handshake(first->payload);
  if (!handshake.ok()) return;
  // The position is kept per source database id, as the hello said.
  handshake->source_database_id = source_database_id;
  handshake->from = "external-source:" + source_database_id;
  replication->accept(std::move(socket), std::move(handshake).value(), nullptr, permitted);
}

}  // namespace corvus::server::external_replication
