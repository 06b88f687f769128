#pragma once
// TlsClient: a small blocking HTTPS/1.1 client for tests: one keep-alive TLS
// connection (Beast ssl_stream), optionally presenting a client certificate,
// verifying the server against a CA file (and the name "localhost") unless
// told not to. Reconnects when the server closed the connection. Every
// connect, handshake and exchange is bounded by the timeout (asynchronous
// operations run for at most that long), so a broken server yields an error,
// never a hang. Not thread-safe: one per thread.

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <string>

#include "tests/support/http_client.h"

namespace corvus::testing {

struct TlsClientOptions {
  std::string ca_file;           // PEM of the CA (or self-signed server) to trust; empty: verify nothing
  std::string certificate_file;  // client certificate PEM; empty: none
  std::string private_key_file;  // its private key PEM
  std::chrono::milliseconds timeout{10000};
};

class TlsClient {
 public:
  TlsClient(uint16_t port, TlsClientOptions options);
  ~TlsClient();
  TlsClient(const TlsClient&) = delete;
  TlsClient& operator=(const TlsClient&) = delete;

  // status 0 and `error` set when there is no answer (connect, handshake, I/O).
  HttpResult request(const std::string& method, const std::string& target, const std::string& body = "",
                     const std::map<std::string, std::string>& headers = {});

  // Connects and handshakes without a request; "" on success, else why not.
  std::string handshake();
  // Handshakes completed on this client (a reconnect counts again).
  int handshakes() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace corvus::testing
