// The JavaScript engine and the patch API (server/scripting): what a script
// sees and what it asks to write, its errors, and its limits.

#include <doctest/doctest.h>

#include <map>
#include <thread>

#include <boost/json.hpp>

#include "server/scripting/patch_script.h"
#include "server/scripting/script_limits.h"

namespace sc = corvus::scripting;
namespace json = boost::json;
using corvus::Result;
using corvus::Status;

namespace {

// The database as the tests want it: documents by id, counters by "id/name".
class FakeDatabase final : public sc::PatchHost {
 public:
  std::map<std::string, std::string> documents;
  std::map<std::string, int64_t> counters;
  Status fail_with = Status::Ok();
  Result<std::optional<std::string>> load(std::string_view id) override {
    if (!fail_with.ok()) return fail_with;
    auto it = documents.find(std::string(id));
    if (it == documents.end()) return std::optional<std::string>();
    return std::optional<std::string>(it->second);
  }
  Result<std::optional<int64_t>> counter(std::string_view id, std::string_view name) override {
    auto it = counters.find(std::string(id) + "/" + std::string(name));
    if (it == counters.end()) return std::optional<int64_t>();
    return std::optional<int64_t>(it->second);
  }
};

const char* kUser = R"({"Name":"Ann","Age":30,"Tags":["a"],"@metadata":{"@id":"users/1","@collection":"Users"}})";

Result<sc::PatchRun> patch(const std::string& script, FakeDatabase& db, json::object values = {},
                           const char* doc = kUser) {
  return sc::run_patch(sc::PatchScript{script, std::move(values)}, doc, db);
}

}  // namespace

TEST_CASE("a patch changes `this` with modern syntax and args") {
  FakeDatabase db;
  auto r = patch("const add = (x) => x + args.by; this.Age = add(this.Age); let {Name} = this;"
                 "this.Greeting = `hi ${Name}`; this.Tags = [...this.Tags, 'b'];",
                 db, json::object{{"by", 5}});
  REQUIRE(r.ok());
  CHECK(r->document.at("Age").to_number<int64_t>() == 35);
  CHECK(r->document.at("Greeting").as_string() == "hi Ann");
  CHECK(r->document.at("Tags").as_array().size() == 2);
  CHECK(r->document.at("@metadata").at("@collection").as_string() == "Users");
  CHECK(r->writes.empty());
}

TEST_CASE("id, getMetadata, load, put, del, counters and output") {
  FakeDatabase db;
  db.documents["companies/1"] = R"({"Name":"Acme","@metadata":{"@id":"companies/1"}})";
  db.counters["users/1/likes"] = 7;
  auto r = patch(R"(
      this.Me = id(this);
      this.Coll = getMetadata(this)['@collection'];
      this.Company = load('companies/1').Name;
      this.Missing = load('companies/2');
      put('logs/1', { Text: 'x' });
      this.Logged = load('logs/1').Text;
      del('companies/1');
      this.AfterDel = load('companies/1');
      incrementCounter(this, 'likes', 3);
      incrementCounter('users/1', 'views');
      this.Likes = counter(this, 'likes');
      this.Views = counter('users/1', 'views');
      output('plain'); output({a: 1});
  )", db);
  REQUIRE(r.ok());
  const auto& d = r->document;
  CHECK(d.at("Me").as_string() == "users/1");
  CHECK(d.at("Coll").as_string() == "Users");
  CHECK(d.at("Company").as_string() == "Acme");
  CHECK(d.at("Missing").is_null());
  CHECK(d.at("Logged").as_string() == "x");
  CHECK(d.at("AfterDel").is_null());
  CHECK(d.at("Likes").to_number<int64_t>() == 10);
  CHECK(d.at("Views").to_number<int64_t>() == 1);
  REQUIRE(r->writes.size() == 2);
  CHECK(r->writes[0].kind == sc::ScriptWrite::Kind::Put);
  CHECK(r->writes[0].id == "logs/1");
  CHECK(r->writes[1].kind == sc::ScriptWrite::Kind::Delete);
  REQUIRE(r->counter_increments.size() == 2);
  CHECK(r->counter_increments[0].delta == 3);
  CHECK(r->counter_increments[1].name == "views");
  CHECK(r->output == std::vector<std::string>{"plain", R"({"a":1})"});
}

