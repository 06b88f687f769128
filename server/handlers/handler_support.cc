#include "server/handlers/handler_support.h"

#include "rachis/cluster/commands/compare_exchange_commands.h"

#include <charconv>
#include <chrono>
#include <thread>

#include <boost/beast/http/verb.hpp>
#include <boost/json/parser.hpp>

#include "server/server_store.h"
#include "storage/change_vector.h"

namespace corvus::server::handlers {

namespace {
constexpr auto kKnownRaftIndexWait = std::chrono::seconds(2);
// How long a change to a database record waits for the group's members.
constexpr auto kMemberWait = std::chrono::seconds(30);
constexpr auto kMemberRetryPause = std::chrono::milliseconds(50);
}  // namespace

http::Response database_missing(std::string_view name, std::string_view url) {
  auto r = http::error_response(503, "Raven.Client.Exceptions.Database.DatabaseDoesNotExistException",
                                "Database '" + std::string(name) + "' does not exist.", url);
  r.with_header("Database-Missing", std::string(name));
  return r;
}

http::Response compare_exchange_key_refused(std::string_view key, const Status& why, std::string_view url) {
  if (key.size() > rachis::cluster::kMaxCompareExchangeKey) {
    return http::error_response(400, "Raven.Client.Exceptions.Documents.CompareExchange.CompareExchangeKeyTooBigException",
                                why.message(), url);
  }
  return http::error_response(why, url);
}

std::shared_ptr<const rachis::cluster::DatabaseRecord> find_record(ServerStore& store, const http::Request& req,
                                                                   const http::Respond& respond) {
  const std::string name(req.param("db"));
  auto record = store.cluster().state().record(name);
  if (!record || !record->active()) {
    respond(database_missing(name, req.target));
    return nullptr;
  }
  return record;
}

std::shared_ptr<DocumentDatabase> find_database(ServerStore& store, const http::Request& req,
                                                const http::Respond& respond) {
  std::string_view name = req.param("db");
  // A client that saw a cluster-wide transaction commit at index N reads only
  // from a node that applied N (RavenDB's Known-Raft-Index); a lagging node
  // waits briefly rather than serve a state older than the client's own write.
  if (const auto known = req.header("Known-Raft-Index"); !known.empty()) {
    std::uint64_t index = 0;
    auto [ptr, ec] = std::from_chars(known.data(), known.data() + known.size(), index);
    if (ec == std::errc() && !store.cluster().feed().wait_processed(index, kKnownRaftIndexWait)) {
      respond(http::error_response(
          Status::Timeout("this node has not applied raft index " + std::string(known) + " yet; try another node"),
          req.target));
      return nullptr;
    }
  }
  auto record = store.cluster().state().record(name);
  if (!record || !record->active()) {
    respond(database_missing(name, req.target));
    return nullptr;
  }
  const std::string tag = store.node_tag();
  if (!record->topology.contains(tag)) {
    // The clients take 410 as "try another node of the group".
    std::string nodes;
    for (const auto& t : record->topology.all_nodes()) nodes += (nodes.empty() ? "" : ", ") + t;
    respond(http::error_response(410, "Raven.Client.Exceptions.Database.DatabaseNotRelevantException",
                                 "Database '" + record->name + "' is not on node " + tag + "; its group is " + nodes,
                                 req.target));
    return nullptr;
  }
  auto db = store.databases().get(name);
  if (!db) {
    respond(http::error_response(503, "Raven.Client.Exceptions.Database.DatabaseLoadTimeoutException",
                                 "Database '" + record->name + "' is being opened on node " + tag + "; retry shortly",
                                 req.target));
  }
  return db;
}

Result<boost::json::value> parse_json_body(const http::Request& req) {
  if (req.body.empty()) return Status::InvalidArgument("Request body is empty; expected JSON");
  boost::system::error_code ec;
  boost::json::parser parser;
  // write() wants one complete JSON text: trailing data or a truncated value is an error.
  size_t consumed = parser.write(req.body.data(), req.body.size(), ec);
  if (ec) {
    return Status::InvalidArgument("Malformed JSON body: " + ec.message() + " (near offset " +
                                   std::to_string(consumed) + ")");
  }
  return parser.release();
}

Result<std::string> required_query(const http::Request& req, std::string_view key) {
  auto v = req.query.get(key);
  if (!v || v->empty()) {
    return Status::InvalidArgument("Query string parameter '" + std::string(key) + "' is required");
  }
  return std::move(*v);
}

std::string_view unquote(std::string_view v) {
  if (v.size() >= 2 && v.front() == '"' && v.back() == '"') return v.substr(1, v.size() - 2);
  return v;
}

Result<uint64_t> query_uint(const http::Request& req, std::string_view key, uint64_t fallback) {
  auto v = req.query.get(key);
  if (!v || v->empty()) return fallback;
  uint64_t out = 0;
  auto [ptr, ec] = std::from_chars(v->data(), v->data() + v->size(), out);
  if (ec != std::errc() || ptr != v->data() + v->size()) {
    return Status::InvalidArgument("Query string parameter '" + std::string(key) +
                                   "' must be a non-negative integer, got '" + *v + "'");
  }
  return out;
}

Result<Paging> query_paging(const http::Request& req, uint64_t default_page_size) {
  auto start = query_uint(req, "start", 0);
  if (!start.ok()) return start.status();
  auto page_size = query_uint(req, "pageSize", default_page_size);
  if (!page_size.ok()) return page_size.status();
  return Paging{start.value(), page_size.value()};
}

Status validate_change_vector(std::string_view cv) {
  auto parsed = storage::ChangeVector::parse(cv);
  if (!parsed.ok()) return Status::InvalidArgument("Invalid change vector '" + std::string(cv) + "': " +
                                                   parsed.status().message());
  return Status::Ok();
}

Result<std::optional<std::string>> if_match_change_vector(const http::Request& req) {
  std::string_view v = req.header("If-Match");
  if (v.empty()) return std::optional<std::string>();
  v = unquote(v);
  if (Status s = validate_change_vector(v); !s.ok()) return s;
  return std::optional<std::string>(std::string(v));
}

void respond_error(const http::Respond& respond, const Status& s, const http::Request& req) {
  respond(http::error_response(s, req.target));
}

std::string json_string(std::string_view s) {
  std::string out;
  http::append_json_string(out, s);
  return out;
}

void wait_for_members(ServerStore& store, const std::vector<std::string>& tags, rachis::core::Index index) {
  const auto deadline = std::chrono::steady_clock::now() + kMemberWait;
  const auto topo = store.cluster().node().state().topology();
  const std::string self = store.node_tag();
  for (const auto& t : tags) {
    auto it = topo.nodes.find(t);
    if (t == self || it == topo.nodes.end()) continue;
    // Asked again until the member says it processed `index`: an answer that
    // is not that (a busy or restarting member, a kept-alive connection it
    // dropped) is no proof the change is in force there.
    for (;;) {
      const auto now = std::chrono::steady_clock::now();
      if (now >= deadline) break;
      auto r = store.cluster().connections().call(
          boost::beast::http::verb::get, it->second.url, "/admin/rachis/wait-for?index=" + std::to_string(index), "",
          std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now));
      if (r.ok() && r->status == 200) break;
      // Nothing could be sent (it refuses connections): the member is down
      // and catches up when it comes back; nobody waits for it.
      if (!r.ok() && r.status().is_busy()) break;
      std::this_thread::sleep_for(kMemberRetryPause);
    }
  }
}

}  // namespace corvus::server::handlers
