// Pull replication hubs on a secured corvusd, end to end over HTTPS: a hub is
// defined, changed, listed in the database's tasks and deleted through the
// routes the official clients call; a sink's certificate is registered for
// it (and listed, unregistered); bad input is a 400 that changes nothing; and
// a certificate registered for a hub is refused with a clear 403 on every
// endpoint family, even when someone registers it as a client certificate too.
// Certificates are made by the test (tests/support/test_certificates.h).

#include <doctest/doctest.h>

#include <chrono>
#include <string>
#include <thread>

#include <boost/json.hpp>

#include "tests/support/corvusd_process.h"
#include "tests/support/secured_node.h"
#include "tests/support/temp_dir.h"
#include "tests/support/test_certificates.h"
#include "tests/support/test_identity.h"
#include "tests/support/tls_client.h"

using namespace corvus::testing;
using namespace std::chrono_literals;
namespace json = boost::json;

namespace {

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

// Base64 of the DER: the PEM's body without its armour lines (what the
// official clients send as CertificateBase64).
struct SecuredHub : SecuredNode {
  TestIdentity edge = make_test_identity(certs, "edge");
  TestIdentity other_edge = make_test_identity(certs, "other-edge");
};

json::value parse(const HttpResult& r) {
  boost::system::error_code ec;
  auto v = json::parse(r.body, ec);
  REQUIRE_MESSAGE(!ec, r.status << " " << r.body);
  return v;
}

std::string message_of(const HttpResult& r, unsigned status) {
  CHECK_MESSAGE(r.status == status, r.status << " " << r.error << r.body);
  auto v = parse(r);
  REQUIRE_MESSAGE(v.is_object(), r.body);
  return std::string(v.at("Message").as_string());
}

std::string access_body(const std::string& name, const TestIdentity& id, const json::array& h2s = {},
                        const json::array& s2h = {}) {
  return json::serialize(json::object{{"Name", name},
                                      {"CertificateBase64", id.der_base64},
                                      {"AllowedHubToSinkPaths", h2s},
                                      {"AllowedSinkToHubPaths", s2h}});
}

// The database record's raft etag-free view of its hubs, for "nothing changed" checks.
std::string hubs_of(TlsClient& admin) {
  auto r = admin.request("GET", "/databases/hub/tasks");
  REQUIRE_MESSAGE(r.status == 200, r.body);
  return json::serialize(parse(r).at("PullReplications"));
}

}  // namespace

