#include "server/http/query_string.h"

#include <doctest/doctest.h>

using corvus::server::http::percent_decode;
using corvus::server::http::QueryString;

TEST_CASE("QueryString: empty parameter right after '?' and percent-decoded id") {
  auto q = QueryString::parse("&id=users%2F1");
  CHECK(q.get("id") == std::optional<std::string>("users/1"));
  CHECK(q.params().size() == 1);
  auto q2 = QueryString::parse("?&id=users%2F1");  // a leading '?' is tolerated too
  CHECK(q2.get("id") == std::optional<std::string>("users/1"));
}

TEST_CASE("QueryString: bare keys, empty values, missing keys") {
  auto q = QueryString::parse("name=DB&first-topology-update&x=");
  CHECK(q.get("name") == std::optional<std::string>("DB"));
  CHECK(q.has("first-topology-update"));
  CHECK(q.get("first-topology-update") == std::optional<std::string>(""));
  CHECK(q.get("x") == std::optional<std::string>(""));
  CHECK_FALSE(q.has("missing"));
  CHECK_FALSE(q.get("missing").has_value());
  CHECK(q.get_all("missing").empty());
  CHECK_FALSE(q.has("Name"));  // keys are case-sensitive
}

TEST_CASE("QueryString: repeated keys keep order; get returns the first") {
  auto q = QueryString::parse("id=a&include=x&id=b&&id=c%20d");
  CHECK(q.get_all("id") == std::vector<std::string>{"a", "b", "c d"});
  CHECK(q.get("id") == std::optional<std::string>("a"));
  CHECK(q.get_all("include") == std::vector<std::string>{"x"});
}

TEST_CASE("QueryString: '+' is a space, malformed escapes stay literal, '=' in values") {
  auto q = QueryString::parse("q=a+b&bad=%zz%4&pct=100%25&eq=a=b&enc%3Dkey=v");
  CHECK(q.get("q") == std::optional<std::string>("a b"));
  CHECK(q.get("bad") == std::optional<std::string>("%zz%4"));
  CHECK(q.get("pct") == std::optional<std::string>("100%"));
  CHECK(q.get("eq") == std::optional<std::string>("a=b"));
  CHECK(q.get("enc=key") == std::optional<std::string>("v"));
}

TEST_CASE("QueryString: empty input and assign() replaces contents") {
  auto q = QueryString::parse("");
  CHECK(q.params().empty());
  q.assign("a=1");
  CHECK(q.get("a") == std::optional<std::string>("1"));
  q.assign("&&&");
  CHECK(q.params().empty());
}

TEST_CASE("QueryString: RavenDB hilo query decodes dates and separators") {
  auto q = QueryString::parse(
      "lastBatchSize=0&tag=users&lastRangeAt=1970-01-01T00%3A00%3A00.0000000Z&identityPartsSeparator=/&lastMax=0");
  CHECK(q.get("lastRangeAt") == std::optional<std::string>("1970-01-01T00:00:00.0000000Z"));
  CHECK(q.get("identityPartsSeparator") == std::optional<std::string>("/"));
}

TEST_CASE("QueryString: percent_decode keeps '+' in paths") {
  std::string out;
  percent_decode("/databases/a+b%20c", out, false);
  CHECK(out == "/databases/a+b c");
}
