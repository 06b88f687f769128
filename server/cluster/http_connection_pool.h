#pragma once
// HttpConnectionPool: every blocking HTTP/1.1 call from one node to another
// (forwarding to the leader, probing a node before adding it, telling a removed
// node to leave, waiting for members) over kept-alive connections, so a follower forwarding many commands to the leader does not
// pay a TCP handshake per command. Idle connections are kept per base URL
// (at most kMaxIdlePerUrl) and dropped after kMaxIdle, well before the peer's
// read timeout closes them. A call on a reused connection that fails while
// sending is retried once on a fresh one (the peer closed it idle; nothing
// was received); any later failure is returned, never retried, because the
// request may have taken effect. Busy means the request was never sent (no
// connection): safe to retry elsewhere. Thread-safe; call off the I/O threads.

#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <boost/beast/http/verb.hpp>

#include "storage/status.h"

namespace corvus::server::cluster {

struct HttpReply {
  unsigned status = 0;
  std::string body;
};

class HttpConnectionPool {
 public:
  static constexpr std::size_t kMaxIdlePerUrl = 64;
  static constexpr std::chrono::seconds kMaxIdle{20};

  HttpConnectionPool();
  ~HttpConnectionPool();

  Result<HttpReply> call(boost::beast::http::verb method, const std::string& base_url, const std::string& target,
                         const std::string& body, std::chrono::milliseconds timeout,
                         const std::string& extra_header_name = "", const std::string& extra_header_value = "");

 private:
  struct Connection;
  std::unique_ptr<Connection> take(const std::string& base_url);
  void give_back(const std::string& base_url, std::unique_ptr<Connection> c);

  std::mutex mu_;
  std::map<std::string, std::vector<std::unique_ptr<Connection>>> idle_;
};

}  // namespace corvus::server::cluster
