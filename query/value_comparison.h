#pragma once
// How RQL compares a query value with a value found in a document, following
// what RavenDB's auto-indexes give (ravendb/ravendb, LuceneDocumentConverter and
// the query builder): strings compare case-insensitively unless `exact`, numbers
// numerically whatever their JSON type, a string query value also matches a
// number or bool whose text it is. Free functions on boost::json values: no
// state, safe from any thread.
//
// Case-insensitivity is the lower-casing of document ids (storage::lower_id):
// ASCII and the two-byte UTF-8 letters of Latin-1, Latin Extended-A, Greek and
// Cyrillic; other scripts compare as they are. One folding for ids, index terms
// and comparisons, so "equal ignoring case" means the same everywhere. Strings
// order by their lowered UTF-8 bytes (code point order).

#include <compare>
#include <optional>
#include <string>
#include <string_view>

#include <boost/json/value.hpp>

namespace corvus::query {

bool is_ascii(std::string_view text);

// `text` lower-cased as storage::lower_id lowers ids. Same byte length.
std::string to_lower(std::string_view text);

// Case-insensitive ordinal comparison (as if both sides were to_lower()ed),
// without allocating.
std::strong_ordering compare_ignore_case(std::string_view a, std::string_view b);
bool equals_ignore_case(std::string_view a, std::string_view b);

// int64, uint64 or double.
bool is_number(const boost::json::value& v);

// Numeric comparison of two numbers of any JSON number type: integers exactly
// (big int64s do not lose digits through double), NaN unordered.
// Precondition: is_number(a) && is_number(b).
std::partial_ordering compare_numbers(const boost::json::value& a, const boost::json::value& b);

// The text RavenDB indexes for a scalar: the string itself, a number's shortest
// round-trip decimal form (5, 2.5, 1e+21; a double with an integral value has no
// ".0"), "true"/"false". nullopt for null, arrays and objects.
std::optional<std::string> canonical_text(const boost::json::value& v);

// `document_value = query_value` as RQL's `=` means it:
//   string query value: a string (case-insensitive, `exact`: as is), a number whose
//     canonical text it is, a bool whose text it is ("true", any case);
//   number query value: a number, numerically (5 == 5.0);
//   bool query value: a bool, or the string "true"/"false" (any case);
//   null query value: null.
// Anything else (arrays, objects, mismatched types) is not equal.
bool query_value_equals(const boost::json::value& query_value, const boost::json::value& document_value,
                        bool exact);

// The order of `document_value` relative to `bound` for <, <=, >, >=, between:
// a number bound orders numbers only, a string bound orders strings only
// (lower-cased ordinal; `exact`: as is). Unordered (never matches) for every
// other pairing, null bounds included.
std::partial_ordering compare_for_range(const boost::json::value& document_value,
                                        const boost::json::value& bound, bool exact);

}  // namespace corvus::query
