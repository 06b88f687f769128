// A patch of one document against a real DocumentsStorage (server/handlers/
// document_patch): the script runs outside the transaction, the write checks
// the change vector the script saw, and a document changed in between is
// reported as raced with the version that won, on which the next attempt runs.

#include "server/handlers/document_patch.h"

#include <boost/json/parse.hpp>
#include <doctest/doctest.h>

#include "storage/counters_storage.h"
#include "tests/support/temp_dir.h"

using namespace corvus;
using namespace corvus::server::handlers;
namespace json = boost::json;

namespace {

std::unique_ptr<storage::DocumentsStorage> open_at(const std::string& dir) {
  auto s = storage::DocumentsStorage::open(dir, storage::StorageOptions{});
  REQUIRE(s.ok());
  return std::move(s).value();
}

void put(storage::DocumentsStorage& s, const std::string& id, const char* body) {
  REQUIRE(s.write([&](storage::WriteTransaction& txn) -> Status {
             return txn.put(id, json::parse(body).as_object(), std::nullopt).status();
           }).ok());
}

PatchRequest script(const std::string& text) {
  PatchRequest r;
  r.patch.script = text;
  return r;
}

Status apply(storage::DocumentsStorage& s, PreparedPatch& p) {
  return s.write([&](storage::WriteTransaction& txn) -> Status { return apply_prepared_patch(txn, p).status(); });
}

int64_t age_of(storage::DocumentsStorage& s, const std::string& id) {
  auto d = s.get(id);
  REQUIRE(d.ok());
  return json::parse(d->json).at("Age").to_number<int64_t>();
}

}  // namespace

TEST_CASE("a patch writes the document, the script's puts and its counters in one transaction") {
  testing::TempDir dir;
  auto s = open_at(dir.path());
  put(*s, "users/1", R"({"Age":1,"@metadata":{"@collection":"Users"}})");
  auto p = prepare_patch(*s, "users/1",
                         script("this.Age++; put('logs/1', {Of: id(this)}); incrementCounter(this, 'views', 4);"),
                         std::nullopt, false);
  REQUIRE(p.ok());
  CHECK(p->status == PatchStatus::Patched);
  // Nothing is written before apply.
  CHECK(age_of(*s, "users/1") == 1);
  CHECK(s->get("logs/1").status().is_not_found());
  REQUIRE(apply(*s, *p).ok());
  CHECK(age_of(*s, "users/1") == 2);
  CHECK(json::parse(s->get("logs/1")->json).at("Of").as_string() == "users/1");
  auto counters = storage::CountersStorage(*s).get("users/1", {"views"});
  REQUIRE(counters.ok());
  REQUIRE(counters->front());
  CHECK(counters->front()->value.total().value() == 4);
}

TEST_CASE("a document changed between script and write: raced, and the next attempt runs on the winner") {
  testing::TempDir dir;
  auto s = open_at(dir.path());
  put(*s, "users/1", R"({"Age":1})");
  auto p = prepare_patch(*s, "users/1", script("this.Age += 10;"), std::nullopt, false);
  REQUIRE(p.ok());
  put(*s, "users/1", R"({"Age":100})");  // someone else's write wins
  Status st = apply(*s, *p);
  CHECK(st.is_concurrency_conflict());
  CHECK(p->raced);
  REQUIRE(p->latest);
  CHECK(age_of(*s, "users/1") == 100);  // the failed attempt wrote nothing
  KnownVersion known{p->latest};
  auto again = prepare_patch(*s, "users/1", script("this.Age += 10;"), std::nullopt, false, &known);
  REQUIRE(again.ok());
  REQUIRE(apply(*s, *again).ok());
  CHECK(age_of(*s, "users/1") == 110);

  // A script that changed nothing but wrote elsewhere is checked the same way.
  auto side = prepare_patch(*s, "users/1", script("put('logs/2', {Age: this.Age});"), std::nullopt, false);
  REQUIRE(side.ok());
  CHECK(side->status == PatchStatus::NotModified);
  put(*s, "users/1", R"({"Age":5})");
  CHECK(apply(*s, *side).is_concurrency_conflict());
  CHECK(side->raced);
  CHECK(s->get("logs/2").status().is_not_found());
}

TEST_CASE("missing documents: DocumentDoesNotExist, PatchIfMissing, CreateIfMissing") {
  testing::TempDir dir;
  auto s = open_at(dir.path());
  auto none = prepare_patch(*s, "users/9", script("this.Age = 1;"), std::nullopt, false);
  REQUIRE(none.ok());
  CHECK(none->status == PatchStatus::DocumentDoesNotExist);
  REQUIRE(apply(*s, *none).ok());
  CHECK(s->get("users/9").status().is_not_found());

  PatchRequest if_missing = script("this.Age = 1;");
  if_missing.patch_if_missing = scripting::PatchScript{"this.Age = 7; this.Me = id(this);", {}};
  auto created = prepare_patch(*s, "users/9", if_missing, std::nullopt, false);
  REQUIRE(created.ok());
  CHECK(created->status == PatchStatus::Created);
  // It appears meanwhile: the create must not overwrite it.
  put(*s, "users/9", R"({"Age":3})");
  CHECK(apply(*s, *created).is_concurrency_conflict());
  CHECK(age_of(*s, "users/9") == 3);

  PatchRequest create = script("this.Age = 1;");
  create.create_if_missing = json::parse(R"({"Age":42})").as_object();
  auto made = prepare_patch(*s, "users/10", create, std::nullopt, false);
  REQUIRE(made.ok());
  REQUIRE(apply(*s, *made).ok());
  CHECK(age_of(*s, "users/10") == 42);
}

TEST_CASE("the client's change vector: Skipped when asked, a conflict otherwise; script errors write nothing") {
  testing::TempDir dir;
  auto s = open_at(dir.path());
  put(*s, "users/1", R"({"Age":1})");
  std::optional<std::string> stale = std::string("A:999-abcdefghijklmnopqrstuv");
  auto skipped = prepare_patch(*s, "users/1", script("this.Age = 2;"), stale, true);
  REQUIRE(skipped.ok());
  CHECK(skipped->status == PatchStatus::Skipped);
  auto refused = prepare_patch(*s, "users/1", script("this.Age = 2;"), stale, false);
  CHECK(refused.status().is_concurrency_conflict());

  uint64_t etag = s->stats().last_etag;
  auto thrown = prepare_patch(*s, "users/1", script("put('x/1', {}); throw new Error('stop');"), std::nullopt, false);
  REQUIRE_FALSE(thrown.ok());
  CHECK(thrown.status().code() == StatusCode::InvalidArgument);
  CHECK(thrown.status().message().find("stop") != std::string::npos);
  CHECK(s->stats().last_etag == etag);
  CHECK(age_of(*s, "users/1") == 1);
}
