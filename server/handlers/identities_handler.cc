// Identities ("users|" ids) by hand, as the clients' NextIdentityForCommand,
// SeedIdentityForCommand and GetIdentitiesOperation use them:
//   POST /databases/{db}/identity/next?name=users        -> {"NewIdentityValue": n}
//   POST /databases/{db}/identity/seed?name=users&value=v[&force=true]
//                                                        -> {"NewSeedValue": n}
//   GET  /databases/{db}/debug/identities                -> {"users|": n, ...}
// The values live in the cluster state (IncrementIdentities, SeedIdentity), so
// every node of the cluster hands out the same sequence.

#include <boost/beast/http/verb.hpp>
#include <boost/json.hpp>

#include "rachis/cluster/commands/identity_commands.h"
#include "server/handlers/handler_support.h"
#include "server/handlers/routes.h"
#include "server/http/router.h"
#include "server/server_store.h"
#include "storage/document.h"

namespace corvus::server::handlers {
namespace {

using boost::beast::http::verb;
namespace json = boost::json;
namespace rc = rachis::cluster;

// The identity's prefix: the name without a trailing '|', lowered as stored.
Result<std::string> identity_prefix(const http::Request& req) {
  auto name = required_query(req, "name");
  if (!name.ok()) return name.status();
  std::string prefix = std::move(name).value();
  if (!prefix.empty() && prefix.back() == '|') prefix.pop_back();
  if (prefix.empty()) return Status::InvalidArgument("Query string parameter 'name' must name an identity");
  return storage::lower_id(prefix);
}

// Runs `cmd` and answers {<field>: the identity's value after it}.
void execute_identity(ServerStore& store, const rc::ClusterCommand& cmd, std::string prefix, const char* field,
                      const http::Request& req, const http::Respond& respond) {
  store.cluster().execute(cmd, [respond, prefix, field, url = req.target](rc::CommandResult r, rachis::core::Index) {
    if (!r.status.ok()) return respond(http::error_response(r.status, url));
    const auto value = r.value.as_object().at(prefix).to_number<std::uint64_t>();
    respond(http::Response::json(200, json::serialize(json::object{{field, value}})));
  });
}

void handle_next(ServerStore& store, const http::Request& req, const http::Respond& respond) {
  auto db = find_database(store, req, respond);
  if (!db) return;
  auto prefix = identity_prefix(req);
  if (!prefix.ok()) return respond_error(respond, prefix.status(), req);
  rc::IncrementIdentitiesCommand cmd;
  cmd.database = db->name();
  cmd.counts[prefix.value()] = 1;
  execute_identity(store, cmd, prefix.value(), "NewIdentityValue", req, respond);
}

void handle_seed(ServerStore& store, const http::Request& req, const http::Respond& respond) {
  auto db = find_database(store, req, respond);
  if (!db) return;
  auto prefix = identity_prefix(req);
  if (!prefix.ok()) return respond_error(respond, prefix.status(), req);
  if (!req.query.has("value"))
    return respond_error(respond, Status::InvalidArgument("Query string parameter 'value' is required"), req);
  auto value = query_uint(req, "value", 0);
  if (!value.ok()) return respond_error(respond, value.status(), req);
  const auto force = req.query.get("force");
  if (force && *force != "true" && *force != "false")
    return respond_error(respond, Status::InvalidArgument("Query string parameter 'force' must be true or false"), req);
  rc::SeedIdentityCommand cmd;
  cmd.database = db->name();
  cmd.prefix = prefix.value();
  cmd.value = value.value();
  cmd.force = force == std::optional<std::string>("true");
  execute_identity(store, cmd, prefix.value(), "NewSeedValue", req, respond);
}

void handle_list(ServerStore& store, const http::Request& req, const http::Respond& respond) {
  auto db = find_database(store, req, respond);
  if (!db) return;
  auto identities = store.cluster().state().identities(db->name());
  if (!identities.ok()) return respond_error(respond, identities.status(), req);
  json::object out;
  for (const auto& [prefix, value] : identities.value()) out[prefix + "|"] = value;
  respond(http::Response::json(200, json::serialize(out)));
}

}  // namespace

void register_identity_routes(http::Router& router, ServerStore& store) {
  router.add(verb::post, "/databases/{db}/identity/next", http::RouteAccess::DatabaseReadWrite, "identity_next",
             [&store](const http::Request& req, http::Respond respond) { handle_next(store, req, respond); });
  router.add(verb::post, "/databases/{db}/identity/seed", http::RouteAccess::DatabaseReadWrite, "identity_seed",
             [&store](const http::Request& req, http::Respond respond) { handle_seed(store, req, respond); });
  router.add(verb::get, "/databases/{db}/debug/identities", http::RouteAccess::DatabaseRead, "identities",
             [&store](const http::Request& req, http::Respond respond) { handle_list(store, req, respond); });
}

}  // namespace corvus::server::handlers
