#pragma once
// Checks shared by the tests that talk HTTP to a real corvusd: the shape of
// RavenDB's error body, the database etag (to prove bad input wrote nothing),
// and a 2xx JSON body. They use doctest assertions, so call them from a test.

#include <boost/json.hpp>
#include <cstdint>
#include <string>

#include "tests/support/http_client.h"

namespace corvus::testing {

// LastDocEtag of `database` from GET /databases/<database>/stats.
uint64_t last_etag(HttpClient& c, const std::string& database = "db");

// `r` is a `status` with RavenDB's {Type, Message, Error} body whose Message
// mentions `needle`; when `type` is given, the Type must mention it too.
void check_error(const HttpResult& r, int status, const std::string& needle, const std::string& type = "");

// The JSON object body of a 2xx response.
boost::json::object json_of(const HttpResult& r);

}  // namespace corvus::testing
