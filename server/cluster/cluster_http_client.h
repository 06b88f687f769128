#pragma once
// A blocking HTTP/1.1 call from one node to another (forwarding cluster commands
// to the leader, probing a node before adding it, telling a removed node to
// leave). One connection per call; bounded by `timeout` end to end. Thread-safe
// (no shared state); call it off the HTTP I/O threads.

#include <chrono>
#include <string>

#include <boost/beast/http/verb.hpp>

#include "storage/status.h"

namespace corvus::server::cluster {

struct HttpReply {
  unsigned status = 0;
  std::string body;
};

// `base_url` is "http://host:port". IOError/Timeout when there is no answer.
Result<HttpReply> http_call(boost::beast::http::verb method, const std::string& base_url, const std::string& target,
                            const std::string& body, std::chrono::milliseconds timeout,
                            const std::string& extra_header_name = "", const std::string& extra_header_value = "");

}  // namespace corvus::server::cluster
