#include "query/rql_lexer.h"

#include <doctest/doctest.h>

using corvus::query::find_block_end;
using corvus::query::tokenize_rql;
using corvus::query::TokenKind;

TEST_CASE("RQL lexer: tokens keep their kind, text and byte position") {
  auto t = tokenize_rql("from 'Users' where Age >= -5 and x != $p0 and d = 1.5e2");
  REQUIRE(t.size() == 15);
  CHECK(t[0].kind == TokenKind::Identifier);
  CHECK(t[0].text == "from");
  CHECK(t[1].kind == TokenKind::String);
  CHECK(t[1].text == "Users");
  CHECK(t[1].position == 5);
  CHECK(t[1].length == 7);
  CHECK(t[1].quote == '\'');
  CHECK(t[4].kind == TokenKind::Symbol);
  CHECK(t[4].text == ">=");
  CHECK(t[5].kind == TokenKind::Integer);
  CHECK(t[5].integer == -5);
  CHECK(t[8].text == "!=");
  CHECK(t[9].kind == TokenKind::Parameter);
  CHECK(t[9].text == "p0");
  CHECK(t[13].kind == TokenKind::Double);
  CHECK(t[13].number == 150.0);
  CHECK(t[14].kind == TokenKind::End);
  CHECK(t[14].position == 55);
}

TEST_CASE("RQL lexer: identifiers take the characters the clients leave unquoted") {
  auto t = tokenize_rql("@metadata.@last-modified _x1 Émile");
  REQUIRE(t.size() == 6);
  CHECK(t[0].text == "@metadata");
  CHECK(t[1].text == ".");
  CHECK(t[2].text == "@last-modified");
  CHECK(t[3].text == "_x1");
  CHECK(t[4].text == "Émile");
}

TEST_CASE("RQL lexer: string escapes") {
  SUBCASE("JSON escapes and the clients' \\' form") {
    auto t = tokenize_rql(R"('a\'b\"c\\d\/e\n\t\u00e9\ud83d\ude00')");
    REQUIRE(t[0].kind == TokenKind::String);
    CHECK(t[0].text == "a'b\"c\\d/e\n\té\xF0\x9F\x98\x80");
  }
  SUBCASE("a doubled quote is one quote") {
    CHECK(tokenize_rql("'it''s'")[0].text == "it's");
    CHECK(tokenize_rql("\"say \"\"hi\"\"\"")[0].text == "say \"hi\"");
  }
  SUBCASE("other backslashes stay, for regexes") {
    CHECK(tokenize_rql(R"('\d+\.')")[0].text == R"(\d+\.)");
  }
  SUBCASE("errors") {
    auto t = tokenize_rql("where 'abc");
    REQUIRE(t.size() == 2);
    CHECK(t[1].kind == TokenKind::Error);
    CHECK(t[1].text == "unterminated string");
    CHECK(t[1].position == 6);
    CHECK(tokenize_rql(R"('\u12')").back().kind == TokenKind::Error);
    CHECK(tokenize_rql("'x\\").back().kind == TokenKind::Error);
  }
}

TEST_CASE("RQL lexer: numbers") {
  CHECK(tokenize_rql("9223372036854775807")[0].integer == INT64_MAX);
  auto big = tokenize_rql("9223372036854775808")[0];
  CHECK(big.kind == TokenKind::Double);
  CHECK(tokenize_rql(".5")[0].number == 0.5);
  CHECK(tokenize_rql("-0.25")[0].number == -0.25);
  CHECK(tokenize_rql("12abc")[0].kind == TokenKind::Error);
  CHECK(tokenize_rql("1_000_000")[0].integer == 1000000);
  CHECK(tokenize_rql("1_000.5")[0].kind == TokenKind::Error);
  CHECK(tokenize_rql("1__0")[0].kind == TokenKind::Error);
}

TEST_CASE("RQL lexer: comments are skipped, stray characters are errors") {
  auto t = tokenize_rql("from /* c */ Users // tail\nwhere");
  REQUIRE(t.size() == 4);
  CHECK(t[1].text == "Users");
  CHECK(t[2].text == "where");
  CHECK(tokenize_rql("from Users /* open").back().kind == TokenKind::Error);
  auto bad = tokenize_rql("a # b");
  CHECK(bad.back().kind == TokenKind::Error);
  CHECK(bad.back().position == 2);
}

TEST_CASE("RQL lexer: a { } block is one token, whatever JavaScript it holds") {
  const std::string script =
      " this.a = '}'; /* } */ this.b = \"{\"; // }\n this.c = `x${ {a:1}.a }}`; if (x) { y(); } ";
  auto t = tokenize_rql("update {" + script + "} limit");
  REQUIRE(t.size() == 4);
  CHECK(t[1].kind == TokenKind::Block);
  CHECK(t[1].text == script);
  CHECK(t[2].text == "limit");
  CHECK(find_block_end("{ '}' ", 0) == std::string_view::npos);
  CHECK(find_block_end("{ `${ } ", 0) == std::string_view::npos);
  CHECK(tokenize_rql("update { x").back().kind == TokenKind::Error);
}