TEST_CASE("script errors are InvalidArgument with the message and the line") {
  FakeDatabase db;
  auto syntax = patch("this.x = ;", db);
  REQUIRE_FALSE(syntax.ok());
  CHECK(syntax.status().code() == corvus::StatusCode::InvalidArgument);
  CHECK(syntax.status().message().find("SyntaxError") != std::string::npos);

  auto thrown = patch("this.a = 1;\nthrow new Error('no way');", db);
  REQUIRE_FALSE(thrown.ok());
  CHECK(thrown.status().message().find("no way") != std::string::npos);
  CHECK(thrown.status().message().find("line 2") != std::string::npos);

  auto bad_put = patch("put('users/', {});", db);
  REQUIRE_FALSE(bad_put.ok());
  CHECK(bad_put.status().message().find("complete document id") != std::string::npos);
}

TEST_CASE("a storage error met by load() comes back as it is") {
  FakeDatabase db;
  db.fail_with = Status::IOError("disk on fire");
  // The script cannot catch it either.
  auto r = patch("try { load('x/1'); } catch (e) { this.caught = true; }", db);
  REQUIRE_FALSE(r.ok());
  CHECK(r.status().code() == corvus::StatusCode::IOError);
}

TEST_CASE("a runaway loop is stopped at the time limit, and the context works afterwards") {
  sc::ScriptLimits limits = sc::current_limits();
  sc::ScriptLimits short_limits = limits;
  short_limits.timeout = std::chrono::milliseconds(200);
  sc::configure(short_limits);
  FakeDatabase db;
  auto r = patch("while (true) {}", db);
  // Caught exceptions do not hide the stop either.
  auto r2 = patch("for (;;) { try { while (true) {} } catch (e) {} }", db);
  sc::configure(limits);
  REQUIRE_FALSE(r.ok());
  CHECK(r.status().message().find("time limit") != std::string::npos);
  REQUIRE_FALSE(r2.ok());
  CHECK(r2.status().message().find("time limit") != std::string::npos);
  auto after = patch("this.ok = true;", db);
  REQUIRE(after.ok());
  CHECK(after->document.at("ok").as_bool());
}

TEST_CASE("a runaway allocation is stopped with out of memory, and the context works afterwards") {
  FakeDatabase db;
  // Runs on a thread of its own: the heap limit is set when a thread's context is made.
  sc::ScriptLimits limits = sc::current_limits();
  sc::ScriptLimits small = limits;
  small.max_memory_bytes = 32u * 1024 * 1024;
  sc::configure(small);
  Result<sc::PatchRun> r = Status::Internal("not run");
  Result<sc::PatchRun> after = Status::Internal("not run");
  Result<sc::PatchRun> r_malloc = Status::Internal("not run");
  std::thread([&] {
    r = patch("const a = []; while (true) a.push({x: a.length, s: 'y'.repeat(100)});", db);
    r_malloc = patch("const a = []; while (true) a.push(new Array(1e6).fill(a.length));", db);
    after = patch("this.ok = true;", db);
  }).join();
  sc::configure(limits);
  REQUIRE_FALSE(r.ok());
  CHECK(r.status().code() == corvus::StatusCode::InvalidArgument);
  CHECK(r.status().message().find("memory") != std::string::npos);
  // Array elements live outside the GC heap: the watchdog's growth check stops those.
  REQUIRE_FALSE(r_malloc.ok());
  CHECK(r_malloc.status().message().find("memory limit") != std::string::npos);
  REQUIRE(after.ok());
}

TEST_CASE("compiled scripts are cached by text, bounded") {
  FakeDatabase db;
  uint64_t before = sc::this_thread_compile_cache_stats().compilations;
  for (int i = 0; i < 100; ++i) REQUIRE(patch("this.n = (this.n || 0) + 1;", db).ok());
  CHECK(sc::this_thread_compile_cache_stats().compilations - before == 1);
  sc::ScriptLimits limits = sc::current_limits();
  for (size_t i = 0; i < limits.compiled_cache_entries + 10; ++i) {
    REQUIRE(patch("this.v = " + std::to_string(i) + ";", db).ok());
  }
  CHECK(sc::this_thread_compile_cache_stats().cached <= limits.compiled_cache_entries);
}

