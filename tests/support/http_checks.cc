#include "tests/support/http_checks.h"

#include <doctest/doctest.h>

namespace corvus::testing {

uint64_t last_etag(HttpClient& c, const std::string& database) {
  auto r = c.request("GET", "/databases/" + database + "/stats");
  REQUIRE(r.status == 200);
  return boost::json::parse(r.body).as_object()["LastDocEtag"].to_number<uint64_t>();
}

void check_error(const HttpResult& r, int status, const std::string& needle, const std::string& type) {
  CHECK_MESSAGE(r.status == status, r.status << " " << r.body);
  boost::system::error_code ec;
  auto v = boost::json::parse(r.body, ec);
  REQUIRE_MESSAGE(!ec, "error body is not JSON: " << r.body);
  auto& o = v.as_object();
  REQUIRE(o.contains("Type"));
  REQUIRE(o.contains("Message"));
  REQUIRE(o.contains("Error"));
  if (!type.empty()) {
    CHECK_MESSAGE(std::string(o["Type"].as_string()).find(type) != std::string::npos, r.body);
  }
  CHECK_MESSAGE(std::string(o["Message"].as_string()).find(needle) != std::string::npos, r.body);
}

boost::json::object json_of(const HttpResult& r) {
  REQUIRE_MESSAGE(r.status / 100 == 2, r.status << " " << r.body);
  return boost::json::parse(r.body).as_object();
}

}  // namespace corvus::testing
