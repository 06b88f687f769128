#pragma once
// ensure_node_certificate(): the node's own identity for
// --self-signed-certificate (trust without a PKI). The private key is made
// once (ECDSA P-256: cheap handshakes) and kept in `dir`/node-key.pem
// (mode 0600); every start signs a fresh self-signed certificate over it,
// named for `host`, into `dir`/node-certificate.pem (certificate + key,
// what --certificate reads). Peers and clients pin the node by the SHA-256
// of its public key ("Server Key Hash"), which a new certificate over the
// same key does not change, so rotating the certificate is free; replacing
// the key changes the pin. Files are written whole (temporary, fsync,
// rename). Called once at start, before the data directory is opened.

#include <string>

#include "storage/status.h"

namespace corvus::server::security {

struct NodeCertificate {
  std::string pem_path;         // certificate + private key
  std::string public_key_hash;  // base64 SHA-256 of the DER SubjectPublicKeyInfo
  bool key_created = false;     // a new key: the pin changed
};

inline constexpr int kNodeCertificateValidDays = 365;

// IOError when the directory or files cannot be written or the key file
// cannot be read; InvalidArgument when the key file holds no usable key.
Result<NodeCertificate> ensure_node_certificate(const std::string& dir, const std::string& host);

}  // namespace corvus::server::security
