// Authorization over TLS, end to end: a secured corvusd (--certificate) judges
// every request's client certificate against the certificates registered in
// the cluster. Each refusal a person meets is a 403 with a message that says
// what to do: no certificate, expired, not yet valid, unknown thumbprint, no
// access to this database, insufficient clearance; a refused write changes
// nothing. Bootstrap: a certificate named by --admin-certificate-thumbprint is
// ClusterAdmin and registers the others through the admin API.
// Certificates are made by the test (tests/support/test_certificates.h).

#include <doctest/doctest.h>

#include <chrono>
#include <string>
#include <thread>

#include <boost/json.hpp>

#include "tests/support/corvusd_process.h"
#include "tests/support/secured_node.h"
#include "tests/support/http_client.h"
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

// One client identity: its certificate and key on disk, and its thumbprint.
struct SecuredServer : SecuredNode {
  TestIdentity reader = make_test_identity(certs, "reader");
  TestIdentity op = make_test_identity(certs, "operator");
  TestIdentity expired = make_test_identity(certs, "expired", -7200, -3600);
  TestIdentity early = make_test_identity(certs, "early", 3600, 86400);
  TestIdentity stranger = make_test_identity(certs, "stranger");
};

// The refusal's JSON message, after checking that it is a 403 of `type`.
std::string refusal(const HttpResult& r, const std::string& type) {
  CHECK_MESSAGE(r.status == 403, r.status << " " << r.error << r.body);
  boost::system::error_code ec;
  auto v = json::parse(r.body, ec);
  REQUIRE_MESSAGE(!ec, r.body);
  CHECK(v.at("Type").as_string() == type);
  return std::string(v.at("Message").as_string());
}

constexpr const char* kAuthentication = "Raven.Client.Exceptions.Security.AuthenticationException";
constexpr const char* kAuthorization = "Raven.Client.Exceptions.Security.AuthorizationException";

std::string register_body(const std::string& name, const std::string& pem, const std::string& clearance,
                          const json::object& permissions = {}) {
  return json::serialize(json::object{
      {"Name", name}, {"Certificate", pem}, {"SecurityClearance", clearance}, {"Permissions", permissions}});
}

}  // namespace

