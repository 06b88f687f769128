// Conflicts over HTTP against a real corvusd: the conflict solver endpoint
// (RavenDB's answer, the record, bad input that changes nothing, a restart),
// and what a client sees of a document in conflict: 409
// DocumentConflictException on a load, /replication/conflicts, and a PUT or
// DELETE that resolves it. Replication cannot produce a conflict here yet, so
// the test stops corvusd and applies another member's concurrent version to
// the database's files through storage's own incoming-write path
// (ReplicatedWrites::apply, KeepConflict), exactly what the replication
// stream calls, then starts corvusd again on them.

#include <set>
#include <string>

#include <boost/json.hpp>
#include <doctest/doctest.h>

#include "storage/documents_storage.h"
#include "storage/replicated_writes.h"
#include "tests/support/http_checks.h"
#include "tests/support/single_node_db.h"

using namespace corvus;
using namespace corvus::testing;
namespace json = boost::json;

namespace {

const char* const kSolverUrl = "/admin/replication/conflicts/solver?name=db";

// The record's ConflictSolverConfig as GET /admin/databases shows it (null when none).
json::value solver_in_record(HttpClient& c, const std::string& name = "db") {
  auto r = c.request("GET", "/admin/databases?name=" + name);
  REQUIRE(r.status == 200);
  auto o = json::parse(r.body).as_object();
  return o.contains("ConflictSolverConfig") ? o["ConflictSolverConfig"] : json::value(nullptr);
}

std::string node_tag(HttpClient& c) {
  auto t = json_of(c.request("GET", "/cluster/topology"));
  return std::string(t.at("NodeTag").as_string());
}

// Applies, with corvusd stopped, versions of users/1 (a document) and
// users/2 (a deletion) written concurrently by another member, under
// KeepConflict: both documents end up in conflict.
void apply_concurrent_versions_offline(SingleNodeDb& node, const std::string& tag) {
  REQUIRE(node.server.terminate() == 0);
  {
    storage::StorageOptions options;
    options.node_tag = tag;
    auto opened = storage::DocumentsStorage::open(node.data_dir + "/databases/db/storage", options);
    REQUIRE_MESSAGE(opened.ok(), opened.status().to_string());
    auto& storage = *opened.value();
    // Another member's database, which never saw our writes.
    const std::string other_cv = "B:7-otherDatabaseId00000001";
    Status s = storage.write([&](storage::WriteTransaction& txn) -> Status {
      storage::IncomingVersion put;
      put.id = "users/1";
      put.collection = "Users";
      put.change_vector = other_cv;
      put.last_modified_us = 1'700'000'000'000'000;
      put.json = R"({"v":"remote","@metadata":{"@collection":"Users"}})";
      auto a = storage::ReplicatedWrites::apply(txn, put, storage::ConflictPolicy::KeepConflict);
      if (!a.ok()) return a.status();
      if (a.value() != storage::ReplicatedOutcome::Conflicted) return Status::Internal("users/1 not conflicted");
      storage::IncomingVersion deletion;
      deletion.id = "users/2";
      deletion.collection = "Users";
      deletion.change_vector = other_cv;
      deletion.last_modified_us = 1'700'000'000'000'000;
      auto b = storage::ReplicatedWrites::apply(txn, deletion, storage::ConflictPolicy::KeepConflict);
      if (!b.ok()) return b.status();
      if (b.value() != storage::ReplicatedOutcome::Conflicted) return Status::Internal("users/2 not conflicted");
      return Status::Ok();
    });
    REQUIRE_MESSAGE(s.ok(), s.to_string());
  }
  REQUIRE_MESSAGE(node.server.start(), node.server.log());
}

json::object conflicts_of(HttpClient& c, const std::string& query) {
  return json_of(c.request("GET", "/databases/db/replication/conflicts" + query));
}

bool flags_contain(const json::value& doc, const std::string& flag) {
  const auto* md = doc.as_object().if_contains("@metadata");
  const auto* flags = md ? md->as_object().if_contains("@flags") : nullptr;
  return flags && flags->is_string() && std::string(flags->as_string()).find(flag) != std::string::npos;
}

}  // namespace

