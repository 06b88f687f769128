#include "rachis/cluster/conflict_solver_config.h"

#include <boost/json.hpp>
#include <doctest/doctest.h>

#include "rachis/cluster/database_record.h"

using namespace corvus;
using namespace corvus::rachis::cluster;
namespace json = boost::json;

namespace {

Result<ConflictSolverConfig> parse(const char* text) { return ConflictSolverConfig::from_json(json::parse(text)); }

// The InvalidArgument message of parsing `text` ("" when it parses).
std::string refusal(const char* text) {
  auto r = parse(text);
  if (r.ok()) return "";
  CHECK(r.status().is_invalid_argument());
  return r.status().message();
}

}  // namespace

TEST_CASE("ConflictSolverConfig: the policy storage applies") {
  CHECK(conflict_policy_of(nullptr) == storage::ConflictPolicy::ResolveToLatest);
  CHECK(parse(R"({"ResolveToLatest":true})")->policy() == storage::ConflictPolicy::ResolveToLatest);
  CHECK(parse(R"({"ResolveToLatest":false})")->policy() == storage::ConflictPolicy::KeepConflict);
  // What the npm client sends for ModifyConflictSolverOperation(db).
  CHECK(parse(R"({"ResolveToLatest":false,"ResolveByCollection":null})")->policy() ==
        storage::ConflictPolicy::KeepConflict);
  // Absent is false, as RavenDB reads a ConflictSolver.
  CHECK(parse(R"({})")->policy() == storage::ConflictPolicy::KeepConflict);
  // Scripts are not run yet: a database with one keeps its conflicts.
  auto scripted = parse(R"({"ResolveToLatest":true,"ResolveByCollection":{"Users":{"Script":"return docs[0];"}}})");
  REQUIRE(scripted.ok());
  CHECK(scripted->has_scripts());
  CHECK(scripted->policy() == storage::ConflictPolicy::KeepConflict);
  // A blank script is no script.
  auto blank = parse(R"({"ResolveToLatest":true,"ResolveByCollection":{"Users":{"Script":"  \n"}}})");
  REQUIRE(blank.ok());
  CHECK_FALSE(blank->has_scripts());
  CHECK(blank->policy() == storage::ConflictPolicy::ResolveToLatest);
  CHECK(conflict_policy_of(&*blank) == storage::ConflictPolicy::ResolveToLatest);
}

TEST_CASE("ConflictSolverConfig: JSON round trip in RavenDB's shape") {
  auto c = parse(R"({"ResolveToLatest":true,"ResolveByCollection":{"Users":{"Script":"s","LastModifiedTime":"2026-12-06T16:00:00Z"},"Orders":{"Script":"t","LastModifiedTime":null}},"Other":1})");
  REQUIRE(c.ok());
  const json::object shown = c->to_json();
  CHECK(shown == json::parse(R"({"ResolveToLatest":true,"ResolveByCollection":{
      "Orders":{"Script":"t","LastModifiedTime":null},
      "Users":{"Script":"s","LastModifiedTime":"2026-12-06T16:00:00.0000000Z"}}})"));
  auto again = ConflictSolverConfig::from_json(shown);
  REQUIRE(again.ok());
  CHECK(again->to_json() == shown);
}

TEST_CASE("ConflictSolverConfig: malformed solvers are refused naming the field") {
  CHECK(refusal("[]").find("JSON object") != std::string::npos);
  CHECK(refusal("null").find("JSON object") != std::string::npos);
  CHECK(refusal(R"({"ResolveToLatest":"yes"})").find("ResolveToLatest") != std::string::npos);
  CHECK(refusal(R"({"ResolveToLatest":null})").find("ResolveToLatest") != std::string::npos);
  CHECK(refusal(R"({"ResolveByCollection":[]})").find("ResolveByCollection") != std::string::npos);
  CHECK(refusal(R"({"ResolveByCollection":{"Users":"return 1"}})").find("ResolveByCollection['Users']") !=
        std::string::npos);
  CHECK(refusal(R"({"ResolveByCollection":{"Users":{}}})").find("ResolveByCollection['Users'].Script") !=
        std::string::npos);
  CHECK(refusal(R"({"ResolveByCollection":{"Users":{"Script":"s","LastModifiedTime":"yesterday"}}})")
            .find("LastModifiedTime") != std::string::npos);
  CHECK(refusal(R"({"ResolveByCollection":{"Users":{"Script":"s"},"USERS":{"Script":"t"}}})").find("same collection") !=
        std::string::npos);
  CHECK(refusal(R"({"ResolveByCollection":{"":{"Script":"s"}}})").find("empty collection name") != std::string::npos);
}

TEST_CASE("DatabaseRecord: ConflictSolverConfig given at creation is typed; an unreadable one stays verbatim") {
  DatabaseRecord r;
  REQUIRE(DatabaseRecord::from_json(
      json::parse(R"({"DatabaseName":"x","ConflictSolverConfig":{"ResolveToLatest":false}})").as_object(), &r));
  REQUIRE(r.conflict_solver);
  CHECK(r.conflict_solver->policy() == storage::ConflictPolicy::KeepConflict);
  CHECK(r.to_json().at("ConflictSolverConfig") == json::parse(R"({"ResolveToLatest":false,"ResolveByCollection":{}})"));

  DatabaseRecord odd;
  REQUIRE(DatabaseRecord::from_json(
      json::parse(R"({"DatabaseName":"y","ConflictSolverConfig":{"ResolveToLatest":7}})").as_object(), &odd));
  CHECK(odd.conflict_solver == nullptr);
  CHECK(odd.to_json().at("ConflictSolverConfig").at("ResolveToLatest") == 7);

  DatabaseRecord none;
  REQUIRE(DatabaseRecord::from_json(json::parse(R"({"DatabaseName":"z","ConflictSolverConfig":null})").as_object(), &none));
  CHECK(none.conflict_solver == nullptr);
}
