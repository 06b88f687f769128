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

}  // namespace

std::string encode_number(double d) {
  if (d == 0) d = 0;  // -0.0 and 0.0 are one value
  uint64_t bits = std::bit_cast<uint64_t>(d);
  // Positive numbers: set the sign bit so they sort after negatives;
  // negative ones: flip everything so larger magnitudes sort first.
  bits = (bits & (uint64_t{1} << 63)) ? ~bits : bits | (uint64_t{1} << 63);
  return storage::encode_big_endian(bits);
}

std::string number_text(std::string_view encoded) {
  uint64_t bits = storage::decode_big_endian(encoded);
  bits = (bits & (uint64_t{1} << 63)) ? bits & ~(uint64_t{1} << 63) : ~bits;
  return canonical_text(boost::json::value(std::bit_cast<double>(bits))).value_or("");
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

std::string type_prefix(uint8_t field, TermType type) {
  std::string out = "E";
  out.push_back(static_cast<char>(field));
  out.push_back(static_cast<char>(type));
  return out;
}

std::string term_prefix(uint8_t field, const Term& term, bool terminated) {
  std::string out = type_prefix(field, term.type);
  append_escaped(out, term.value);
  if (terminated) out.append(2, '\0');
  return out;
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
