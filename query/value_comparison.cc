#include "query/value_comparison.h"

#include <charconv>
#include <cmath>

namespace corvus::query {

namespace json = boost::json;

char to_lower_ascii(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

std::string to_lower_ascii(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = to_lower_ascii(c);
  return out;
}

std::strong_ordering compare_ignore_case(std::string_view a, std::string_view b) {
  const size_t n = std::min(a.size(), b.size());
  for (size_t i = 0; i < n; ++i) {
    // Compare as unsigned bytes so UTF-8 sequences order after ASCII, like an ordinal compare.
    const auto ca = static_cast<unsigned char>(to_lower_ascii(a[i]));
    const auto cb = static_cast<unsigned char>(to_lower_ascii(b[i]));
    if (ca != cb) return ca <=> cb;
  }
  return a.size() <=> b.size();
}

bool equals_ignore_case(std::string_view a, std::string_view b) {
  return a.size() == b.size() && compare_ignore_case(a, b) == 0;
}

bool is_number(const json::value& v) { return v.is_int64() || v.is_uint64() || v.is_double(); }

namespace {

// Integers compared exactly; everything that involves a double goes through long
// double, whose 64-bit (x86) or 113-bit (aarch64) mantissa holds every int64 and
// uint64 and every double exactly, so the comparison is exact too.
std::partial_ordering compare_integers(const json::value& a, const json::value& b) {
  if (a.is_int64() && b.is_int64()) return a.get_int64() <=> b.get_int64();
  if (a.is_uint64() && b.is_uint64()) return a.get_uint64() <=> b.get_uint64();
  if (a.is_int64()) {  // b is uint64
    if (a.get_int64() < 0) return std::partial_ordering::less;
    return static_cast<uint64_t>(a.get_int64()) <=> b.get_uint64();
  }
  // a is uint64, b is int64
  if (b.get_int64() < 0) return std::partial_ordering::greater;
  return a.get_uint64() <=> static_cast<uint64_t>(b.get_int64());
}

long double as_long_double(const json::value& v) {
  if (v.is_int64()) return static_cast<long double>(v.get_int64());
  if (v.is_uint64()) return static_cast<long double>(v.get_uint64());
  return static_cast<long double>(v.get_double());
}

}  // namespace

std::partial_ordering compare_numbers(const json::value& a, const json::value& b) {
  if (!a.is_double() && !b.is_double()) return compare_integers(a, b);
  return as_long_double(a) <=> as_long_double(b);
}

std::optional<std::string> canonical_text(const json::value& v) {
  switch (v.kind()) {
    case json::kind::string:
      return std::string(v.get_string());
    case json::kind::int64:
      return std::to_string(v.get_int64());
    case json::kind::uint64:
      return std::to_string(v.get_uint64());
    case json::kind::double_: {
      const double d = v.get_double();
      if (std::isnan(d)) return std::string("NaN");
      if (std::isinf(d)) return std::string(d > 0 ? "Infinity" : "-Infinity");
      char buffer[64];
      auto [end, ec] = std::to_chars(buffer, buffer + sizeof buffer, d);
      if (ec != std::errc()) return std::nullopt;
      return std::string(buffer, end);
    }
    case json::kind::bool_:
      return std::string(v.get_bool() ? "true" : "false");
    default:
      return std::nullopt;
  }
}

bool query_value_equals(const json::value& query_value, const json::value& document_value, bool exact) {
  switch (query_value.kind()) {
    case json::kind::string: {
      const std::string_view q = query_value.get_string();
      if (document_value.is_string()) {
        const std::string_view d = document_value.get_string();
        return exact ? q == d : equals_ignore_case(q, d);
      }
      if (is_number(document_value)) {
        auto text = canonical_text(document_value);
        return text && *text == q;
      }
      if (document_value.is_bool()) return equals_ignore_case(q, document_value.get_bool() ? "true" : "false");
      return false;
    }
    case json::kind::int64:
    case json::kind::uint64:
    case json::kind::double_:
      return is_number(document_value) && compare_numbers(document_value, query_value) == 0;
    case json::kind::bool_:
      if (document_value.is_bool()) return document_value.get_bool() == query_value.get_bool();
      if (document_value.is_string())
        return equals_ignore_case(document_value.get_string(), query_value.get_bool() ? "true" : "false");
      return false;
    case json::kind::null:
      return document_value.is_null();
    default:
      return false;
  }
}

std::partial_ordering compare_for_range(const json::value& document_value, const json::value& bound, bool exact) {
  if (is_number(bound)) {
    if (!is_number(document_value)) return std::partial_ordering::unordered;
    return compare_numbers(document_value, bound);
  }
  if (bound.is_string()) {
    if (!document_value.is_string()) return std::partial_ordering::unordered;
    const std::string_view d = document_value.get_string();
    const std::string_view b = bound.get_string();
    if (exact) {
      // Ordinal on unsigned bytes, like compare_ignore_case.
      const int c = d.compare(b);
      return c < 0 ? std::partial_ordering::less : c > 0 ? std::partial_ordering::greater
                                                         : std::partial_ordering::equivalent;
    }
    return compare_ignore_case(d, b);
  }
  return std::partial_ordering::unordered;
}

}  // namespace corvus::query
