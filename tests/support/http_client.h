#pragma once
// HttpClient: a small blocking HTTP/1.1 client with keep-alive for tests.
// One connection, reconnects when the server closed it. Every call is bounded
// by the timeout (socket send/receive timeouts), so a stopped or killed server
// yields an error, never a hang. Not thread-safe: one per thread.

#include <chrono>
#include <map>
#include <memory>
#include <string>

namespace corvus::testing {

struct HttpResult {
  int status = 0;  // 0: no response (connection refused, reset, timeout)
  std::string body;
  std::map<std::string, std::string> headers;  // lower-cased names
  std::string error;
  std::string header(const std::string& lower_name) const {
    auto it = headers.find(lower_name);
    return it == headers.end() ? std::string() : it->second;
  }
};

class HttpClient {
 public:
  HttpClient(std::string host, uint16_t port, std::chrono::milliseconds timeout = std::chrono::seconds(10));
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  HttpResult request(const std::string& method, const std::string& target, const std::string& body = "",
                     const std::map<std::string, std::string>& headers = {});

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace corvus::testing
