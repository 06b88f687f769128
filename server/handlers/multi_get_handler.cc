// POST /databases/{db}/multi_get: several GET requests in one round trip (the
// clients' lazy operations). Each entry {Url, Query, Method, Headers, Content}
// runs through the router like a request of its own; the answer lists each
// one's {Result, StatusCode, Headers} in order, once the last has answered
// (some answer later, e.g. compare-exchange reads wait for a read index).

#include <atomic>
#include <memory>
#include <mutex>

#include <boost/beast/http/verb.hpp>
#include <boost/json.hpp>

#include "server/handlers/handler_support.h"
#include "server/handlers/routes.h"
#include "server/http/router.h"
#include "server/server_store.h"

namespace corvus::server::handlers {
namespace {

using boost::beast::http::verb;
namespace json = boost::json;

struct Gathered {
  std::mutex mu;
  json::array results;
  std::atomic<std::size_t> left{0};
  http::Respond respond;
};

json::object entry_of(const http::Response& r) {
  json::object headers;
  for (const auto& [name, value] : r.headers) headers[name] = value;
  json::value result = nullptr;
  // RavenDB's 404s (a missing document, a query on a missing index) have no
  // body, and the clients read a present Result as the answer: a lazy query
  // would parse our error as a query result instead of raising IndexDoesNotExist.
  if (!r.body.empty() && r.status != 404) {
    boost::system::error_code ec;
    result = json::parse(r.body, ec);
    if (ec) result = json::string(r.body);
  }
  return {{"Result", std::move(result)}, {"StatusCode", r.status}, {"Headers", std::move(headers)}, {"Elapsed", 0}};
}

void handle_multi_get(const http::Router& router, ServerStore& store, const http::Request& req,
                      const http::Respond& respond) {
  if (!find_database(store, req, respond)) return;
  auto body = parse_json_body(req);
  if (!body.ok()) return respond_error(respond, body.status(), req);
  const auto* list = body->is_object() ? body->as_object().if_contains("Requests") : nullptr;
  if (!list || !list->is_array()) {
    return respond_error(respond, Status::InvalidArgument("Body must be {\"Requests\": [ ... ]}"), req);
  }
  std::vector<std::shared_ptr<http::Request>> subs;
  for (const auto& item : list->as_array()) {
    if (!item.is_object()) return respond_error(respond, Status::InvalidArgument("Each request must be an object"), req);
    const auto& o = item.as_object();
    auto sub = std::make_shared<http::Request>();
    const auto* url = o.if_contains("Url");
    if (!url || !url->is_string()) return respond_error(respond, Status::InvalidArgument("A request needs a \"Url\""), req);
    std::string query;
    if (const auto* q = o.if_contains("Query"); q && q->is_string()) query = std::string(q->as_string());
    if (!query.empty() && query.front() == '?') query.erase(0, 1);
    const auto* method = o.if_contains("Method");
    sub->method = method && method->is_string() ? boost::beast::http::string_to_verb(method->as_string()) : verb::get;
    sub->path = std::string(url->as_string());
    sub->target = sub->path + (query.empty() ? "" : "?" + query);
    sub->query.assign(query);
    if (const auto* h = o.if_contains("Headers"); h && h->is_object()) {
      for (const auto& kv : h->as_object()) {
        if (kv.value().is_string()) sub->headers.set(kv.key(), kv.value().as_string());
      }
    }
    // Content is the inner request's JSON body; the npm client sends it as
    // the JSON text (a string), RavenDB's C# client as the object.
    if (const auto* c = o.if_contains("Content"); c && !c->is_null())
      sub->body = c->is_string() ? std::string(c->as_string()) : json::serialize(*c);
    sub->request_id = req.request_id;
    // Each inner request is authorized on its own (the router's authorizer),
    // as the same client: the outer request, and so its certificate, lives
    // until the answer is sent.
    sub->client_certificate = req.client_certificate;
    subs.push_back(std::move(sub));
  }
  auto gathered = std::make_shared<Gathered>();
  gathered->results.resize(subs.size());
  gathered->left = subs.size();
  gathered->respond = respond;
  if (subs.empty()) return respond(http::Response::json(200, "{\"Results\":[]}"));
  for (std::size_t i = 0; i < subs.size(); ++i) {
    auto sub = subs[i];
    router.dispatch(*sub, [gathered, sub, i](http::Response r) {
      {
        std::lock_guard lock(gathered->mu);
        gathered->results[i] = entry_of(r);
      }
      if (--gathered->left == 0) {
        std::lock_guard lock(gathered->mu);
        gathered->respond(http::Response::json(
            200, json::serialize(json::object{{"Results", std::move(gathered->results)}})));
      }
    });
  }
}

}  // namespace

void register_multi_get_routes(http::Router& router, ServerStore& store) {
  const http::Router& r = router;
  router.add(verb::post, "/databases/{db}/multi_get", http::RouteAccess::DatabaseRead, "multi_get",
             [&r, &store](const http::Request& req, http::Respond respond) { handle_multi_get(r, store, req, respond); });
}

}  // namespace corvus::server::handlers
