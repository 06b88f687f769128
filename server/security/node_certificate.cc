#include "server/security/node_certificate.h"

#include <fcntl.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <vector>

#include <boost/asio/ip/address.hpp>

#include "server/http/client_certificate.h"
#include "server/security/self_signed.h"

namespace corvus::server::security {

namespace {

struct KeyFree {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
};
using KeyPtr = std::unique_ptr<EVP_PKEY, KeyFree>;

Status io_error(const std::string& what, const std::string& path) {
  return Status::IOError(what + " " + path + ": " + std::strerror(errno));
}

// Writes `text` to `path` as a whole or not at all, readable by the owner only.
Status write_private_file(const std::string& path, const std::string& text) {
  const std::string tmp = path + ".tmp";
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return io_error("cannot create", tmp);
  size_t done = 0;
  while (done < text.size()) {
    const ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      Status s = io_error("cannot write", tmp);
      ::close(fd);
      return s;
    }
    done += static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0) {
    Status s = io_error("cannot sync", tmp);
    ::close(fd);
    return s;
  }
  ::close(fd);
  if (::rename(tmp.c_str(), path.c_str()) != 0) return io_error("cannot rename to", path);
  return Status::Ok();
}

Result<KeyPtr> load_or_create_key(const std::string& path, bool& created) {
  std::error_code ec;
  if (std::filesystem::exists(path, ec)) {
    std::ifstream in(path);
    if (!in) return io_error("cannot read", path);
    std::stringstream text;
    text << in.rdbuf();
    const std::string pem = text.str();
    BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
    KeyPtr key(bio ? PEM_read_bio_PrivateKey(bio, nullptr, nullptr, nullptr) : nullptr);
    BIO_free(bio);
    if (!key) {
      return Status::InvalidArgument(path + " holds no readable private key: remove it to make a new one (the "
                                            "node's key hash will change)");
    }
    created = false;
    return key;
  }
  KeyPtr key(EVP_EC_gen("P-256"));
  if (!key) return Status::Internal("cannot generate an ECDSA P-256 key");
  const std::string pem = private_key_pem(key.get());
  if (pem.empty()) return Status::Internal("cannot write the private key as PEM");
  if (Status s = write_private_file(path, pem); !s.ok()) return s;
  created = true;
  return key;
}

std::vector<std::string> subject_alt_names(const std::string& host) {
  boost::system::error_code ec;
  boost::asio::ip::make_address(host, ec);
  if (!ec) return {"IP:" + host};
  std::vector<std::string> names{"DNS:" + host};
  if (host == "localhost") names.push_back("IP:127.0.0.1");
  return names;
}

}  // namespace

Result<NodeCertificate> ensure_node_certificate(const std::string& dir, const std::string& host) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return Status::IOError("cannot create " + dir + ": " + ec.message());
  NodeCertificate out;
  auto key = load_or_create_key(dir + "/node-key.pem", out.key_created);
  if (!key.ok()) return key.status();
  auto cert = sign_self_signed(key->get(), host, subject_alt_names(host), kNodeCertificateValidDays);
  if (!cert.ok()) return cert.status();
  const std::string pem = certificate_pem(cert->get()) + private_key_pem(key->get());
  out.pem_path = dir + "/node-certificate.pem";
  if (Status s = write_private_file(out.pem_path, pem); !s.ok()) return s;
  out.public_key_hash = http::describe_certificate(cert->get()).public_key_hash;
  return out;
}

}  // namespace corvus::server::security
