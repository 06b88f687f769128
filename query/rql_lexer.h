#pragma once
// RqlLexer: splits RQL text into tokens that keep their byte positions, for
// parse_rql (query/rql_parser.h) and its error messages. A pure function of the
// text: no state survives a call, safe from any thread.
//
// The token stream always ends with exactly one End or Error token. A lexical
// error (unterminated string, stray character) becomes an Error token at the
// place it was found rather than a failed call, so the parser can first refuse
// an unsupported construct that comes earlier in the query with a better message.
//
// `{ ... }` is one Block token holding the text between the braces as written:
// RQL only has braces around JavaScript (`update { }`, `select { }`, `declare
// function`), and JavaScript is not RQL tokens. The block ends at the brace that
// matches, skipping braces inside JS strings, template literals and comments.
// A JS regular expression literal containing an unbalanced brace or quote is not
// recognised (telling `/` division from a regex needs a JS parser).

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace corvus::query {

enum class TokenKind {
  Identifier,  // Users, u, Address, @metadata, @last-modified, _x1 (keywords too)
  String,      // 'single' or "double" quoted; `text` is unescaped
  Integer,     // fits in int64: `integer` (10_000 allowed, as in RavenDB)
  Double,      // has a fraction or exponent, or overflows int64: `number`
  Parameter,   // $p0: `text` is the name without '$'
  Symbol,      // ( ) , . [ ] * = == != <> < <= > >=
  Block,       // { ... }: `text` is what lies between the outer braces
  End,         // end of the query
  Error,       // `text` is what is wrong
};

struct Token {
  TokenKind kind = TokenKind::End;
  std::string text;
  size_t position = 0;  // byte offset of the token's first character
  size_t length = 0;    // bytes the token spans in the query
  int64_t integer = 0;
  double number = 0;
  char quote = 0;  // String: the quote character used
};

// Every token of `text`, ending with End or Error.
std::vector<Token> tokenize_rql(std::string_view text);

// The offset just past the '}' that closes the '{' at text[open], skipping
// braces in JS strings, template literals and comments; npos if it never closes.
size_t find_block_end(std::string_view text, size_t open);

}  // namespace corvus::query