TEST_CASE("corvusd conflict solver: RavenDB's answer, the record, bad input changes nothing, a restart keeps it") {
  SingleNodeDb node;
  HttpClient& c = node.client;
  CHECK(solver_in_record(c).is_null());
  CHECK(c.request("GET", "/databases/db/replication/conflicts/solver").status == 404);

  // What the npm client's ModifyConflictSolverOperation(db, {}, false) sends.
  auto r = c.request("POST", kSolverUrl + std::string("&raft-request-id=1"),
                     R"({"ResolveToLatest":false,"ResolveByCollection":{}})");
  REQUIRE_MESSAGE(r.status == 201, r.body);
  auto answer = json::parse(r.body).as_object();
  CHECK(answer.at("Key") == "db");
  CHECK(answer.at("RaftCommandIndex").to_number<uint64_t>() > 0);
  const json::value keep = json::parse(R"({"ResolveToLatest":false,"ResolveByCollection":{}})");
  CHECK(answer.at("ConflictSolverConfig") == keep);
  CHECK(solver_in_record(c) == keep);
  CHECK(json::value(json_of(c.request("GET", "/databases/db/replication/conflicts/solver"))) == keep);

  SUBCASE("bad input gets a clear 4xx and changes nothing") {
    REQUIRE(c.request("PUT", "/databases/db/docs?id=users/1", R"({"a":1})").status == 201);
    const uint64_t etag = last_etag(c);
    check_error(c.request("POST", kSolverUrl, R"({"ResolveToLatest":)"), 400, "Malformed JSON");
    check_error(c.request("POST", kSolverUrl, R"([true])"), 400, "JSON object");
    check_error(c.request("POST", kSolverUrl, R"({"ResolveToLatest":"yes"})"), 400, "ResolveToLatest");
    check_error(c.request("POST", kSolverUrl, R"({"ResolveToLatest":true,"ResolveByCollection":[1]})"), 400,
                "ResolveByCollection");
    check_error(c.request("POST", kSolverUrl, R"({"ResolveByCollection":{"Users":{"Script":7}}})"), 400,
                "ResolveByCollection['Users'].Script");
    check_error(c.request("POST", kSolverUrl,
                          R"({"ResolveByCollection":{"Users":{"Script":"s","LastModifiedTime":"noon"}}})"),
                400, "LastModifiedTime");
    check_error(c.request("POST", "/admin/replication/conflicts/solver", R"({"ResolveToLatest":true})"), 400,
                "'name'");
    auto missing = c.request("POST", "/admin/replication/conflicts/solver?name=nope", R"({"ResolveToLatest":true})");
    CHECK(missing.status == 503);
    CHECK(missing.body.find("DatabaseDoesNotExistException") != std::string::npos);
    check_error(c.request("PUT", "/admin/databases",
                          R"({"DatabaseName":"db2","ConflictSolverConfig":{"ResolveToLatest":1}})"),
                400, "ConflictSolverConfig");
    CHECK(c.request("GET", "/admin/databases?name=db2").status == 404);
    CHECK(solver_in_record(c) == keep);
    CHECK(last_etag(c) == etag);
  }
  SUBCASE("a later solver replaces it; scripts are kept as given; a restart keeps it") {
    auto scripted = c.request(
        "POST", kSolverUrl,
        R"({"ResolveToLatest":true,"ResolveByCollection":{"Users":{"Script":"return docs[0];","LastModifiedTime":"2026-12-06T16:00:00.000Z"}}})");
    REQUIRE_MESSAGE(scripted.status == 201, scripted.body);
    const json::value expected = json::parse(
        R"({"ResolveToLatest":true,"ResolveByCollection":{"Users":{"Script":"return docs[0];","LastModifiedTime":"2026-12-06T16:00:00.0000000Z"}}})");
    CHECK(json::parse(scripted.body).at("ConflictSolverConfig") == expected);
    CHECK(solver_in_record(c) == expected);
    REQUIRE(node.server.terminate() == 0);
    REQUIRE_MESSAGE(node.server.start(), node.server.log());
    HttpClient again("127.0.0.1", node.port);
    CHECK(solver_in_record(again) == expected);
  }
  SUBCASE("given at creation, it is in the record") {
    REQUIRE(c.request("PUT", "/admin/databases",
                      R"({"DatabaseName":"db2","ConflictSolverConfig":{"ResolveToLatest":true}})")
                .status == 201);
    CHECK(solver_in_record(c, "db2") == json::parse(R"({"ResolveToLatest":true,"ResolveByCollection":{}})"));
  }
}

