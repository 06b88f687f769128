// IdPatterns: the `matches` / `exclude` wildcards of /streams/docs.

#include "server/handlers/id_patterns.h"

#include <doctest/doctest.h>

using corvus::server::handlers::IdPatterns;

TEST_CASE("IdPatterns: '*' and '?' wildcards, '|' alternatives, no case") {
  CHECK(IdPatterns::parse("").empty());
  CHECK(IdPatterns::parse("||").empty());

  auto p = IdPatterns::parse("1*");
  CHECK(p.any_matches("1"));
  CHECK(p.any_matches("10"));
  CHECK(!p.any_matches("21"));
  CHECK(!p.any_matches(""));

  p = IdPatterns::parse("?2|*x*y|ABC");
  CHECK(p.any_matches("12"));
  CHECK(!p.any_matches("2"));
  CHECK(!p.any_matches("112"));
  CHECK(p.any_matches("xy"));
  CHECK(p.any_matches("axbxcy"));
  CHECK(!p.any_matches("axbxcyz"));
  CHECK(p.any_matches("abc"));
  CHECK(p.any_matches("AbC"));
  CHECK(!p.any_matches("abcd"));

  // '?' is one character, not one byte; letters fold beyond ASCII.
  p = IdPatterns::parse("caf?");
  CHECK(p.any_matches("café"));
  CHECK(!p.any_matches("cafée"));
  CHECK(IdPatterns::parse("É*").any_matches("été"));

  // Many stars backtrack without blowing up.
  p = IdPatterns::parse("*a*a*a*a*a*a*a*a*b");
  CHECK(!p.any_matches(std::string(200, 'a')));
  CHECK(p.any_matches(std::string(200, 'a') + "b"));
  CHECK(IdPatterns::parse("**").any_matches(""));
}
