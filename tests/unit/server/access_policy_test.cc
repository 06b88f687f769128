// The authorization decision (server/security/access_policy): every refusal
// case and every route level, against a real ClusterState holding registered
// certificates.

#include <doctest/doctest.h>

#include <ctime>

#include <boost/json.hpp>

#include "rachis/cluster/cluster_state.h"
#include "server/security/access_policy.h"
#include "server/security/certificate_upload.h"
#include "tests/support/temp_dir.h"

using namespace corvus;
using namespace corvus::server;
namespace rc = corvus::rachis::cluster;
using http::RouteAccess;
using security::decide;

namespace {

constexpr int64_t kNow = 1'800'000'000;  // 2027-01-15

http::ClientCertificate cert(const std::string& thumbprint, const std::string& key_hash = "") {
  http::ClientCertificate c;
  c.thumbprint = thumbprint;
  c.public_key_hash = key_hash.empty() ? "key-" + thumbprint : key_hash;
  c.subject = "CN=" + thumbprint;
  c.not_before_unix = kNow - 86400;
  c.not_after_unix = kNow + 86400;
  return c;
}

rc::CertificateRecord record(const std::string& thumbprint, rc::SecurityClearance clearance,
                             std::map<std::string, rc::DatabaseAccess> permissions = {}) {
  rc::CertificateRecord r;
  r.thumbprint = thumbprint;
  r.name = "name-" + thumbprint;
  r.clearance = clearance;
  r.permissions = std::move(permissions);
  r.certificate = "MIIB";
  r.public_key_hash = "key-" + thumbprint;
  r.subject = "CN=" + thumbprint;
  r.not_before_unix = kNow - 86400;
  r.not_after_unix = kNow + 86400;
  return r;
}

// A cluster state with one certificate of each kind.
struct Registry {
  testing::TempDir dir;
  std::unique_ptr<rc::ClusterState> state;
  security::SecurityOptions options;

  Registry() {
    auto opened = rc::ClusterState::open(dir.sub("state"));
    REQUIRE(opened.ok());
    state = std::move(opened).value();
    rc::ClusterState::Batch b(*state);
    b.put_certificate(record("READER", rc::SecurityClearance::ValidUser, {{"Orders", rc::DatabaseAccess::Read}}));
    b.put_certificate(record("WRITER", rc::SecurityClearance::ValidUser, {{"Orders", rc::DatabaseAccess::ReadWrite}}));
    b.put_certificate(record("DBADMIN", rc::SecurityClearance::ValidUser, {{"Orders", rc::DatabaseAccess::Admin}}));
    b.put_certificate(record("NOTHING", rc::SecurityClearance::ValidUser));
    b.put_certificate(record("OPERATOR", rc::SecurityClearance::Operator));
    b.put_certificate(record("ADMIN", rc::SecurityClearance::ClusterAdmin));
    REQUIRE(state->commit(b, 1).ok());
    options.secured = true;
    options.server_thumbprint = "SERVER";
    options.server_public_key_hash = "server-key";
    options.admin_thumbprints = {"WELLKNOWN"};
  }

  std::optional<security::Refusal> check(RouteAccess access, const http::ClientCertificate* c,
                                         std::string_view database = "Orders") const {
    return decide(options, *state, access, database, c, kNow, "GET /x");
  }
  bool allowed(RouteAccess access, const std::string& thumbprint, std::string_view database = "Orders") const {
    auto c = cert(thumbprint);
    return !check(access, &c, database).has_value();
  }
};

constexpr RouteAccess kAll[] = {RouteAccess::Open,          RouteAccess::ValidUser,     RouteAccess::DatabaseRead,
                                RouteAccess::DatabaseReadWrite, RouteAccess::DatabaseAdmin, RouteAccess::Operator,
                                RouteAccess::ClusterAdmin};

bool contains(const std::string& s, std::string_view part) { return s.find(part) != std::string::npos; }

}  // namespace

TEST_CASE("AccessPolicy: an unsecured server allows everything; Open routes need nothing") {
  Registry r;
  r.options.secured = false;
  auto unknown = cert("STRANGER");
  for (RouteAccess a : kAll) {
    CAPTURE(to_string(a));
    CHECK_FALSE(r.check(a, nullptr));
    CHECK_FALSE(r.check(a, &unknown));
  }
  r.options.secured = true;
  CHECK_FALSE(r.check(RouteAccess::Open, nullptr));
  auto expired = cert("READER");
  expired.not_after_unix = kNow - 10;
  CHECK_FALSE(r.check(RouteAccess::Open, &expired));
}

