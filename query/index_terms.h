#pragma once
// Index terms: how one JSON value of one indexed field becomes a RocksDB key
// whose bytewise order is the query order, so that equality, ranges and
// prefixes are seeks. Numbers order as numbers (IEEE-754 bits made sortable),
// strings case-insensitively (lowered by to_lower, value_comparison.h: as the
// evaluator compares them, so a lookup finds at least what the filter then accepts), bools as
// the strings "true"/"false" (RavenDB indexes them so), null as its own type.
// An entry key is <'E'><field><type><escaped value>\0\0<lowered document id>:
// 0 bytes inside a value are escaped (\0 -> \0\1) so the terminator is unique.
// Sort entries: one per document and field, <'O'><field><type><escaped value>
// \0\0<lowered id>, the term of the first value the path reaches (what RQL's
// order by sorts on) or a Null term when that is missing or not a scalar, so
// walking them in key order is walking the documents in sort order.
// Pure functions, any thread.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json/value.hpp>

namespace corvus::query {

enum class TermType : char { Null = '0', Number = 'N', String = 'S' };

struct Term {
  TermType type = TermType::Null;
  std::string value;  // encoded: sortable number bytes or the lowered string; empty for null
};

// The term of a scalar (number, string, bool, null); nullopt for objects,
// arrays and NaN, which are not indexed.
std::optional<Term> term_of(const boost::json::value& v);
// Below this magnitude every integer is a double of its own, so a Number term
// stands for exactly one integer; beyond it neighbouring integers share a term.
constexpr double kExactIntegerLimit = 9007199254740992.0;  // 2^53

// The sortable 8 bytes of a number.
std::string encode_number(double d);
// The number a Number term's 8 bytes encode, and as text ("5", "2.5").
double decode_number(std::string_view encoded);
std::string number_text(std::string_view encoded);
Term string_term(std::string_view s);
Term number_term(double d);

// All entries of one field and type start with this.
std::string type_prefix(uint8_t field, TermType type);
// type_prefix + escaped value: what entries of a value (and, with
// terminated=false, of every value starting with it) start with.
std::string term_prefix(uint8_t field, const Term& term, bool terminated);
// An entry: the term's key and the lowered document id.
std::string entry_key(uint8_t field, const Term& term, std::string_view lowered_id);
// The lowered document id at the end of an entry key (empty if malformed).
std::string_view entry_document(std::string_view entry_key);

// The sort term of the values a path reached (collect_field_values, in order):
// the first one's, Null when there is none or it has no term.
Term sort_term(const std::vector<const boost::json::value*>& values);
// All sort entries of one field (and type) start with these.
std::string sort_field_prefix(uint8_t field);
std::string sort_type_prefix(uint8_t field, TermType type);
// A sort entry without its document id (what a document's entry list keeps).
std::string sort_prefix(uint8_t field, const Term& term);
// The term of a sort entry (or of any entry: the type after the field byte,
// the value unescaped); nullopt when malformed.
std::optional<Term> entry_term(std::string_view entry_key);

}  // namespace corvus::query
