// Value comparison rules of RQL (RavenDB's auto-index semantics): case-insensitive
// strings, numbers across JSON types, strings matching numbers' and bools' text,
// ranges only between values of the bound's type.

#include "query/value_comparison.h"

#include <doctest/doctest.h>

#include <limits>
#include <random>
#include <vector>

#include "storage/document.h"

using namespace corvus::query;
namespace json = boost::json;

TEST_CASE("canonical_text: numbers' shortest text, bools, strings; nothing for null and containers") {
  CHECK(*canonical_text(json::value(5)) == "5");
  CHECK(*canonical_text(json::value(5.0)) == "5");
  CHECK(*canonical_text(json::value(2.5)) == "2.5");
  CHECK(*canonical_text(json::value(-7)) == "-7");
  CHECK(*canonical_text(json::value(std::numeric_limits<uint64_t>::max())) == "18446744073709551615");
  CHECK(*canonical_text(json::value(true)) == "true");
  CHECK(*canonical_text(json::value("x")) == "x");
  CHECK_FALSE(canonical_text(json::value(nullptr)));
  CHECK_FALSE(canonical_text(json::value(json::array{1})));
}

TEST_CASE("compare_numbers: mixed int64, uint64 and double; big int64s exactly") {
  CHECK(compare_numbers(json::value(5), json::value(5.0)) == 0);
  CHECK(compare_numbers(json::value(5), json::value(5.5)) < 0);
  CHECK(compare_numbers(json::value(-1), json::value(std::numeric_limits<uint64_t>::max())) < 0);
  CHECK(compare_numbers(json::value(std::numeric_limits<uint64_t>::max()), json::value(-1)) > 0);
  // 2^53 + 1 is not a double: comparing through double would call these equal.
  const int64_t big = (int64_t{1} << 53) + 1;
  CHECK(compare_numbers(json::value(big), json::value(big - 1)) > 0);
  CHECK(compare_numbers(json::value(big), json::value(static_cast<double>(big - 1))) > 0);
  CHECK(compare_numbers(json::value(std::numeric_limits<int64_t>::max()), json::value(9.3e18)) < 0);
  CHECK(compare_numbers(json::value(1), json::value(std::numeric_limits<double>::quiet_NaN())) ==
        std::partial_ordering::unordered);
}

TEST_CASE("query_value_equals: strings case-insensitive unless exact") {
  CHECK(query_value_equals(json::value("oren"), json::value("OREN"), false));
  CHECK_FALSE(query_value_equals(json::value("oren"), json::value("OREN"), true));
  CHECK(query_value_equals(json::value("Oren"), json::value("Oren"), true));
  CHECK_FALSE(query_value_equals(json::value("oren"), json::value("orena"), false));
}

TEST_CASE("query_value_equals: numbers numerically; a number never equals a string") {
  CHECK(query_value_equals(json::value(5), json::value(5.0), false));
  CHECK(query_value_equals(json::value(5.0), json::value(5), false));
  CHECK_FALSE(query_value_equals(json::value(5), json::value(6), false));
  CHECK_FALSE(query_value_equals(json::value(5), json::value("5"), false));
  CHECK_FALSE(query_value_equals(json::value(1), json::value(true), false));
}

TEST_CASE("query_value_equals: a string query value equals a number or bool whose text it is") {
  CHECK(query_value_equals(json::value("5"), json::value(5), false));
  CHECK(query_value_equals(json::value("5"), json::value(5.0), false));
  CHECK(query_value_equals(json::value("2.5"), json::value(2.5), false));
  CHECK_FALSE(query_value_equals(json::value("5.0"), json::value(6), false));
  CHECK(query_value_equals(json::value("true"), json::value(true), false));
  CHECK(query_value_equals(json::value("TRUE"), json::value(true), false));
  CHECK_FALSE(query_value_equals(json::value("true"), json::value(false), false));
}

TEST_CASE("query_value_equals: bools equal bools and the strings true/false; null only null") {
  CHECK(query_value_equals(json::value(true), json::value(true), false));
  CHECK(query_value_equals(json::value(false), json::value("False"), false));
  CHECK_FALSE(query_value_equals(json::value(true), json::value("yes"), false));
  CHECK_FALSE(query_value_equals(json::value(true), json::value(1), false));
  CHECK(query_value_equals(json::value(nullptr), json::value(nullptr), false));
  CHECK_FALSE(query_value_equals(json::value(nullptr), json::value(""), false));
  CHECK_FALSE(query_value_equals(json::value(nullptr), json::value(0), false));
  CHECK_FALSE(query_value_equals(json::value("x"), json::value(json::array{"x"}), false));
}