TEST_CASE("corvusd conflicts: 409 on load, the conflicts endpoint, and a PUT or DELETE resolves the conflict") {
  SingleNodeDb node;
  const std::string tag = node_tag(node.client);
  REQUIRE(node.client.request("PUT", "/databases/db/docs?id=users/1",
                              R"({"v":"local","@metadata":{"@collection":"Users"}})")
              .status == 201);
  REQUIRE(node.client.request("PUT", "/databases/db/docs?id=users/2",
                              R"({"v":"kept","@metadata":{"@collection":"Users"}})")
              .status == 201);
  REQUIRE(node.client.request("PUT", "/databases/db/docs?id=users/3", R"({"v":"plain"})").status == 201);
  apply_concurrent_versions_offline(node, tag);
  HttpClient c("127.0.0.1", node.port);

  // The versions of users/1, as RavenDB lists them.
  auto versions = conflicts_of(c, "?docId=users/1");
  CHECK(versions.at("Id") == "users/1");
  const uint64_t largest = versions.at("LargestEtag").to_number<uint64_t>();
  CHECK(largest > 0);
  const auto& results = versions.at("Results").as_array();
  REQUIRE(results.size() == 2);
  std::set<std::string> bodies;
  for (const auto& v : results) {
    CHECK(!std::string(v.at("ChangeVector").as_string()).empty());
    CHECK(v.at("LastModified").is_string());
    bodies.insert(std::string(v.at("Doc").at("v").as_string()));
  }
  CHECK(bodies == std::set<std::string>{"local", "remote"});
  // users/2: our document against their deletion (Doc null).
  auto deletion = conflicts_of(c, "?docId=USERS/2");
  REQUIRE(deletion.at("Results").as_array().size() == 2);
  int deletions = 0;
  for (const auto& v : deletion.at("Results").as_array()) deletions += v.at("Doc").is_null() ? 1 : 0;
  CHECK(deletions == 1);
  // Not in conflict: no results, as RavenDB answers.
  CHECK(conflicts_of(c, "?docId=users/3") == json::parse(R"({"Id":"users/3","LargestEtag":0,"Results":[]})"));
  // Statistics count the conflicting versions and the documents in conflict.
  auto stats = json_of(c.request("GET", "/databases/db/stats"));
  CHECK(stats.at("CountOfConflicts") == 4);
  CHECK(stats.at("CountOfDocumentsConflicts") == 2);

  SUBCASE("a load answers RavenDB's 409 DocumentConflictException") {
    auto one = c.request("GET", "/databases/db/docs?id=Users/1");
    check_error(one, 409, "Conflict detected on 'users/1'", "Raven.Client.Exceptions.Documents.DocumentConflictException");
    auto body = json::parse(one.body).as_object();
    CHECK(body.at("DocId") == "users/1");
    CHECK(body.at("LargestEtag").to_number<uint64_t>() == largest);
    CHECK(c.request("HEAD", "/databases/db/docs?id=users/1").status == 409);
    // One conflicted document fails a load of several (GET and POST forms).
    check_error(c.request("GET", "/databases/db/docs?id=users/3&id=users/2"), 409, "users/2",
                "DocumentConflictException");
    check_error(c.request("POST", "/databases/db/docs", R"({"Ids":["users/3","users/1"]})"), 409, "users/1",
                "DocumentConflictException");
    // A document that is only missing is still a 404, one not in conflict loads.
    CHECK(c.request("GET", "/databases/db/docs?id=users/404").status == 404);
    CHECK(c.request("GET", "/databases/db/docs?id=users/3").status == 200);
  }
  SUBCASE("the conflicted documents, with paging") {
    auto all = conflicts_of(c, "");
    CHECK(all.at("TotalResults") == 2);
    const auto& listed = all.at("Results").as_array();
    REQUIRE(listed.size() == 2);
    CHECK(listed[0].at("Id") == "users/1");
    CHECK(listed[1].at("Id") == "users/2");
    CHECK(listed[0].at("LastModified").is_string());
    auto second = conflicts_of(c, "?start=1&pageSize=1");
    CHECK(second.at("TotalResults") == 2);
    REQUIRE(second.at("Results").as_array().size() == 1);
    CHECK(second.at("Results").as_array()[0].at("Id") == "users/2");
    CHECK(conflicts_of(c, "?etag=" + std::to_string(largest + 1000)).at("TotalResults") == 0);
    check_error(c.request("GET", "/databases/db/replication/conflicts?pageSize=x"), 400, "pageSize");
    check_error(c.request("GET", "/databases/db/replication/conflicts?etag=-1"), 400, "etag");
    CHECK(c.request("GET", "/databases/nope/replication/conflicts").status == 503);
  }
  SUBCASE("a PUT resolves it: the new version wins, every conflicting version is kept as a revision") {
    auto put = c.request("PUT", "/databases/db/docs?id=users/1", R"({"v":"resolved","@metadata":{"@collection":"Users"}})");
    REQUIRE_MESSAGE(put.status == 201, put.body);
    auto doc = json_of(c.request("GET", "/databases/db/docs?id=users/1"));
    CHECK(doc.at("Results").as_array()[0].at("v") == "resolved");
    CHECK(flags_contain(doc.at("Results").as_array()[0], "Resolved"));
    CHECK(conflicts_of(c, "?docId=users/1").at("Results").as_array().empty());
    auto revisions = json_of(c.request("GET", "/databases/db/revisions?id=users/1"));
    int conflicted = 0;
    for (const auto& rev : revisions.at("Results").as_array()) conflicted += flags_contain(rev, "Conflicted") ? 1 : 0;
    CHECK(conflicted == 2);
    CHECK(conflicts_of(c, "").at("TotalResults") == 1);
    auto after = json_of(c.request("GET", "/databases/db/stats"));
    CHECK(after.at("CountOfConflicts") == 2);
    CHECK(after.at("CountOfDocumentsConflicts") == 1);
  }
  SUBCASE("a DELETE resolves it to a deletion") {
    REQUIRE(c.request("DELETE", "/databases/db/docs?id=users/2").status == 204);
    CHECK(c.request("GET", "/databases/db/docs?id=users/2").status == 404);
    CHECK(conflicts_of(c, "?docId=users/2").at("Results").as_array().empty());
    CHECK(conflicts_of(c, "").at("TotalResults") == 1);
  }
}