TEST_CASE("AccessPolicy: no certificate, expired, not yet valid, unknown — each explained") {
  Registry r;
  auto none = r.check(RouteAccess::ValidUser, nullptr);
  REQUIRE(none);
  CHECK(none->status == 403);
  CHECK(none->type == security::kAuthenticationExceptionType);
  CHECK(contains(none->message, "server requires client certificate"));
  CHECK(contains(none->message, "GET /x"));
  CHECK(contains(none->message, "PutClientCertificateOperation"));

  auto expired = cert("ADMIN");
  expired.not_after_unix = kNow - 3600;
  auto e = r.check(RouteAccess::ValidUser, &expired);
  REQUIRE(e);
  CHECK(e->status == 403);
  CHECK(e->type == security::kAuthenticationExceptionType);
  CHECK(contains(e->message, "expired on " + security::format_certificate_date(kNow - 3600)));
  CHECK(contains(e->message, "thumbprint ADMIN"));

  auto early = cert("ADMIN");
  early.not_before_unix = kNow + 7200;
  auto n = r.check(RouteAccess::ClusterAdmin, &early);
  REQUIRE(n);
  CHECK(n->status == 403);
  CHECK(contains(n->message, "not valid before " + security::format_certificate_date(kNow + 7200)));

  auto stranger = cert("STRANGER");
  auto u = r.check(RouteAccess::DatabaseRead, &stranger);
  REQUIRE(u);
  CHECK(u->status == 403);
  CHECK(u->type == security::kAuthorizationExceptionType);
  CHECK(contains(u->message, "thumbprint STRANGER"));
  CHECK(contains(u->message, "is not registered"));
  CHECK(contains(u->message, "PUT /admin/certificates"));
  CHECK(contains(u->message, "--admin-certificate-thumbprint STRANGER"));
}

TEST_CASE("AccessPolicy: database permissions Read < ReadWrite < Admin, per database, names case-insensitive") {
  Registry r;
  CHECK(r.allowed(RouteAccess::DatabaseRead, "READER"));
  CHECK(r.allowed(RouteAccess::DatabaseRead, "READER", "orders"));
  CHECK(r.allowed(RouteAccess::ValidUser, "READER"));
  CHECK_FALSE(r.allowed(RouteAccess::DatabaseReadWrite, "READER"));
  CHECK_FALSE(r.allowed(RouteAccess::DatabaseAdmin, "READER"));
  CHECK(r.allowed(RouteAccess::DatabaseReadWrite, "WRITER"));
  CHECK_FALSE(r.allowed(RouteAccess::DatabaseAdmin, "WRITER"));
  CHECK(r.allowed(RouteAccess::DatabaseAdmin, "DBADMIN"));
  CHECK(r.allowed(RouteAccess::DatabaseReadWrite, "DBADMIN"));
  for (const char* who : {"READER", "WRITER", "DBADMIN", "NOTHING"}) {
    CAPTURE(who);
    CHECK(r.allowed(RouteAccess::ValidUser, who));
    CHECK_FALSE(r.allowed(RouteAccess::DatabaseRead, who, "Invoices"));
    CHECK_FALSE(r.allowed(RouteAccess::Operator, who));
    CHECK_FALSE(r.allowed(RouteAccess::ClusterAdmin, who));
    CHECK_FALSE(r.allowed(RouteAccess::DatabaseRead, who, ""));
  }

  auto reader = cert("READER");
  auto low = r.check(RouteAccess::DatabaseReadWrite, &reader);
  REQUIRE(low);
  CHECK(low->status == 403);
  CHECK(contains(low->message, "needs ReadWrite access to database 'Orders'"));
  CHECK(contains(low->message, "has Read there"));
  CHECK(contains(low->message, "'name-READER'"));
  auto other = r.check(RouteAccess::DatabaseRead, &reader, "Invoices");
  REQUIRE(other);
  CHECK(contains(other->message, "no access to database 'Invoices'"));
  CHECK(contains(other->message, "clearance ValidUser, permissions Orders: Read"));
  CHECK(contains(other->message, "EditClientCertificateOperation"));
}

TEST_CASE("AccessPolicy: Operator reaches every database but not ClusterAdmin routes; ClusterAdmin reaches all") {
  Registry r;
  for (RouteAccess a : kAll) {
    CAPTURE(to_string(a));
    CHECK(r.allowed(a, "ADMIN", "Anything"));
    CHECK(r.allowed(a, "SERVER", "Anything"));
    CHECK(r.allowed(a, "WELLKNOWN", "Anything"));
    CHECK(r.allowed(a, "OPERATOR", "Anything") == (a != RouteAccess::ClusterAdmin));
  }
  auto op = cert("OPERATOR");
  auto refused = r.check(RouteAccess::ClusterAdmin, &op);
  REQUIRE(refused);
  CHECK(refused->status == 403);
  CHECK(contains(refused->message, "GET /x requires clearance ClusterAdmin"));
  CHECK(contains(refused->message, "clearance Operator"));
  auto user = cert("NOTHING");
  refused = r.check(RouteAccess::Operator, &user);
  REQUIRE(refused);
  CHECK(contains(refused->message, "requires clearance Operator"));
  CHECK(contains(refused->message, "no database permissions"));
}