TEST_CASE("text outside the BMP survives the round trip") {
  FakeDatabase db;
  auto r = patch("this.S = this.Name + ' \u00e9\U0001F600';", db);
  REQUIRE(r.ok());
  CHECK(r->document.at("S").as_string() == "Ann \u00e9\U0001F600");
}

TEST_CASE("a conflict resolver sees the versions as docs and returns the resolution, or null to delete") {
  FakeDatabase db;
  std::vector<std::string> versions = {R"({"N":1,"Tags":["a"]})", R"({"N":5,"Tags":["b"]})", ""};
  auto merged = sc::run_conflict_resolver(
      "const live = docs.filter(d => d); return { N: Math.max(...live.map(d => d.N)), Tags: live.flatMap(d => d.Tags), "
      "Deleted: docs.length - live.length };",
      versions, db);
  REQUIRE(merged.ok());
  REQUIRE(merged->has_value());
  CHECK((**merged).at("N").to_number<int64_t>() == 5);
  CHECK((**merged).at("Tags").as_array().size() == 2);
  CHECK((**merged).at("Deleted").to_number<int64_t>() == 1);

  auto deleted = sc::run_conflict_resolver("return null;", versions, db);
  REQUIRE(deleted.ok());
  CHECK_FALSE(deleted->has_value());
  auto nothing = sc::run_conflict_resolver("docs.length;", versions, db);
  REQUIRE(nothing.ok());
  CHECK_FALSE(nothing->has_value());

  auto bad = sc::run_conflict_resolver("return 42;", versions, db);
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.status().message().find("resolved document or null") != std::string::npos);
  auto thrown = sc::run_conflict_resolver("throw new Error('undecided');", versions, db);
  REQUIRE_FALSE(thrown.ok());
  CHECK(thrown.status().message().find("undecided") != std::string::npos);
}

TEST_CASE("the lodash-like `_` helpers work on the document's arrays and cannot be replaced") {
  FakeDatabase db;
  const char* doc = R"({"Lines":[{"P":"b","Q":2},{"P":"a","Q":5},{"P":"b","Q":1}],"Tags":["x","y","x",null,"z"],
                        "@metadata":{"@collection":"Orders"}})";
  auto r = patch(R"(
    this.Products = _.uniq(_.map(this.Lines, 'P'));
    this.Sorted = _.map(_.sortBy(this.Lines, ['P', 'Q']), (l) => l.P + l.Q);
    this.Desc = _.map(_.orderBy(this.Lines, 'Q', 'desc'), 'Q');
    this.Total = _.sumBy(this.Lines, 'Q');
    this.Groups = _.countBy(this.Lines, 'P');
    this.Big = _.find(this.Lines, (l) => l.Q > 4).P;
    this.Match = _.filter(this.Lines, {P: 'b'}).length;
    this.Removed = _.remove(this.Tags, (t) => t === 'x').length;
    this.Clean = _.compact(this.Tags);
    this.Chunks = _.chunk([1, 2, 3, 4, 5], 2);
    this.Sum = _.reduce([1, 2, 3], (s, x) => s + x);
    this.Empty = _.isEmpty([]) && !_.isEmpty({a: 1});
    try { _.map = null; } catch (e) {}
    this.StillThere = typeof _.map === 'function';
  )", db, {}, doc);
  REQUIRE_MESSAGE(r.ok(), r.status().to_string());
  const auto& d = r->document;
  CHECK(json::serialize(d.at("Products")) == R"(["b","a"])");
  CHECK(json::serialize(d.at("Sorted")) == R"(["a5","b1","b2"])");
  CHECK(json::serialize(d.at("Desc")) == "[5,2,1]");
  CHECK(d.at("Total").to_number<int64_t>() == 8);
  CHECK(json::serialize(d.at("Groups")) == R"({"b":2,"a":1})");
  CHECK(d.at("Big").as_string() == "a");
  CHECK(d.at("Match").to_number<int64_t>() == 2);
  CHECK(d.at("Removed").to_number<int64_t>() == 2);
  CHECK(json::serialize(d.at("Tags")) == R"(["y",null,"z"])");  // removed in place
  CHECK(json::serialize(d.at("Clean")) == R"(["y","z"])");
  CHECK(json::serialize(d.at("Chunks")) == "[[1,2],[3,4],[5]]");
  CHECK(d.at("Sum").to_number<int64_t>() == 6);
  CHECK(d.at("Empty").as_bool());
  CHECK(d.at("StillThere").as_bool());
}
