// generate_client_certificate(): the zip a client downloads holds a
// certificate, its key and a PKCS#12 bundle that agree with each other, and
// is a valid zip (checked by Python's zipfile, CRCs included).

#include <doctest/doctest.h>

#include <openssl/pkcs12.h>
#include <openssl/x509.h>

#include <cstdio>
#include <fstream>
#include <string>

#include "server/security/certificate_generator.h"
#include "server/security/certificate_upload.h"
#include "tests/support/temp_dir.h"

using namespace corvus;
using namespace corvus::server;

namespace {

std::string run(const std::string& command) {
  std::string out;
  FILE* p = popen(command.c_str(), "r");
  REQUIRE(p);
  char buf[256];
  while (size_t n = fread(buf, 1, sizeof buf, p)) out.append(buf, n);
  pclose(p);
  return out;
}

}  // namespace

TEST_CASE("generate_client_certificate: a zip of .crt, .key and .pfx that agree") {
  auto made = security::generate_client_certificate("reporting", "s3cret", 30);
  REQUIRE_MESSAGE(made.ok(), made.status().to_string());
  auto parsed = security::parse_certificate(made->certificate_pem);
  REQUIRE(parsed.ok());
  CHECK(parsed->info.subject == "CN=reporting");
  CHECK(parsed->info.not_after_unix - parsed->info.not_before_unix == 30 * 86400 + 3600);
  CHECK(made->zip.size() > 4096);  // what RavenDB's own test of this operation expects
  CHECK(made->zip.substr(0, 2) == "PK");

  testing::TempDir dir;
  const std::string path = dir.sub("cert.zip");
  std::ofstream(path, std::ios::binary) << made->zip;
  // testzip() checks every CRC; then list the names.
  const std::string listing = run("python3 -c \"import zipfile,sys; z=zipfile.ZipFile(sys.argv[1]); "
                                  "print(z.testzip()); print(' '.join(z.namelist())); "
                                  "sys.stdout.write(z.read('reporting.crt').decode())\" " + path);
  CHECK(listing.starts_with("None\nreporting.crt reporting.key reporting.pfx\n"));
  CHECK(listing.find(made->certificate_pem) != std::string::npos);

  // The bundle opens with the password and holds the same certificate.
  const std::string zip = made->zip;
  const auto at = zip.find("reporting.pfx");  // the local header's name; the bytes follow
  REQUIRE(at != std::string::npos);
  const std::string pfx = zip.substr(at + 13);
  const auto* p = reinterpret_cast<const unsigned char*>(pfx.data());
  PKCS12* p12 = d2i_PKCS12(nullptr, &p, static_cast<long>(pfx.size()));
  REQUIRE(p12);
  EVP_PKEY* key = nullptr;
  X509* cert = nullptr;
  CHECK(PKCS12_parse(p12, "wrong", &key, &cert, nullptr) == 0);
  REQUIRE(PKCS12_parse(p12, "s3cret", &key, &cert, nullptr) == 1);
  CHECK(X509_check_private_key(cert, key) == 1);
  unsigned char* der = nullptr;
  const int len = i2d_X509(cert, &der);
  CHECK(security::thumbprint_of(std::string(reinterpret_cast<char*>(der), static_cast<size_t>(len))) ==
        parsed->info.thumbprint);
  OPENSSL_free(der);
  X509_free(cert);
  EVP_PKEY_free(key);
  PKCS12_free(p12);

  CHECK(security::generate_client_certificate("", "", 1).status().is_invalid_argument());
  CHECK(security::generate_client_certificate("a/b", "", 1).status().is_invalid_argument());
}
