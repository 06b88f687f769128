// parse_certificate(): a certificate made here with the OpenSSL API, uploaded
// as PEM and as base64 DER, gives the thumbprint and public key hash that
// the openssl command line computes from the same certificate; anything else
// is a clear InvalidArgument.

#include <doctest/doctest.h>

#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <cstdio>
#include <ctime>
#include <fstream>
#include <memory>
#include <string>

#include "server/security/certificate_upload.h"
#include "tests/support/temp_dir.h"

using namespace corvus;
using namespace corvus::server;

namespace {

struct Made {
  std::string pem;
  std::string der;
  std::string key_pem;
};

// A self-signed P-256 certificate "CN=<cn>" valid from now+from to now+to seconds.
Made make_certificate(const std::string& cn, long from, long to) {
  EVP_PKEY* key = EVP_EC_gen("P-256");
  REQUIRE(key);
  X509* x = X509_new();
  ASN1_INTEGER_set(X509_get_serialNumber(x), 7);
  X509_gmtime_adj(X509_getm_notBefore(x), from);
  X509_gmtime_adj(X509_getm_notAfter(x), to);
  X509_set_pubkey(x, key);
  X509_NAME* name = X509_get_subject_name(x);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1, 0);
  X509_set_issuer_name(x, name);
  REQUIRE(X509_sign(x, key, EVP_sha256()) > 0);
  Made m;
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_X509(bio, x);
  char* data = nullptr;
  long n = BIO_get_mem_data(bio, &data);
  m.pem.assign(data, static_cast<size_t>(n));
  BIO_free(bio);
  bio = BIO_new(BIO_s_mem());
  PEM_write_bio_PrivateKey(bio, key, nullptr, nullptr, 0, nullptr, nullptr);
  n = BIO_get_mem_data(bio, &data);
  m.key_pem.assign(data, static_cast<size_t>(n));
  BIO_free(bio);
  unsigned char* der = nullptr;
  const int len = i2d_X509(x, &der);
  m.der.assign(reinterpret_cast<char*>(der), static_cast<size_t>(len));
  OPENSSL_free(der);
  X509_free(x);
  EVP_PKEY_free(key);
  return m;
}

std::string base64(const std::string& bytes) {
  std::string out(4 * ((bytes.size() + 2) / 3) + 1, '\0');
  const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(bytes.data()), static_cast<int>(bytes.size()));
  out.resize(static_cast<size_t>(n));
  return out;
}

// The output of a shell command, trailing newline removed.
std::string run(const std::string& command) {
  std::string out;
  FILE* p = popen(command.c_str(), "r");
  REQUIRE(p);
  char buf[256];
  while (size_t n = fread(buf, 1, sizeof buf, p)) out.append(buf, n);
  pclose(p);
  while (!out.empty() && (out.back() == '\n' || out.back() == '\r')) out.pop_back();
  return out;
}

}  // namespace

TEST_CASE("parse_certificate: PEM and base64 DER agree with openssl's thumbprint and public key pin") {
  const Made m = make_certificate("client-one", -60, 3600);
  testing::TempDir dir;
  const std::string path = dir.sub("cert.pem");
  std::ofstream(path) << m.pem;
  // openssl prints "sha1 Fingerprint=AB:CD:..."; RavenDB's thumbprint is the same hex without colons.
  std::string fingerprint = run("openssl x509 -in " + path + " -noout -fingerprint -sha1");
  fingerprint = fingerprint.substr(fingerprint.find('=') + 1);
  std::string expected_thumbprint;
  for (char c : fingerprint) {
    if (c != ':') expected_thumbprint.push_back(c);
  }
  const std::string expected_pin = run("openssl x509 -in " + path +
                                       " -noout -pubkey | openssl pkey -pubin -outform der | openssl dgst -sha256 "
                                       "-binary | openssl base64 -A");
  REQUIRE(expected_thumbprint.size() == 40);

  for (const std::string& upload : {m.pem, base64(m.der), "\n  " + base64(m.der).insert(20, "\n") + "\n"}) {
    auto p = security::parse_certificate(upload);
    REQUIRE_MESSAGE(p.ok(), p.status().to_string());
    CHECK(p->info.thumbprint == expected_thumbprint);
    CHECK(p->info.public_key_hash == expected_pin);
    CHECK(p->info.subject == "CN=client-one");
    CHECK(p->der_base64 == base64(m.der));
    CHECK(p->info.pem == m.pem);
    const auto now = static_cast<int64_t>(std::time(nullptr));
    CHECK(p->info.not_before_unix <= now);
    CHECK(p->info.not_before_unix >= now - 3600);
    CHECK(p->info.not_after_unix > now);
    CHECK(p->info.not_after_unix <= now + 7200);
  }
  CHECK(security::thumbprint_of(m.der) == expected_thumbprint);
}

TEST_CASE("parse_certificate: a key, garbage, truncated DER or nothing is InvalidArgument") {
  const Made m = make_certificate("client-two", 0, 3600);
  auto key = security::parse_certificate(m.key_pem);
  CHECK(key.status().is_invalid_argument());
  CHECK(key.status().message().find("private key") != std::string::npos);
  CHECK(security::parse_certificate("").status().is_invalid_argument());
  CHECK(security::parse_certificate("   \n").status().is_invalid_argument());
  CHECK(security::parse_certificate("not a certificate!").status().is_invalid_argument());
  CHECK(security::parse_certificate(base64("hello world, no DER")).status().is_invalid_argument());
  CHECK(security::parse_certificate(base64(m.der.substr(0, m.der.size() - 10))).status().is_invalid_argument());
  CHECK(security::parse_certificate(base64(m.der + "extra")).status().is_invalid_argument());
  std::string damaged = m.pem;
  damaged[damaged.size() / 2] = damaged[damaged.size() / 2] == 'A' ? 'B' : 'A';
  damaged.erase(damaged.size() / 2 - 40, 80);
  CHECK(security::parse_certificate(damaged).status().is_invalid_argument());
}

TEST_CASE("format_certificate_date: RavenDB's form") {
  CHECK(security::format_certificate_date(0) == "1970-01-01T00:00:00.0000000Z");
  CHECK(security::format_certificate_date(1'800'000'000) == "2027-01-15T08:00:00.0000000Z");
}
