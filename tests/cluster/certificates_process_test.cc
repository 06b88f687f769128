// The certificates admin API on a three-node cluster of real corvusd
// processes (plain HTTP, unsecured: the API works the same, authorization is
// off): register through a follower (base64 DER and PEM, as the clients
// send), read back on every node, list with paging, edit (the edit command's
// camelCase body), delete, whoami; every kind of bad input is a 400 (404 for
// an unknown thumbprint) that changes nothing on any node; registrations
// survive a restart. Certificates are made here with the OpenSSL API. Every
// wait is a bounded poll; processes and directories die with the test.

#include <cctype>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <boost/json.hpp>
#include <doctest/doctest.h>

#include "tests/support/test_cluster.h"

using namespace corvus::testing;
using namespace std::chrono_literals;
namespace json = boost::json;

namespace {

struct Made {
  std::string pem;
  std::string der_base64;
  std::string key_pem;
};

// A self-signed P-256 certificate "CN=<cn>" valid from now+from to now+to seconds.
Made make_certificate(const std::string& cn, long from = -60, long to = 86400) {
  EVP_PKEY* key = EVP_EC_gen("P-256");
  REQUIRE(key);
  X509* x = X509_new();
  ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
  X509_gmtime_adj(X509_getm_notBefore(x), from);
  X509_gmtime_adj(X509_getm_notAfter(x), to);
  X509_set_pubkey(x, key);
  X509_NAME* name = X509_get_subject_name(x);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1, 0);
  X509_set_issuer_name(x, name);
  REQUIRE(X509_sign(x, key, EVP_sha256()) > 0);
  Made m;
  auto read_bio = [](BIO* bio) {
    char* data = nullptr;
    const long n = BIO_get_mem_data(bio, &data);
    std::string out(data, static_cast<size_t>(n));
    BIO_free(bio);
    return out;
  };
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_X509(bio, x);
  m.pem = read_bio(bio);
  bio = BIO_new(BIO_s_mem());
  PEM_write_bio_PrivateKey(bio, key, nullptr, nullptr, 0, nullptr, nullptr);
  m.key_pem = read_bio(bio);
  unsigned char* der = nullptr;
  const int len = i2d_X509(x, &der);
  std::string b64(4 * ((static_cast<size_t>(len) + 2) / 3) + 1, '\0');
  b64.resize(static_cast<size_t>(EVP_EncodeBlock(reinterpret_cast<unsigned char*>(b64.data()), der, len)));
  m.der_base64 = b64;
  OPENSSL_free(der);
  X509_free(x);
  EVP_PKEY_free(key);
  return m;
}

std::string body(const std::string& name, const std::string& certificate, const std::string& clearance,
                 const json::object& permissions = {}) {
  return json::serialize(json::object{
      {"Name", name}, {"Certificate", certificate}, {"SecurityClearance", clearance}, {"Permissions", permissions}});
}

// The certificates node `i` lists (thumbprint -> definition).
std::map<std::string, json::object> listed(Cluster& c, int i, const std::string& query = "?start=0&pageSize=100") {
  std::map<std::string, json::object> out;
  auto o = get_json(c[i].http_port, "/admin/certificates" + query);
  if (!o) return out;
  for (const auto& v : o->at("Results").as_array()) out[str(v.as_object(), "Thumbprint")] = v.as_object();
  return out;
}

std::optional<json::object> one(Cluster& c, int i, const std::string& thumbprint) {
  auto o = get_json(c[i].http_port, "/admin/certificates?thumbprint=" + thumbprint);
  if (!o || o->at("Results").as_array().size() != 1) return std::nullopt;
  return o->at("Results").as_array()[0].as_object();
}

}  // namespace