TEST_CASE("pull replication hub: define, change, list, register and unregister sink certificates, delete") {
  SecuredHub s;
  auto admin = s.client(&s.admin);
  REQUIRE(admin.request("PUT", "/admin/databases?name=hub", R"({"DatabaseName":"hub"})").status == 201);

  // What PutPullReplicationAsHubOperation sends (npm client).
  auto put = admin.request("PUT", "/databases/hub/admin/tasks/pull-replication/hub",
                           R"({"Name":"edges","Mode":"HubToSink,SinkToHub","WithFiltering":false})");
  REQUIRE_MESSAGE(put.status == 200, put.body);
  const auto task_id = parse(put).at("TaskId").to_number<std::uint64_t>();
  CHECK(task_id > 0);
  CHECK(parse(put).at("RaftCommandIndex").to_number<std::uint64_t>() == task_id);

  auto tasks = parse(admin.request("GET", "/databases/hub/tasks"));
  REQUIRE(tasks.at("PullReplications").as_array().size() == 1);
  CHECK(tasks.at("PullReplications").at(0).at("Name") == "edges");
  CHECK(tasks.at("PullReplications").at(0).at("Mode") == "HubToSink, SinkToHub");
  CHECK(tasks.at("PullReplications").at(0).at("TaskId").to_number<std::uint64_t>() == task_id);

  auto one = admin.request("GET", "/databases/hub/tasks/pull-replication/hub?key=" + std::to_string(task_id));
  REQUIRE_MESSAGE(one.status == 200, one.body);
  CHECK(parse(one).at("Definition").at("Name") == "edges");
  CHECK(admin.request("GET", "/databases/hub/tasks/pull-replication/hub?key=999999").status == 404);

  SUBCASE("bad input: a 400 that names the problem and changes nothing") {
    const std::string before = hubs_of(admin);
    CHECK(contains(message_of(admin.request("PUT", "/databases/hub/admin/tasks/pull-replication/hub",
                                            R"({"Name":"x","Mode":"Both"})"),
                              400),
                   "Mode"));
    CHECK(contains(message_of(admin.request("PUT", "/databases/hub/admin/tasks/pull-replication/hub",
                                            R"({"Mode":"HubToSink"})"),
                              400),
                   "Name"));
    CHECK(contains(message_of(admin.request("PUT", "/databases/hub/admin/tasks/pull-replication/hub", "{"), 400),
                   "JSON"));
    CHECK(contains(message_of(admin.request("PUT", "/databases/hub/admin/tasks/pull-replication/hub",
                                            R"({"Name":"EDGES"})"),
                              400),
                   "already exists"));
    CHECK(contains(message_of(admin.request("PUT", "/databases/hub/admin/tasks/pull-replication/hub/access?name=edges",
                                            R"({"Name":"e","CertificateBase64":"bm90IGEgY2VydA=="})"),
                              400),
                   "CertificateBase64"));
    CHECK(contains(message_of(admin.request("PUT", "/databases/hub/admin/tasks/pull-replication/hub/access?name=edges",
                                            access_body("e", s.edge, json::array{"us*ers/"})),
                              400),
                   "AllowedHubToSinkPaths"));
    // The cluster's admin certificate cannot become a sink's.
    CHECK(contains(message_of(admin.request("PUT", "/databases/hub/admin/tasks/pull-replication/hub/access?name=edges",
                                            access_body("e", s.admin)),
                              400),
                   "certificate of its own"));
    // An access for a hub that does not exist: 404, what the clients turn
    // into ReplicationHubNotFoundException.
    CHECK(admin.request("PUT", "/databases/hub/admin/tasks/pull-replication/hub/access?name=nope",
                        access_body("e", s.edge))
              .status == 404);
    CHECK(contains(message_of(admin.request("DELETE", "/databases/hub/admin/tasks?id=" + std::to_string(task_id) +
                                                          "&type=Backup"),
                              400),
                   "not supported"));
    CHECK(hubs_of(admin) == before);
    CHECK(parse(admin.request("GET", "/databases/hub/admin/tasks/pull-replication/hub/access?name=edges"))
              .at("Results")
              .as_array()
              .empty());
    CHECK(admin.request("PUT", "/databases/nodb/admin/tasks/pull-replication/hub", R"({"Name":"x"})").status == 503);
  }

  SUBCASE("an update by task id changes the hub; accesses are registered, listed, replaced, unregistered") {
    put = admin.request("PUT", "/databases/hub/admin/tasks/pull-replication/hub",
                        json::serialize(json::object{
                            {"Name", "edges"}, {"TaskId", task_id}, {"Mode", "HubToSink"}, {"WithFiltering", true}}));
    REQUIRE_MESSAGE(put.status == 200, put.body);
    CHECK(parse(put).at("TaskId").to_number<std::uint64_t>() == task_id);
    tasks = parse(admin.request("GET", "/databases/hub/tasks"));
    REQUIRE(tasks.at("PullReplications").as_array().size() == 1);
    CHECK(tasks.at("PullReplications").at(0).at("Mode") == "HubToSink");
    CHECK(tasks.at("PullReplications").at(0).at("WithFiltering") == true);

    // Filtering: an access without paths is refused.
    CHECK(contains(message_of(admin.request("PUT", "/databases/hub/admin/tasks/pull-replication/hub/access?name=edges",
                                            access_body("e", s.edge)),
                              400),
                   "AllowedHubToSinkPaths"));
    auto r = admin.request("PUT", "/databases/hub/admin/tasks/pull-replication/hub/access?name=edges",
                           access_body("edge-1", s.edge, json::array{"users/*"}));
    REQUIRE_MESSAGE(r.status == 200, r.body);
    r = admin.request("PUT", "/databases/hub/admin/tasks/pull-replication/hub/access?name=edges",
                      access_body("edge-2", s.other_edge, json::array{"orders/*"}));
    REQUIRE_MESSAGE(r.status == 200, r.body);
    // Same certificate again: replaces.
    r = admin.request("PUT", "/databases/hub/admin/tasks/pull-replication/hub/access?name=edges",
                      access_body("edge-1", s.edge, json::array{"users/*", "companies/*"}));
    REQUIRE_MESSAGE(r.status == 200, r.body);
    auto listed = parse(admin.request("GET", "/databases/hub/admin/tasks/pull-replication/hub/access?name=edges"));
    REQUIRE(listed.at("Results").as_array().size() == 2);
    CHECK(listed.at("Results").at(0).at("Thumbprint").as_string() == s.edge.thumbprint);
    CHECK(listed.at("Results").at(0).at("Subject") == "CN=edge");
    CHECK(listed.at("Results").at(0).at("AllowedHubToSinkPaths").as_array().size() == 2);
    CHECK(listed.at("Results").at(0).at("Certificate").as_string() == s.edge.der_base64);
    auto page = parse(admin.request("GET", "/databases/hub/admin/tasks/pull-replication/hub/access?name=edges&start=1&pageSize=5"));
    REQUIRE(page.at("Results").as_array().size() == 1);
    CHECK(page.at("Results").at(0).at("Thumbprint").as_string() == s.other_edge.thumbprint);

    r = admin.request("DELETE", "/databases/hub/admin/tasks/pull-replication/hub/access?name=edges&thumbprint=" +
                                    s.other_edge.thumbprint);
    REQUIRE_MESSAGE(r.status == 200, r.body);
    listed = parse(admin.request("GET", "/databases/hub/admin/tasks/pull-replication/hub/access?name=edges"));
    CHECK(listed.at("Results").as_array().size() == 1);

    // It all survives a restart (the record is in the cluster state).
    CHECK(s.node->terminate() == 0);
    s.node->spawn();
    const auto deadline = std::chrono::steady_clock::now() + 20s;
    HttpResult after;
    while (std::chrono::steady_clock::now() < deadline) {
      after = s.client(&s.admin, 1s).request("GET", "/databases/hub/admin/tasks/pull-replication/hub/access?name=edges");
      if (after.status == 200) break;
      std::this_thread::sleep_for(100ms);
    }
    REQUIRE_MESSAGE(after.status == 200, after.status << " " << after.body << s.node->log());
    CHECK(parse(after).at("Results").as_array().size() == 1);
  }

  SUBCASE("deleting the hub removes it from the tasks and its accesses with it") {
    REQUIRE(admin.request("PUT", "/databases/hub/admin/tasks/pull-replication/hub/access?name=edges",
                          access_body("edge-1", s.edge))
                .status == 200);
    auto del = admin.request("DELETE", "/databases/hub/admin/tasks?id=" + std::to_string(task_id) +
                                           "&type=PullReplicationAsHub");
    REQUIRE_MESSAGE(del.status == 200, del.body);
    CHECK(parse(del).at("TaskId").to_number<std::uint64_t>() == task_id);
    CHECK(parse(admin.request("GET", "/databases/hub/tasks")).at("PullReplications").as_array().empty());
    CHECK(admin.request("GET", "/databases/hub/admin/tasks/pull-replication/hub/access?name=edges").status == 404);
    CHECK(admin.request("DELETE", "/databases/hub/admin/tasks?id=" + std::to_string(task_id) +
                                      "&type=PullReplicationAsHub")
              .status == 404);
    // Its certificate lost the hub: it is now simply unknown.
    auto r = s.client(&s.edge).request("GET", "/databases/hub/docs?id=users/1");
    CHECK(r.status == 403);
    CHECK(contains(r.body, "is not registered on this cluster"));
  }
  CHECK(s.node->terminate() == 0);
}