TEST_CASE("compare_for_range: a number bound orders numbers only, a string bound strings only") {
  CHECK(compare_for_range(json::value(3), json::value(5), false) < 0);
  CHECK(compare_for_range(json::value(5.0), json::value(5), false) == 0);
  CHECK(compare_for_range(json::value("3"), json::value(5), false) == std::partial_ordering::unordered);
  CHECK(compare_for_range(json::value("b"), json::value("A"), false) > 0);
  CHECK(compare_for_range(json::value("B"), json::value("a"), false) > 0);
  CHECK(compare_for_range(json::value("B"), json::value("a"), true) < 0);  // ordinal: 'B' < 'a'
  CHECK(compare_for_range(json::value(3), json::value("a"), false) == std::partial_ordering::unordered);
  CHECK(compare_for_range(json::value(nullptr), json::value(1), false) == std::partial_ordering::unordered);
  CHECK(compare_for_range(json::value(1), json::value(nullptr), false) == std::partial_ordering::unordered);
  CHECK(compare_for_range(json::value(true), json::value(true), false) == std::partial_ordering::unordered);
}

TEST_CASE("to_lower is storage::lower_id: ASCII, Latin-1, Latin Extended-A, Greek, Cyrillic") {
  CHECK(to_lower("Hello WORLD 42") == "hello world 42");
  CHECK(to_lower("ÉMILE Zoë") == "émile zoë");
  CHECK(to_lower("ŁÓDŹ ĀĹŇŸ") == "łódź āĺňÿ");
  CHECK(to_lower("ΑΘΗΝΑ") == "αθηνα");
  CHECK(to_lower("ПРИВЕТ Ёж") == "привет ёж");
  CHECK(to_lower("日本語 ×") == "日本語 ×");
  CHECK(to_lower("İstanbul") == "İstanbul");  // no one-to-one lower case: kept, as in ids
  for (const char* text : {"ÉMILE", "Привет", "ΑΘΗΝΑ", "Ab€Cd", "ŸŽ"}) CHECK(to_lower(text) == corvus::storage::lower_id(text));
}

TEST_CASE("compare_ignore_case orders exactly as the lowered strings' bytes do") {
  CHECK(equals_ignore_case("ÉMILE", "émile"));
  CHECK(equals_ignore_case("Привет", "пРИВЕТ"));
  CHECK_FALSE(equals_ignore_case("émile", "emile"));
  CHECK(compare_ignore_case("abc", "ABD") < 0);
  CHECK(compare_ignore_case("ab", "AB") == 0);
  CHECK(compare_ignore_case("ab", "abc") < 0);
  CHECK(compare_ignore_case("z", "é") < 0);  // U+007A < U+00E9
  CHECK(compare_ignore_case("É", "f") > 0);
  CHECK(compare_ignore_case(std::string("a\xff"), std::string("a\xfe")) > 0);  // invalid UTF-8: bytes as they are
  // A fixed pseudo-random sample over ASCII and multi-byte letters: the same
  // order as comparing storage::lower_id of both sides.
  const std::vector<std::string> pieces = {"a", "B", "z", "É", "é", "Ž", "ž", "Я", "я", "Ω", "ω", "€", "日", "İ", "1"};
  std::mt19937 random(7);
  auto make = [&] {
    std::string s;
    const size_t n = random() % 5;
    for (size_t i = 0; i < n; ++i) s += pieces[random() % pieces.size()];
    return s;
  };
  for (int i = 0; i < 2000; ++i) {
    const std::string a = make(), b = make();
    const auto expected = corvus::storage::lower_id(a).compare(corvus::storage::lower_id(b));
    const auto got = compare_ignore_case(a, b);
    CHECK_MESSAGE((expected < 0 ? got < 0 : expected > 0 ? got > 0 : got == 0), a << " vs " << b);
  }
}

TEST_CASE("query_value_equals: non-ASCII strings case-insensitively") {
  CHECK(query_value_equals(json::value("ÉMILE"), json::value("émile"), false));
  CHECK_FALSE(query_value_equals(json::value("ÉMILE"), json::value("émile"), true));
}