TEST_CASE("certificates: register, list, edit, delete through any node; every node agrees; bad input changes nothing") {
  Cluster c(3, {}, ClusterOptions{.proxies = false});
  c.form(3);

  const Made reader = make_certificate("reader");
  const Made op = make_certificate("operator");

  // Register a ValidUser (base64 DER, as the clients send) through a follower-or-leader node 1.
  auto r = c.command(1, "PUT", "/admin/certificates",
                     body("Reader", reader.der_base64, "ValidUser", {{"Orders", "Read"}}));
  REQUIRE_MESSAGE(r.status == 201, r.body);
  CHECK(r.body.empty());  // the clients' PutClientCertificateCommand reads no body
  auto on1 = listed(c, 1);
  REQUIRE(on1.size() == 1);
  const std::string reader_tp = on1.begin()->first;
  CHECK(reader_tp.size() == 40);
  const json::object& def = on1.begin()->second;
  CHECK(str(def, "Name") == "Reader");
  CHECK(str(def, "SecurityClearance") == "ValidUser");
  CHECK(def.at("Permissions") == json::object{{"Orders", "Read"}});
  CHECK(str(def, "Certificate") == reader.der_base64);
  CHECK(str(def, "Subject") == "CN=reader");
  CHECK(str(def, "PublicKeyPinningHash").size() == 44);
  CHECK(str(def, "NotAfter").ends_with("Z"));

  // An Operator, uploaded as PEM, through node 2.
  r = c.command(2, "PUT", "/admin/certificates", body("Ops", op.pem, "Operator"));
  REQUIRE_MESSAGE(r.status == 201, r.body);
  for (int i = 0; i < 3; ++i) {
    CAPTURE(i);
    REQUIRE(eventually([&] { return listed(c, i).size() == 2; }));
    auto one_reader = one(c, i, reader_tp);
    REQUIRE(one_reader);
    CHECK(str(*one_reader, "Name") == "Reader");
    // Thumbprints are matched in any case.
    std::string lower_tp = reader_tp;
    for (char& ch : lower_tp) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    CHECK(one(c, i, lower_tp));
  }
  CHECK(listed(c, 0, "?start=0&pageSize=1").size() == 1);
  CHECK(listed(c, 0, "?start=1&pageSize=5").size() == 1);
  CHECK(listed(c, 0, "?start=2&pageSize=5").empty());
  CHECK(call(c[0].http_port, "GET", "/admin/certificates?thumbprint=" + std::string(40, 'A')).status == 404);

  // Bad input: a clear 400 (or 404), nothing stored or changed anywhere.
  const auto before = listed(c, 0);
  const Made expired = make_certificate("old", -7200, -3600);
  const Made fresh = make_certificate("fresh");
  struct Bad {
    const char* method;
    std::string target;
    std::string body;
    int status;
    const char* says;
  };
  const std::vector<Bad> bad{
      {"PUT", "/admin/certificates", body("X", "not a certificate", "ValidUser"), 400, "neither PEM nor base64"},
      {"PUT", "/admin/certificates", body("X", fresh.key_pem, "ValidUser"), 400, "private key"},
      {"PUT", "/admin/certificates", body("X", "aGVsbG8gd29ybGQ=", "ValidUser"), 400, "not a DER-encoded"},
      {"PUT", "/admin/certificates", body("X", fresh.der_base64, "God"), 400, "SecurityClearance 'God'"},
      {"PUT", "/admin/certificates", body("X", fresh.der_base64, "ClusterAdmin", {{"Orders", "Read"}}), 400,
       "ValidUser only"},
      {"PUT", "/admin/certificates", body("X", fresh.der_base64, "ValidUser", {{"Orders", "Write"}}), 400,
       "expected Read, ReadWrite or Admin"},
      {"PUT", "/admin/certificates", body("", fresh.der_base64, "ValidUser"), 400, "Name"},
      {"PUT", "/admin/certificates", json::serialize(json::object{{"Name", "X"}, {"Certificate", fresh.der_base64}}),
       400, "SecurityClearance is required"},
      {"PUT", "/admin/certificates", body("X", expired.der_base64, "ValidUser"), 400, "expired on"},
      {"PUT", "/admin/certificates", "{not json", 400, ""},
      {"PUT", "/admin/certificates", "[1,2]", 400, "JSON object"},
      {"POST", "/admin/certificates/edit",
       json::serialize(json::object{{"thumbprint", std::string(40, 'B')}, {"name", "n"}, {"securityClearance", "ValidUser"}}),
       404, "No certificate with thumbprint"},
      {"POST", "/admin/certificates/edit",
       json::serialize(json::object{{"thumbprint", reader_tp}, {"name", "n"}, {"securityClearance", "Operator"},
                                    {"permissions", json::object{{"Orders", "Admin"}}}}),
       400, "ValidUser only"},
      {"POST", "/admin/certificates/edit",
       json::serialize(json::object{{"thumbprint", reader_tp}, {"securityClearance", "ValidUser"}}), 400, "Name is required"},
      {"DELETE", "/admin/certificates?thumbprint=" + std::string(40, 'C'), "", 404, "No certificate with thumbprint"},
      {"DELETE", "/admin/certificates", "", 400, "thumbprint"},
  };
  for (const auto& b : bad) {
    CAPTURE(b.method);
    CAPTURE(b.body);
    auto res = c.command(0, b.method, b.target, b.body);
    CHECK(res.status == b.status);
    auto err = parse_object(res.body);
    REQUIRE_MESSAGE(err, res.body);
    CHECK(!str(*err, "Type").empty());
    CHECK_MESSAGE(str(*err, "Message").find(b.says) != std::string::npos, res.body);
  }
  for (int i = 0; i < 3; ++i) CHECK(listed(c, i) == before);

  // Edit through node 2 with the edit command's camelCase body.
  r = c.command(2, "POST", "/admin/certificates/edit",
                json::serialize(json::object{{"thumbprint", reader_tp},
                                             {"name", "Reader and writer"},
                                             {"securityClearance", "ValidUser"},
                                             {"permissions", json::object{{"Orders", "ReadWrite"}, {"Invoices", "Admin"}}}}));
  REQUIRE_MESSAGE(r.status == 204, r.body);
  for (int i = 0; i < 3; ++i) {
    CAPTURE(i);
    REQUIRE(eventually([&] {
      auto d = one(c, i, reader_tp);
      return d && str(*d, "Name") == "Reader and writer";
    }));
    auto d = one(c, i, reader_tp);
    CHECK(d->at("Permissions") == json::object{{"Invoices", "Admin"}, {"Orders", "ReadWrite"}});
    CHECK(str(*d, "Certificate") == reader.der_base64);  // the certificate itself is kept
  }

  // whoami over plain HTTP: no certificate, an unsecured server.
  auto who = get_json(c[0].http_port, "/certificates/whoami");
  REQUIRE(who);
  CHECK(who->at("Secured") == false);
  CHECK(str(*who, "Source") == "None");
  CHECK(who->at("Authenticated") == true);
  CHECK(str(*who, "Message").find("not secured") != std::string::npos);

  // ReplaceClusterCertificateOperation: garbage is refused as RavenDB refuses
  // it; a real certificate is told that replacing is not built.
  auto garbage = call(c[0].http_port, "POST", "/admin/certificates/replace-cluster-cert?replaceImmediately=true",
                      R"({"Certificate":"AQIDBA=="})");
  CHECK(garbage.status == 400);
  CHECK(garbage.body.find("Unable to load the provided certificate") != std::string::npos);
  auto valid = call(c[0].http_port, "POST", "/admin/certificates/replace-cluster-cert?replaceImmediately=true",
                    json::serialize(json::object{{"Certificate", op.der_base64}}));
  CHECK(valid.status == 501);
  CHECK(valid.body.find("not supported by this server yet") != std::string::npos);

  // Registrations survive a restart.
  c.restart(1);
  REQUIRE(eventually([&] { return listed(c, 1).size() == 2; }));

  // Delete through node 0; gone everywhere; deleting again is a 404.
  r = c.command(0, "DELETE", "/admin/certificates?thumbprint=" + reader_tp);
  REQUIRE_MESSAGE(r.status == 204, r.body);
  for (int i = 0; i < 3; ++i) {
    CAPTURE(i);
    REQUIRE(eventually([&] { return listed(c, i).size() == 1; }));
    CHECK(call(c[i].http_port, "GET", "/admin/certificates?thumbprint=" + reader_tp).status == 404);
  }
  CHECK(c.command(0, "DELETE", "/admin/certificates?thumbprint=" + reader_tp).status == 404);
}