TEST_CASE("AccessPolicy: identify — server certificate (by thumbprint or key), well-known admin, pinned key hash") {
  Registry r;
  auto by_key = cert("OTHER-THUMB", "server-key");
  auto id = security::identify(r.options, *r.state, &by_key);
  CHECK(id.source == security::Identity::Source::ServerCertificate);
  CHECK(id.clearance == rc::SecurityClearance::ClusterAdmin);
  id = security::identify(r.options, *r.state, nullptr);
  CHECK(id.source == security::Identity::Source::None);
  CHECK_FALSE(id.known());
  auto wk = cert("WELLKNOWN");
  CHECK(security::identify(r.options, *r.state, &wk).source == security::Identity::Source::WellKnownAdmin);

  // A certificate re-issued over the writer's key: a new thumbprint, the same
  // public key hash, the writer's access.
  auto reissued = cert("REISSUED", "key-WRITER");
  id = security::identify(r.options, *r.state, &reissued);
  CHECK(id.source == security::Identity::Source::RegisteredByPublicKeyHash);
  REQUIRE(id.record);
  CHECK(id.record->thumbprint == "WRITER");
  CHECK_FALSE(r.check(RouteAccess::DatabaseReadWrite, &reissued));
  auto admin_refused = r.check(RouteAccess::DatabaseAdmin, &reissued);
  REQUIRE(admin_refused);
  CHECK(contains(admin_refused->message, "registered as WRITER over the same public key"));
  // Registered by thumbprint wins over a key hash match.
  auto reader = cert("READER", "key-WRITER");
  CHECK(security::identify(r.options, *r.state, &reader).record->thumbprint == "READER");
}

TEST_CASE("AccessPolicy: authorize() takes the database from {db} or ?name= and answers RavenDB's error JSON") {
  Registry r;
  // authorize() reads the clock: certificates valid around now.
  auto valid_now = [](const std::string& thumbprint) {
    auto c = cert(thumbprint);
    c.not_before_unix = static_cast<int64_t>(std::time(nullptr)) - 3600;
    c.not_after_unix = static_cast<int64_t>(std::time(nullptr)) + 3600;
    return c;
  };
  auto reader = valid_now("READER");
  http::Request req;
  req.method = boost::beast::http::verb::put;
  req.target = "/databases/Orders/docs?id=a";
  req.path = "/databases/Orders/docs";
  req.params["db"] = "Orders";
  req.client_certificate = &reader;
  auto resp = security::authorize(r.options, *r.state, req, RouteAccess::DatabaseReadWrite);
  REQUIRE(resp);
  CHECK(resp->status == 403);
  auto body = boost::json::parse(resp->body).as_object();
  CHECK(body.at("Type").as_string() == security::kAuthorizationExceptionType);
  CHECK(contains(std::string(body.at("Message").as_string()), "PUT /databases/Orders/docs needs ReadWrite"));
  CHECK_FALSE(security::authorize(r.options, *r.state, req, RouteAccess::DatabaseRead));

  http::Request by_name;
  by_name.method = boost::beast::http::verb::post;
  by_name.target = "/admin/replication/conflicts/solver?name=orders";
  by_name.path = "/admin/replication/conflicts/solver";
  by_name.query.assign("name=orders");
  auto admin = valid_now("DBADMIN");
  by_name.client_certificate = &admin;
  CHECK_FALSE(security::authorize(r.options, *r.state, by_name, RouteAccess::DatabaseAdmin));
  by_name.client_certificate = &reader;
  CHECK(security::authorize(r.options, *r.state, by_name, RouteAccess::DatabaseAdmin)->status == 403);
  by_name.client_certificate = nullptr;
  auto none = security::authorize(r.options, *r.state, by_name, RouteAccess::DatabaseAdmin);
  REQUIRE(none);
  CHECK(none->status == 403);
  CHECK(boost::json::parse(none->body).at("Type").as_string() == security::kAuthenticationExceptionType);
}

TEST_CASE("AccessPolicy: only a ClusterAdmin manages ClusterAdmin certificates") {
  Registry r;
  using rc::SecurityClearance;
  auto op = cert("OPERATOR");
  auto admin = cert("ADMIN");
  auto server = cert("SERVER");
  auto user = cert("NOTHING");
  for (auto touched : {SecurityClearance::ValidUser, SecurityClearance::Operator}) {
    CHECK_FALSE(security::refuse_certificate_management(r.options, *r.state, &op, touched));
  }
  auto refused = security::refuse_certificate_management(r.options, *r.state, &op, SecurityClearance::ClusterAdmin);
  REQUIRE(refused);
  CHECK(refused->status == 403);
  CHECK(contains(refused->message, "Only a ClusterAdmin"));
  CHECK(contains(refused->message, "clearance is Operator"));
  CHECK(security::refuse_certificate_management(r.options, *r.state, &user, SecurityClearance::ClusterAdmin));
  CHECK(security::refuse_certificate_management(r.options, *r.state, nullptr, SecurityClearance::ClusterAdmin));
  CHECK_FALSE(security::refuse_certificate_management(r.options, *r.state, &admin, SecurityClearance::ClusterAdmin));
  CHECK_FALSE(security::refuse_certificate_management(r.options, *r.state, &server, SecurityClearance::ClusterAdmin));
  r.options.secured = false;
  CHECK_FALSE(security::refuse_certificate_management(r.options, *r.state, nullptr, SecurityClearance::ClusterAdmin));
}