TEST_CASE("authorization over TLS: every refusal explained, every clearance level, bootstrap admin") {
  SecuredServer s;
  auto admin = s.client(&s.admin);
  REQUIRE(admin.request("PUT", "/admin/databases?name=shop", R"({"DatabaseName":"shop"})").status == 201);
  REQUIRE(admin.request("PUT", "/admin/databases?name=other", R"({"DatabaseName":"other"})").status == 201);
  REQUIRE(admin.request("PUT", "/databases/shop/docs?id=users/1", R"({"name":"Ann"})").status == 201);
  auto r = admin.request("PUT", "/admin/certificates",
                         register_body("reader", s.reader.pem, "ValidUser", {{"shop", "Read"}}));
  REQUIRE_MESSAGE(r.status == 201, r.body);
  r = admin.request("PUT", "/admin/certificates", register_body("operator", s.op.pem, "Operator"));
  REQUIRE_MESSAGE(r.status == 201, r.body);

  // Open endpoints need nothing.
  CHECK(s.client(nullptr).request("GET", "/healthz").status == 200);
  CHECK(s.client(&s.stranger).request("GET", "/build/version").status == 200);

  SUBCASE("no certificate") {
    auto m = refusal(s.client(nullptr).request("GET", "/databases/shop/docs?id=users/1"), kAuthentication);
    CHECK(contains(m, "requires client certificate"));
    CHECK(contains(m, "PutClientCertificateOperation"));
  }
  SUBCASE("expired, since when") {
    auto m = refusal(s.client(&s.expired).request("GET", "/databases/shop/docs?id=users/1"), kAuthentication);
    CHECK(contains(m, "expired on "));
    CHECK(contains(m, s.expired.thumbprint));
  }
  SUBCASE("not yet valid, from when") {
    auto m = refusal(s.client(&s.early).request("GET", "/topology?name=shop"), kAuthentication);
    CHECK(contains(m, "is not valid before "));
  }
  SUBCASE("unknown thumbprint, and how to register it") {
    auto m = refusal(s.client(&s.stranger).request("GET", "/databases/shop/docs?id=users/1"), kAuthorization);
    CHECK(contains(m, "thumbprint " + s.stranger.thumbprint));
    CHECK(contains(m, "is not registered"));
    CHECK(contains(m, "PUT /admin/certificates"));
    // whoami says the same to the certificate's owner.
    auto who = s.client(&s.stranger).request("GET", "/certificates/whoami");
    CHECK(who.status == 200);
    CHECK(contains(who.body, "\"Source\":\"Unknown\""));
    CHECK(contains(who.body, "\"Authenticated\":false"));
  }
  SUBCASE("ValidUser with Read on shop: reads shop, nothing else; a refused write changes nothing") {
    auto reader = s.client(&s.reader);
    CHECK(reader.request("GET", "/databases/shop/docs?id=users/1").status == 200);
    CHECK(reader.request("GET", "/topology?name=shop").status == 200);
    auto m = refusal(reader.request("PUT", "/databases/shop/docs?id=users/2", R"({"name":"Bob"})"), kAuthorization);
    CHECK(contains(m, "needs ReadWrite access to database 'shop'"));
    CHECK(contains(m, "has Read there"));
    CHECK(admin.request("GET", "/databases/shop/docs?id=users/2").status == 404);
    m = refusal(reader.request("GET", "/databases/other/docs?id=users/1"), kAuthorization);
    CHECK(contains(m, "no access to database 'other'"));
    CHECK(contains(m, "clearance ValidUser, permissions shop: Read"));
    m = refusal(reader.request("PUT", "/admin/databases?name=x", R"({"DatabaseName":"x"})"), kAuthorization);
    CHECK(contains(m, "requires clearance Operator"));
    auto who = reader.request("GET", "/certificates/whoami");
    CHECK(contains(who.body, "\"Source\":\"Registered\""));
    CHECK(contains(who.body, "\"SecurityClearance\":\"ValidUser\""));
    // Granting ReadWrite (an edit) lets the same connection write.
    r = admin.request("POST", "/admin/certificates/edit",
                      json::serialize(json::object{{"thumbprint", s.reader.thumbprint},
                                                   {"name", "reader"},
                                                   {"securityClearance", "ValidUser"},
                                                   {"permissions", json::object{{"shop", "ReadWrite"}}}}));
    REQUIRE_MESSAGE(r.status == 204, r.body);
    CHECK(reader.request("PUT", "/databases/shop/docs?id=users/2", R"({"name":"Bob"})").status == 201);
    // Deleting the certificate ends its access.
    REQUIRE(admin.request("DELETE", "/admin/certificates?thumbprint=" + s.reader.thumbprint).status == 204);
    m = refusal(reader.request("GET", "/databases/shop/docs?id=users/1"), kAuthorization);
    CHECK(contains(m, "is not registered"));
  }
  SUBCASE("Operator: every database and operator endpoints, not cluster admin ones nor ClusterAdmin certificates") {
    auto op = s.client(&s.op);
    CHECK(op.request("PUT", "/databases/other/docs?id=a", R"({"x":1})").status == 201);
    CHECK(op.request("PUT", "/admin/databases?name=third", R"({"DatabaseName":"third"})").status == 201);
    auto m = refusal(op.request("PUT", "/admin/cluster/node?url=http://127.0.0.1:1"), kAuthorization);
    CHECK(contains(m, "requires clearance ClusterAdmin"));
    m = refusal(op.request("PUT", "/admin/certificates", register_body("boss", s.stranger.pem, "ClusterAdmin")),
                kAuthorization);
    CHECK(contains(m, "Only a ClusterAdmin"));
    CHECK(admin.request("GET", "/admin/certificates?thumbprint=" + s.stranger.thumbprint).status == 404);
    // It may register a ValidUser.
    CHECK(op.request("PUT", "/admin/certificates", register_body("user", s.stranger.pem, "ValidUser")).status == 201);
    CHECK(s.client(&s.stranger).request("GET", "/databases").status == 200);
  }
  CHECK(s.node->terminate() == 0);
}
