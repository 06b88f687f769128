// /databases/{db}/docs, /collections/docs and /collections/stats: load (one, many,
// with includes, metadata only, paging, prefix), HEAD, PUT, DELETE.
// Reads go straight to storage (snapshots, never waiting for the writer);
// writes go through the database's transaction merger and answer once durable.

#include <boost/beast/http/verb.hpp>
#include <boost/json.hpp>

#include "rachis/cluster/commands/cluster_transaction_command.h"
#include "server/handlers/cluster_identities.h"
#include "server/handlers/counter_batch_command.h"
#include "server/handlers/document_conflicts.h"
#include "server/handlers/compare_exchange_includes.h"
#include "server/handlers/handler_support.h"
#include "server/handlers/routes.h"
#include "server/http/router.h"
#include "server/server_store.h"
#include "storage/document_snapshot.h"

namespace corvus::server::handlers {
namespace {

using boost::beast::http::verb;
constexpr uint64_t kDefaultPageSize = 1024;

// Collects the ids a document refers to through an include path such as
// "friendId", "address.cityId" or "friends[].id" / "friends" (array of ids).
void collect_include_ids(const boost::json::value& v, std::string_view path, std::vector<std::string>& out) {
  if (path.empty()) {
    if (v.is_string()) out.emplace_back(v.as_string());
    if (v.is_array())
      for (const auto& e : v.as_array())
        if (e.is_string()) out.emplace_back(e.as_string());
    return;
  }
  if (v.is_array()) {
    for (const auto& e : v.as_array()) collect_include_ids(e, path, out);
    return;
  }
  if (!v.is_object()) return;
  size_t dot = path.find('.');
  std::string_view head = path.substr(0, dot);
  std::string_view rest = dot == std::string_view::npos ? std::string_view() : path.substr(dot + 1);
  if (head.ends_with("[]")) head.remove_suffix(2);
  if (const auto* child = v.as_object().if_contains(head)) collect_include_ids(*child, rest, out);
}

// `{"@metadata":{...}}` for metadataOnly loads.
std::string metadata_only(const storage::Document& doc) {
  boost::system::error_code ec;
  auto v = boost::json::parse(doc.json, ec);
  boost::json::object out;
  if (!ec && v.is_object())
    if (auto* md = v.as_object().if_contains("@metadata")) out["@metadata"] = *md;
  return boost::json::serialize(out);
}

void append_document(std::string& out, const storage::Document& doc, bool only_metadata) {
  if (only_metadata) out += metadata_only(doc);
  else out += doc.json;
}

// A stable tag for a set of documents, for ETag/If-None-Match on multi loads.
std::string combined_etag(const std::vector<const storage::Document*>& docs) {
  uint64_t h = 1469598103934665603ULL;  // FNV-1a
  for (const auto* d : docs) {
    std::string_view cv = d ? std::string_view(d->change_vector) : std::string_view("null");
    for (char c : cv) h = (h ^ static_cast<unsigned char>(c)) * 1099511628211ULL;
    h = (h ^ '|') * 1099511628211ULL;
  }
  // Appending (rather than "H" + to_string) avoids a GCC 12 -O3 -Wrestrict false positive.
  std::string tag = "H";
  tag += std::to_string(h);
  return tag;
}

void respond_paged(const http::Respond& respond, const http::Request& req,
                   const Result<std::vector<storage::Document>>& read, bool only_metadata) {
  if (!read.ok()) return respond_error(respond, read.status(), req);
  const auto& docs = read.value();
  std::string body = "{\"Results\":[";
  for (size_t i = 0; i < docs.size(); ++i) {
    if (i) body.push_back(',');
    append_document(body, docs[i], only_metadata);
  }
  body += "]}";
  respond(http::Response::json(200, std::move(body)));
}

std::vector<const storage::Document*> pointers_to(const std::vector<std::optional<storage::Document>>& docs) {
  std::vector<const storage::Document*> out;
  for (const auto& d : docs) out.push_back(d ? &*d : nullptr);
  return out;
}

void handle_load(ServerStore& store, const http::Request& req, const http::Respond& respond, bool head) {
  auto db = find_database(store, req, respond);
  if (!db) return;
  auto& storage = db->storage();
  const bool only_metadata = req.query.get("metadataOnly").value_or("") == "true";

  std::vector<std::string> ids = req.query.get_all("id");
  if (req.method == verb::post) {
    auto body = parse_json_body(req);
    if (!body.ok()) return respond_error(respond, body.status(), req);
    const auto* arr = body->is_object() ? body->as_object().if_contains("Ids") : nullptr;
    if (!arr || !arr->is_array())
      return respond_error(respond, Status::InvalidArgument("Body must be {\"Ids\": [ ... ]}"), req);
    for (const auto& v : arr->as_array()) {
      // A null id names no document: its result is null, as in RavenDB.
      if (v.is_null()) {
        ids.emplace_back();
        continue;
      }
      if (!v.is_string()) return respond_error(respond, Status::InvalidArgument("Ids must be strings or null"), req);
      ids.emplace_back(v.as_string());
    }
  }

  if (ids.empty()) {
    if (head) return respond_error(respond, Status::InvalidArgument("Query string parameter 'id' is required"), req);
    auto paging = query_paging(req, kDefaultPageSize);
    if (!paging.ok()) return respond_error(respond, paging.status(), req);
    if (auto prefix = req.query.get("startsWith")) {
      return respond_paged(respond, req, storage.list_starting_with(*prefix, paging->start, paging->page_size),
                           only_metadata);
    }
    return respond_paged(respond, req, storage.list_recent(paging->start, paging->page_size), only_metadata);
  }

  const std::string_view if_none_match = unquote(req.header("If-None-Match"));
  // Compare-exchange includes: values named by document fields (cmpxchg=<path>)
  // and, in a cluster-wide session, the atomic guards of missing documents.
  const std::vector<std::string> cmpxchg_paths = req.query.get_all("cmpxchg");
  const bool cluster_wide = req.query.get("txMode").value_or("") == "ClusterWide";
  const bool with_cmpxchg = !cmpxchg_paths.empty() || cluster_wide;
  // Counters loaded with the documents (counter=<name>..., or @all_counters).
  const std::vector<std::string> counter_names = req.query.get_all("counter");
  const bool with_counters = !counter_names.empty();
  if (ids.size() == 1 && !with_cmpxchg && !with_counters) {
    auto doc = storage.get(ids[0]);
    if (!doc.ok()) {
      if (!doc.status().is_not_found()) return respond_error(respond, doc.status(), req);
      // A document in conflict has no current version: 409, not 404.
      auto conflict = conflict_response_if_conflicted(storage, ids[0], req.target);
      if (!conflict.ok()) return respond_error(respond, conflict.status(), req);
      if (conflict.value()) return respond(head ? http::Response::empty(409) : std::move(*conflict.value()));
      return respond(http::Response::empty(404));
    }
    const std::string etag = "\"" + doc->change_vector + "\"";
    if (!if_none_match.empty() && if_none_match == doc->change_vector) {
      return respond(http::Response::empty(304).with_header("ETag", etag));
    }
    if (head) return respond(http::Response::empty(200).with_header("ETag", etag));
    if (!req.query.has("include")) {
      std::string body;
      body.reserve(doc->json.size() + 32);
      body += "{\"Results\":[";
      append_document(body, doc.value(), only_metadata);
      body += "],\"Includes\":{}}";
      return respond(http::Response::json(200, std::move(body)).with_header("ETag", etag));
    }
    ids = {ids[0]};
  }

  auto read = storage.get_many(ids);
  if (!read.ok()) return respond_error(respond, read.status(), req);
  const auto& docs = read.value();
  // As RavenDB: one requested document in conflict fails the whole load.
  auto conflicts_exist = any_conflicts(storage);
  if (!conflicts_exist.ok()) return respond_error(respond, conflicts_exist.status(), req);
  for (size_t i = 0; conflicts_exist.value() && i < docs.size(); ++i) {
    if (docs[i] || ids[i].empty()) continue;
    auto conflict = conflict_response_if_conflicted(storage, ids[i], req.target);
    if (!conflict.ok()) return respond_error(respond, conflict.status(), req);
    if (conflict.value()) return respond(std::move(*conflict.value()));
  }
  std::vector<const storage::Document*> found = pointers_to(docs);

  // The loaded documents parsed once, for the include= and cmpxchg= paths.
  const std::vector<std::string> include_paths = req.query.get_all("include");
  std::vector<boost::json::value> parsed;
  if (!include_paths.empty() || !cmpxchg_paths.empty()) {
    for (const auto& d : docs) {
      boost::system::error_code ec;
      parsed.push_back(d ? boost::json::parse(d->json, ec) : boost::json::value());
      if (ec) parsed.back() = nullptr;
    }
  }
  // Includes: ids referenced by the loaded documents, excluding ones already loaded.
  std::vector<std::string> include_ids;
  for (const auto& path : include_paths) {
    for (const auto& v : parsed) {
      if (!v.is_null()) collect_include_ids(v, path, include_ids);
    }
  }
  std::vector<std::optional<storage::Document>> included;
  if (!include_ids.empty()) {
    auto read_included = storage.get_many(include_ids);
    if (!read_included.ok()) return respond_error(respond, read_included.status(), req);
    included = std::move(read_included).value();
  }
  for (const auto& d : included) found.push_back(d ? &*d : nullptr);

  const std::string tag = combined_etag(found);
  // Compare-exchange values and counters change without the documents
  // changing: such an answer is not cached (no ETag, no 304).
  if (!with_cmpxchg && !with_counters && !if_none_match.empty() && if_none_match == tag) {
    return respond(http::Response::empty(304).with_header("ETag", "\"" + tag + "\""));
  }
  std::string body = "{\"Results\":[";
  for (size_t i = 0; i < docs.size(); ++i) {
    if (i) body.push_back(',');
    if (docs[i]) append_document(body, *docs[i], only_metadata);
    else body += "null";
  }
  body += "],\"Includes\":{";
  bool first = true;
  std::vector<std::string> seen;
  for (const auto& d : included) {
    if (!d) continue;
    const std::string key = storage::lower_id(d->id);
    bool dup = std::find(seen.begin(), seen.end(), key) != seen.end();
    for (const auto& loaded : docs) dup = dup || (loaded && storage::lower_id(loaded->id) == key);
    if (dup) continue;
    seen.push_back(key);
    if (!first) body.push_back(',');
    first = false;
    body += json_string(d->id);
    body.push_back(':');
    append_document(body, *d, only_metadata);
  }
  body += "}";
  if (with_counters) {
    body += ",\"CounterIncludes\":";
    if (Status s = append_counter_includes(storage, pointers_to(docs), counter_names, body); !s.ok()) {
      return respond_error(respond, s, req);
    }
  }
  if (with_cmpxchg) {
    std::vector<std::string> keys;
    for (const auto& path : cmpxchg_paths) {
      for (const auto& v : parsed) {
        if (!v.is_null()) collect_include_ids(v, path, keys);
      }
    }
    if (cluster_wide) {
      for (size_t i = 0; i < docs.size() && i < ids.size(); ++i) {
        if (!docs[i]) keys.push_back(std::string(rachis::cluster::kAtomicGuardPrefix) + ids[i]);
      }
    }
    auto includes = compare_exchange_includes(store, db->name(), keys);
    if (!includes.ok()) return respond_error(respond, includes.status(), req);
    body += ",\"CompareExchangeValueIncludes\":" + *includes;
    body += "}";
    return respond(http::Response::json(200, std::move(body)));
  }
  body += "}";
  if (with_counters) return respond(http::Response::json(200, std::move(body)));
  respond(http::Response::json(200, std::move(body)).with_header("ETag", "\"" + tag + "\""));
}

void handle_put(ServerStore& store, const http::Request& req, const http::Respond& respond) {
  auto db = find_database(store, req, respond);
  if (!db) return;
  auto id = req.query.get("id");
  if (!id) return respond_error(respond, Status::InvalidArgument("Query string parameter 'id' is required"), req);
  auto expected = if_match_change_vector(req);
  if (!expected.ok()) return respond_error(respond, expected.status(), req);
  auto body = parse_json_body(req);
  if (!body.ok()) return respond_error(respond, body.status(), req);
  if (!body->is_object())
    return respond_error(respond, Status::InvalidArgument("Document body must be a JSON object"), req);

  auto result = std::make_shared<storage::PutResult>();
  auto doc = std::make_shared<boost::json::object>(std::move(body->as_object()));
  auto final_id = std::make_shared<std::string>(*id);
  const size_t size_hint = req.body.size();
  // "users|" takes its number from the cluster first.
  resolve_cluster_identities(
      store, db->name(), {final_id.get()},
      [db, final_id, doc, expected = expected.value(), result, respond, url = req.target, size_hint](Status status) {
        if (!status.ok()) return respond(http::error_response(status, url));
        db->storage().submit_or_run(
            [final_id, doc, expected, result](storage::WriteTransaction& txn) -> Status {
              auto r = txn.put(*final_id, std::move(*doc), expected);
              if (!r.ok()) return r.status();
              *result = std::move(r).value();
              return Status::Ok();
            },
            [db, respond, result, url](Status s) {
              if (!s.ok()) return respond(http::error_response(s, url));
              respond(http::Response::json(201, "{\"Id\":" + json_string(result->id) +
                                                    ",\"ChangeVector\":" + json_string(result->change_vector) + "}"));
            },
            size_hint);
      });
}

void handle_delete(ServerStore& store, const http::Request& req, const http::Respond& respond) {
  auto db = find_database(store, req, respond);
  if (!db) return;
  auto id = required_query(req, "id");
  if (!id.ok()) return respond_error(respond, id.status(), req);
  auto expected = if_match_change_vector(req);
  if (!expected.ok()) return respond_error(respond, expected.status(), req);
  db->storage().submit_or_run(
      [id = *id, expected = expected.value()](storage::WriteTransaction& txn) -> Status {
        return txn.remove(id, expected).status();
      },
      [db, respond, url = req.target](Status s) {
        if (!s.ok()) return respond(http::error_response(s, url));
        respond(http::Response::empty(204));
      });
}

// GET /collections/stats: {CountOfDocuments, CountOfConflicts, Collections: {name: count}}.
void handle_collection_stats(ServerStore& store, const http::Request& req, const http::Respond& respond) {
  auto db = find_database(store, req, respond);
  if (!db) return;
  storage::DocumentSnapshot snapshot(db->storage());
  auto counts = snapshot.collection_counts();
  if (!counts.ok()) return respond_error(respond, counts.status(), req);
  boost::json::object collections;
  uint64_t total = 0;
  for (const auto& [name, n] : counts.value()) {
    collections[name] = n;
    total += n;
  }
  auto conflicts = db->storage().read_count(storage::meta_keys::kConflictVersionCount);
  if (!conflicts.ok()) return respond_error(respond, conflicts.status(), req);
  respond(http::Response::json(200, boost::json::serialize(boost::json::object{
                                        {"CountOfDocuments", total},
                                        {"CountOfConflicts", conflicts.value()},
                                        {"Collections", std::move(collections)}})));
}

void handle_collection_docs(ServerStore& store, const http::Request& req, const http::Respond& respond) {
  auto db = find_database(store, req, respond);
  if (!db) return;
  auto name = required_query(req, "name");
  if (!name.ok()) return respond_error(respond, name.status(), req);
  auto paging = query_paging(req, kDefaultPageSize);
  if (!paging.ok()) return respond_error(respond, paging.status(), req);
  respond_paged(respond, req, db->storage().list_collection(*name, paging->start, paging->page_size), false);
}

}  // namespace

void register_document_routes(http::Router& router, ServerStore& store) {
  router.add(verb::get, "/databases/{db}/docs", http::RouteAccess::DatabaseRead, "docs_get",
             [&store](const http::Request& req, http::Respond respond) { handle_load(store, req, respond, false); });
  router.add(verb::post, "/databases/{db}/docs", http::RouteAccess::DatabaseRead, "docs_post",
             [&store](const http::Request& req, http::Respond respond) { handle_load(store, req, respond, false); });
  router.add(verb::head, "/databases/{db}/docs", http::RouteAccess::DatabaseRead, "docs_head",
             [&store](const http::Request& req, http::Respond respond) { handle_load(store, req, respond, true); });
  router.add(verb::put, "/databases/{db}/docs", http::RouteAccess::DatabaseReadWrite, "docs_put",
             [&store](const http::Request& req, http::Respond respond) { handle_put(store, req, respond); });
  router.add(verb::delete_, "/databases/{db}/docs", http::RouteAccess::DatabaseReadWrite, "docs_delete",
             [&store](const http::Request& req, http::Respond respond) { handle_delete(store, req, respond); });
  router.add(verb::get, "/databases/{db}/collections/stats", http::RouteAccess::DatabaseRead, "collection_stats",
             [&store](const http::Request& req, http::Respond respond) { handle_collection_stats(store, req, respond); });
  router.add(verb::get, "/databases/{db}/collections/docs", http::RouteAccess::DatabaseRead, "collection_docs",
             [&store](const http::Request& req, http::Respond respond) {
               handle_collection_docs(store, req, respond);
             });
}

}  // namespace corvus::server::handlers
