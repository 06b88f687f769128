// Database administration as the official clients do it: create
// (PUT /admin/databases), delete (DELETE /admin/databases), list
// (GET /databases), read the record (GET /admin/databases?name=) and
// statistics (GET /databases/{db}/stats).

#include <boost/beast/http/verb.hpp>
#include <boost/json.hpp>

#include "server/handlers/handler_support.h"
#include "server/handlers/routes.h"
#include "server/http/router.h"
#include "server/server_store.h"

namespace corvus::server::handlers {
namespace {

using boost::beast::http::verb;

boost::json::object single_node_topology(ServerStore& store) {
  return {{"Members", boost::json::array{boost::json::string(store.node_tag())}},
          {"Promotables", boost::json::array{}},
          {"Rehabs", boost::json::array{}},
          {"ReplicationFactor", 1}};
}

void handle_create(ServerStore& store, const http::Request& req, const http::Respond& respond) {
  auto body = parse_json_body(req);
  if (!body.ok()) return respond_error(respond, body.status(), req);
  if (!body->is_object()) return respond_error(respond, Status::InvalidArgument("DatabaseRecord must be an object"), req);
  auto& record = body->as_object();
  std::string name;
  if (const auto* n = record.if_contains("DatabaseName"); n && n->is_string()) name = std::string(n->as_string());
  const auto query_name = req.query.get("name");
  if (name.empty() && query_name) name = *query_name;
  if (name.empty()) return respond_error(respond, Status::InvalidArgument("DatabaseRecord.DatabaseName is required"), req);
  if (query_name && !query_name->empty() && storage::lower_id(*query_name) != storage::lower_id(name)) {
    return respond_error(respond,
                         Status::InvalidArgument("Query string name '" + *query_name +
                                                 "' differs from DatabaseRecord.DatabaseName '" + name + "'"),
                         req);
  }
  if (Status s = DatabasesLandlord::validate_name(name); !s.ok()) return respond_error(respond, s, req);
  record["DatabaseName"] = name;
  record["Topology"] = single_node_topology(store);
  auto db = store.databases().create(name, boost::json::serialize(record));
  if (!db.ok()) return respond_error(respond, db.status(), req);
  boost::json::object out{{"RaftCommandIndex", store.next_command_index()},
                          {"Name", name},
                          {"Topology", single_node_topology(store)},
                          {"NodesAddedTo", boost::json::array{boost::json::string(store.public_url())}}};
  respond(http::Response::json(201, boost::json::serialize(out)));
}

void handle_delete(ServerStore& store, const http::Request& req, const http::Respond& respond) {
  std::vector<std::string> names = req.query.get_all("name");
  if (!req.body.empty()) {
    auto body = parse_json_body(req);
    if (!body.ok()) return respond_error(respond, body.status(), req);
    const auto* list = body->is_object() ? body->as_object().if_contains("DatabaseNames") : nullptr;
    if (!list || !list->is_array())
      return respond_error(respond, Status::InvalidArgument("Body must contain a \"DatabaseNames\" array"), req);
    for (const auto& n : list->as_array()) {
      if (!n.is_string()) return respond_error(respond, Status::InvalidArgument("DatabaseNames must be strings"), req);
      names.emplace_back(n.as_string());
    }
  }
  if (names.empty()) return respond_error(respond, Status::InvalidArgument("No database names given"), req);
  // Check all first so a bad name in the list deletes nothing.
  for (const auto& n : names) {
    if (!store.databases().get(n)) return respond(database_missing(n, req.target));
  }
  for (const auto& n : names) {
    if (Status s = store.databases().remove(n); !s.ok() && !s.is_not_found()) return respond_error(respond, s, req);
  }
  boost::json::object out{{"RaftCommandIndex", store.next_command_index()}, {"PendingDeletes", boost::json::array{}}};
  respond(http::Response::json(200, boost::json::serialize(out)));
}

void handle_list(ServerStore& store, const http::Request& req, const http::Respond& respond) {
  auto paging = query_paging(req, std::numeric_limits<uint32_t>::max());
  if (!paging.ok()) return respond_error(respond, paging.status(), req);
  const bool names_only = req.query.get("namesOnly").value_or("") == "true";
  boost::json::array list;
  auto names = store.databases().names();
  for (size_t i = paging->start; i < names.size() && list.size() < paging->page_size; ++i) {
    if (names_only) {
      list.emplace_back(names[i]);
    } else {
      boost::json::object member{{"NodeTag", store.node_tag()}, {"NodeUrl", store.public_url()}};
      boost::json::object nodes{{"Members", boost::json::array{member}}};
      list.emplace_back(boost::json::object{{"Name", names[i]}, {"Disabled", false}, {"NodesTopology", nodes}});
    }
  }
  respond(http::Response::json(200, boost::json::serialize(boost::json::object{{"Databases", std::move(list)}})));
}

void handle_get_record(ServerStore& store, const http::Request& req, const http::Respond& respond) {
  auto name = required_query(req, "name");
  if (!name.ok()) return respond_error(respond, name.status(), req);
  auto db = store.databases().get(*name);
  if (!db) return respond(http::Response::empty(404));
  respond(http::Response::json(200, db->record_json()));
}

void handle_stats(ServerStore& store, const http::Request& req, const http::Respond& respond) {
  auto db = find_database(store, req, respond);
  if (!db) return;
  auto s = db->storage().stats();
  boost::json::object out{{"CountOfDocuments", s.document_count},
                          {"CountOfTombstones", s.tombstone_count},
                          {"CountOfIndexes", 0},
                          {"CountOfRevisionDocuments", 0},
                          {"CountOfAttachments", 0},
                          {"CountOfUniqueAttachments", 0},
                          {"CountOfCounterEntries", 0},
                          {"CountOfConflicts", 0},
                          {"CountOfDocumentsConflicts", 0},
                          {"CountOfTimeSeriesSegments", 0},
                          {"DatabaseId", s.database_id},
                          {"DatabaseChangeVector", s.database_change_vector},
                          {"LastDocEtag", s.last_etag},
                          {"Is64Bit", true},
                          {"Pager", "RocksDB"},
                          {"SizeOnDisk", boost::json::object{{"SizeInBytes", s.size_bytes}}},
                          {"Indexes", boost::json::array{}}};
  respond(http::Response::json(200, boost::json::serialize(out)));
}

}  // namespace

void register_database_routes(http::Router& router, ServerStore& store) {
  router.add(verb::put, "/admin/databases", "admin_databases_put",
             [&store](const http::Request& req, http::Respond respond) { handle_create(store, req, respond); });
  router.add(verb::delete_, "/admin/databases", "admin_databases_delete",
             [&store](const http::Request& req, http::Respond respond) { handle_delete(store, req, respond); });
  router.add(verb::get, "/admin/databases", "admin_databases_get",
             [&store](const http::Request& req, http::Respond respond) { handle_get_record(store, req, respond); });
  router.add(verb::get, "/databases", "databases_list",
             [&store](const http::Request& req, http::Respond respond) { handle_list(store, req, respond); });
  router.add(verb::get, "/databases/{db}/stats", "database_stats",
             [&store](const http::Request& req, http::Respond respond) { handle_stats(store, req, respond); });
}

}  // namespace corvus::server::handlers
