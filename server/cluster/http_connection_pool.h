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
// connection): safe to retry elsewhere.
//
// A secured node (set_tls) calls https:// nodes only, presenting its node
// certificate as the client certificate and checking the server's certificate
// with the trust rule (NodeTls; pinning, not a CA); an unsecured node calls
// http:// nodes only. The other scheme is refused with InvalidArgument: a
// secured and an unsecured node never form a cluster.
//
// Thread-safe; call off the I/O threads. set_tls() once, before any call.

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <boost/beast/http/verb.hpp>

#include "server/cluster/node_tls.h"
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

  // Makes this a secured node's pool: `check` is the trust rule for the
  // server's certificate ("" = trusted).
  void set_tls(std::shared_ptr<const NodeTls> tls, std::function<std::string(X509*)> check);

  Result<HttpReply> call(boost::beast::http::verb method, const std::string& base_url, const std::string& target,
                         const std::string& body, std::chrono::milliseconds timeout,
                         const std::string& extra_header_name = "", const std::string& extra_header_value = "");

 private:
  struct Connection;
  std::unique_ptr<Connection> take(const std::string& base_url);
  void give_back(const std::string& base_url, std::unique_ptr<Connection> c);

  std::shared_ptr<const NodeTls> tls_;
  std::function<std::string(X509*)> check_;
  std::mutex mu_;
  std::map<std::string, std::vector<std::unique_ptr<Connection>>> idle_;
};

}  // namespace corvus::server::cluster
