#include "query/index_terms.h"

#include <bit>
#include <cmath>
#include <cstring>

#include "query/value_comparison.h"
#include "storage/document.h"

namespace corvus::query {

namespace {

void append_escaped(std::string& out, std::string_view value) {
  for (char c : value) {
    out.push_back(c);
    if (c == '\0') out.push_back('\1');
  }
}

// <tag><field><type>: what every entry of one field and type starts with.
std::string tagged_type_prefix(char tag, uint8_t field, TermType type) {
  std::string out(1, tag);
  out.push_back(static_cast<char>(field));
  out.push_back(static_cast<char>(type));
  return out;
}

std::string tagged_term_prefix(char tag, uint8_t field, const Term& term, bool terminated) {
  std::string out = tagged_type_prefix(tag, field, term.type);
  append_escaped(out, term.value);
  if (terminated) out.append(2, '\0');
  return out;
}

}  // namespace

std::string encode_number(double d) {
  if (d == 0) d = 0;  // -0.0 and 0.0 are one value
  uint64_t bits = std::bit_cast<uint64_t>(d);
  // Positive numbers: set the sign bit so they sort after negatives;
  // negative ones: flip everything so larger magnitudes sort first.
  bits = (bits & (uint64_t{1} << 63)) ? ~bits : bits | (uint64_t{1} << 63);
  return storage::encode_big_endian(bits);
}

double decode_number(std::string_view encoded) {
  uint64_t bits = storage::decode_big_endian(encoded);
  bits = (bits & (uint64_t{1} << 63)) ? bits & ~(uint64_t{1} << 63) : ~bits;
  return std::bit_cast<double>(bits);
}

std::string number_text(std::string_view encoded) {
  return canonical_text(boost::json::value(decode_number(encoded))).value_or("");
}

Term string_term(std::string_view s) { return Term{TermType::String, to_lower(s)}; }
Term number_term(double d) { return Term{TermType::Number, encode_number(d)}; }

std::optional<Term> term_of(const boost::json::value& v) {
  switch (v.kind()) {
    case boost::json::kind::null:
      return Term{TermType::Null, {}};
    case boost::json::kind::bool_:
      return Term{TermType::String, v.get_bool() ? "true" : "false"};
    case boost::json::kind::int64:
      return number_term(static_cast<double>(v.get_int64()));
    case boost::json::kind::uint64:
      return number_term(static_cast<double>(v.get_uint64()));
    case boost::json::kind::double_:
      if (std::isnan(v.get_double())) return std::nullopt;
      return number_term(v.get_double());
    case boost::json::kind::string:
      return string_term(v.get_string());
    default:
      return std::nullopt;
  }
}

std::string type_prefix(uint8_t field, TermType type) { return tagged_type_prefix('E', field, type); }

std::string term_prefix(uint8_t field, const Term& term, bool terminated) {
  return tagged_term_prefix('E', field, term, terminated);
}

Term sort_term(const std::vector<const boost::json::value*>& values) {
  if (values.empty()) return Term{};
  return term_of(*values.front()).value_or(Term{});
}

std::string sort_field_prefix(uint8_t field) {
  std::string out = "O";
  out.push_back(static_cast<char>(field));
  return out;
}

std::string sort_type_prefix(uint8_t field, TermType type) { return tagged_type_prefix('O', field, type); }

std::string sort_prefix(uint8_t field, const Term& term) { return tagged_term_prefix('O', field, term, true); }

std::optional<Term> entry_term(std::string_view key) {
  if (key.size() < 3) return std::nullopt;
  const char type = key[2];
  if (type != static_cast<char>(TermType::Null) && type != static_cast<char>(TermType::Number) &&
      type != static_cast<char>(TermType::String))
    return std::nullopt;
  Term term{static_cast<TermType>(type), {}};
  for (size_t i = 3; i + 1 < key.size(); ++i) {
    term.value.push_back(key[i]);
    if (key[i] != '\0') continue;
    if (key[i + 1] == '\0') {
      term.value.pop_back();  // the terminator
      return term;
    }
    ++i;  // an escaped 0 byte
  }
  return std::nullopt;
}

std::string entry_key(uint8_t field, const Term& term, std::string_view lowered_id) {
  std::string out = term_prefix(field, term, true);
  out.append(lowered_id);
  return out;
}

std::string_view entry_document(std::string_view key) {
  for (size_t i = 3; i + 1 < key.size(); ++i) {
    if (key[i] != '\0') continue;
    if (key[i + 1] == '\0') return key.substr(i + 2);
    ++i;  // an escaped 0 byte
  }
  return {};
}

}  // namespace corvus::query