TEST_CASE("pull replication hub: a sink's certificate is refused on every endpoint family, with a clear 403") {
  SecuredHub s;
  auto admin = s.client(&s.admin);
  REQUIRE(admin.request("PUT", "/admin/databases?name=hub", R"({"DatabaseName":"hub"})").status == 201);
  REQUIRE(admin.request("PUT", "/databases/hub/docs?id=users/1", R"({"name":"Ann"})").status == 201);
  REQUIRE(admin.request("PUT", "/databases/hub/admin/tasks/pull-replication/hub", R"({"Name":"edges"})").status == 200);
  auto r = admin.request("PUT", "/databases/hub/admin/tasks/pull-replication/hub/access?name=edges",
                         access_body("edge-1", s.edge));
  REQUIRE_MESSAGE(r.status == 200, r.body);

  // A registered client certificate cannot become a hub access (it would
  // lose its other permissions silently).
  r = admin.request("PUT", "/admin/certificates",
                    json::serialize(json::object{{"Name", "reader"},
                                                 {"Certificate", s.other_edge.pem},
                                                 {"SecurityClearance", "ValidUser"},
                                                 {"Permissions", json::object{{"hub", "Read"}}}}));
  REQUIRE_MESSAGE(r.status == 201, r.body);
  CHECK(contains(message_of(admin.request("PUT", "/databases/hub/admin/tasks/pull-replication/hub/access?name=edges",
                                          access_body("e2", s.other_edge)),
                            400),
                 "registered as client certificate 'reader'"));
  CHECK(s.client(&s.other_edge).request("GET", "/databases/hub/docs?id=users/1").status == 200);

  // Registered the other way round (hub access first, then as a client
  // certificate with every right): the hub access still wins everywhere.
  r = admin.request("PUT", "/admin/certificates",
                    json::serialize(json::object{{"Name", "sneaky"},
                                                 {"Certificate", s.edge.pem},
                                                 {"SecurityClearance", "Operator"},
                                                 {"Permissions", json::object{}}}));
  REQUIRE_MESSAGE(r.status == 201, r.body);

  auto edge = s.client(&s.edge);
  struct Call {
    const char* method;
    std::string target;
    std::string body;
  };
  const std::vector<Call> calls{
      {"GET", "/databases/hub/docs?id=users/1", ""},
      {"PUT", "/databases/hub/docs?id=users/2", R"({"name":"Eve"})"},
      {"DELETE", "/databases/hub/docs?id=users/1", ""},
      {"POST", "/databases/hub/bulk_docs", R"({"Commands":[{"Type":"PUT","Id":"users/3","Document":{}}]})"},
      {"POST", "/databases/hub/queries", R"({"Query":"from users"})"},
      {"GET", "/databases/hub/streams/docs?startsWith=users/", ""},
      {"GET", "/databases/hub/revisions?id=users/1", ""},
      {"GET", "/databases/hub/counters?docId=users/1", ""},
      {"GET", "/databases/hub/attachments?id=users/1&name=a", ""},
      {"GET", "/databases/hub/indexes", ""},
      {"GET", "/databases/hub/subscriptions", ""},
      {"GET", "/databases/hub/cmpxchg?key=a", ""},
      {"GET", "/databases/hub/tasks", ""},
      {"GET", "/databases/hub/replication/performance", ""},
      {"GET", "/databases/hub/stats", ""},
      {"GET", "/databases/hub/changes", ""},
      {"PUT", "/databases/hub/admin/tasks/pull-replication/hub", R"({"Name":"mine"})"},
      {"GET", "/databases/hub/admin/tasks/pull-replication/hub/access?name=edges", ""},
      {"GET", "/topology?name=hub", ""},
      {"GET", "/databases", ""},
      {"GET", "/info/tcp", ""},
      {"GET", "/cluster/topology", ""},
      {"PUT", "/admin/databases?name=x", R"({"DatabaseName":"x"})"},
      {"GET", "/admin/certificates", ""},
      {"PUT", "/admin/cluster/node?url=http://127.0.0.1:1", ""},
  };
  for (const auto& c : calls) {
    CAPTURE(c.method);
    CAPTURE(c.target);
    r = edge.request(c.method, c.target, c.body);
    const std::string m = message_of(r, 403);
    CHECK(parse(r).at("Type") == "Raven.Client.Exceptions.Security.AuthorizationException");
    CHECK(contains(m, "registered for pull replication only: hub 'edges' of database 'hub' (access 'edge-1')"));
    CHECK(contains(m, "nothing else"));
  }
  // Nothing the refused calls tried happened.
  CHECK(admin.request("GET", "/databases/hub/docs?id=users/1").status == 200);
  CHECK(admin.request("GET", "/databases/hub/docs?id=users/2").status == 404);
  CHECK(admin.request("GET", "/databases/hub/docs?id=users/3").status == 404);
  CHECK(admin.request("GET", "/databases?name=x").body.find("\"x\"") == std::string::npos);
  auto tasks = parse(admin.request("GET", "/databases/hub/tasks"));
  CHECK(tasks.at("PullReplications").as_array().size() == 1);
  CHECK(s.node->terminate() == 0);
}
