// NodeTls: the trust rule for a peer node's certificate (server/cluster/
// node_tls.h) with real certificates made by the test: the node's own
// certificate and one re-issued over its key, --admin-certificate-thumbprint,
// the registry (ClusterAdmin yes, Operator no, by thumbprint or public key
// hash), a foreign certificate, an expired one, none.

#include <doctest/doctest.h>

#include <openssl/asn1.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "rachis/cluster/cluster_state.h"
#include "server/cluster/node_tls.h"
#include "server/http/client_certificate.h"
#include "tests/support/temp_dir.h"
#include "tests/support/test_certificates.h"

using namespace corvus;
using namespace corvus::server;
namespace rc = corvus::rachis::cluster;

namespace {

testing::TestCertificate make(const std::string& name, int64_t not_after = 86400) {
  testing::TestCertificate::Options o;
  o.common_name = name;
  o.not_after_offset = not_after;
  if (not_after < 0) o.not_before_offset = not_after - 3600;
  return testing::TestCertificate(o);
}

// `c` re-issued: another serial (so another thumbprint), the same key.
struct Reissued {
  X509* x509;
  explicit Reissued(const testing::TestCertificate& c) : x509(X509_dup(c.x509())) {
    ASN1_INTEGER_set(X509_get_serialNumber(x509), 4242);
    REQUIRE(X509_sign(x509, c.key(), EVP_sha256()) > 0);
  }
  ~Reissued() { X509_free(x509); }
};

rc::CertificateRecord registered(const testing::TestCertificate& c, rc::SecurityClearance clearance,
                                 bool by_key_only = false) {
  const http::ClientCertificate d = http::describe_certificate(c.x509());
  rc::CertificateRecord r;
  r.thumbprint = by_key_only ? "0000000000000000000000000000000000000000" : d.thumbprint;
  r.name = d.subject;
  r.clearance = clearance;
  r.certificate = c.der_base64();
  r.public_key_hash = d.public_key_hash;
  r.subject = d.subject;
  r.not_before_unix = d.not_before_unix;
  r.not_after_unix = d.not_after_unix;
  return r;
}

bool has(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

}  // namespace

TEST_CASE("NodeTls: the trust rule for a peer node's certificate") {
  testing::TempDir dir;
  const auto own = make("node");
  const auto well_known = make("well-known-admin");
  const auto registered_admin = make("registered-admin");
  const auto admin_by_key = make("admin-by-key");
  const auto operator_cert = make("operator");
  const auto foreign = make("foreign");
  const auto expired = make("expired-admin", -60);
  const auto pinned = make("pinned-admin");
  own.write_pem(dir.sub("node.pem"));
  auto tls = cluster::NodeTls::load(dir.sub("node.pem"), "", {well_known.thumbprint(), expired.thumbprint()},
                                    {pinned.public_key_hash()});
  REQUIRE_MESSAGE(tls.ok(), tls.status().to_string());
  const cluster::NodeTls& t = **tls;

  auto opened = rc::ClusterState::open(dir.sub("state"));
  REQUIRE(opened.ok());
  auto& state = **opened;
  {
    rc::ClusterState::Batch b(state);
    b.put_certificate(registered(registered_admin, rc::SecurityClearance::ClusterAdmin));
    b.put_certificate(registered(admin_by_key, rc::SecurityClearance::ClusterAdmin, true));
    b.put_certificate(registered(operator_cert, rc::SecurityClearance::Operator));
    REQUIRE(state.commit(b, 1).ok());
  }

  CHECK(t.refuse_peer(own.x509(), &state) == "");
  Reissued same_key(own);
  CHECK(t.refuse_peer(same_key.x509, &state) == "");   // one cluster key, certificates re-issued
  CHECK(t.refuse_peer(same_key.x509, nullptr) == "");  // before the state is open too
  CHECK(t.refuse_peer(well_known.x509(), nullptr) == "");
  CHECK(t.refuse_peer(pinned.x509(), nullptr) == "");  // --admin-certificate-key-hash
  CHECK(t.refuse_peer(registered_admin.x509(), &state) == "");
  CHECK(t.refuse_peer(admin_by_key.x509(), &state) == "");

  const std::string not_open = t.refuse_peer(registered_admin.x509(), nullptr);
  CHECK(has(not_open, "not trusted"));
  const std::string operator_why = t.refuse_peer(operator_cert.x509(), &state);
  CHECK(has(operator_why, "Operator"));
  CHECK(has(operator_why, "needs ClusterAdmin"));
  const std::string foreign_why = t.refuse_peer(foreign.x509(), &state);
  CHECK(has(foreign_why, "not trusted"));
  CHECK(has(foreign_why, foreign.thumbprint()));
  CHECK(has(t.refuse_peer(expired.x509(), &state), "expired"));
  CHECK(has(t.refuse_peer(nullptr, &state), "no certificate"));
}
