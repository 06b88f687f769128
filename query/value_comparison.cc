#include "query/value_comparison.h"

#include <charconv>
#include <cmath>

namespace corvus::query {

namespace json = boost::json;

namespace {

// One step of UTF-8 decoding at text[i], advancing i. A byte that does not
// start a valid sequence decodes as a code point above Unicode's range
// (0x110000 + byte), one byte at a time, so it stays distinct and ordered.
constexpr char32_t kInvalidByteBase = 0x110000;

char32_t decode_utf8(std::string_view text, size_t& i) {
  const auto byte = [&](size_t k) { return static_cast<unsigned char>(text[k]); };
  const unsigned char lead = byte(i);
  if (lead < 0x80) {
    ++i;
    return lead;
  }
  size_t length = 0;
  char32_t code_point = 0;
  if ((lead & 0xE0) == 0xC0) {
    length = 2;
    code_point = lead & 0x1F;
  } else if ((lead & 0xF0) == 0xE0) {
    length = 3;
    code_point = lead & 0x0F;
  } else if ((lead & 0xF8) == 0xF0) {
    length = 4;
    code_point = lead & 0x07;
  }
  if (length == 0 || i + length > text.size()) return kInvalidByteBase + byte(i++);
  for (size_t k = 1; k < length; ++k) {
    if ((byte(i + k) & 0xC0) != 0x80) return kInvalidByteBase + byte(i++);
    code_point = (code_point << 6) | (byte(i + k) & 0x3F);
  }
  i += length;
  return code_point;
}

void append_utf8(std::string& out, char32_t c) {
  if (c >= kInvalidByteBase) {
    out.push_back(static_cast<char>(c - kInvalidByteBase));
  } else if (c < 0x80) {
    out.push_back(static_cast<char>(c));
  } else if (c < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (c >> 6)));
    out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
  } else if (c < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (c >> 12)));
    out.push_back(static_cast<char>(0x80 | ((c >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (c >> 18)));
    out.push_back(static_cast<char>(0x80 | ((c >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((c >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
  }
}

char ascii_lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

}  // namespace

bool is_ascii(std::string_view text) {
  for (char c : text) {
    if (static_cast<unsigned char>(c) >= 0x80) return false;
  }
  return true;
}

char32_t to_lower(char32_t c) {
  if (c < 0x80) return (c >= 'A' && c <= 'Z') ? c + 0x20 : c;
  if (c >= 0xC0 && c <= 0xDE && c != 0xD7) return c + 0x20;  // Latin-1: À..Þ except ×
  if (c >= 0x100 && c <= 0x17F) {                             // Latin Extended-A: pairs
    if (c == 0x130) return 'i';                               // İ (ToLowerInvariant)
    if (c == 0x178) return 0xFF;                              // Ÿ
    if (c == 0x131 || c == 0x138 || c == 0x149 || c == 0x17F) return c;
    const bool odd_upper = (c >= 0x139 && c <= 0x148) || (c >= 0x179 && c <= 0x17E);
    return (c % 2 == (odd_upper ? 1u : 0u)) ? c + 1 : c;
  }
  if (c >= 0x391 && c <= 0x3A9 && c != 0x3A2) return c + 0x20;  // Greek capitals
  if (c == 0x386) return 0x3AC;
  if (c >= 0x388 && c <= 0x38A) return c + 0x25;
  if (c == 0x38C) return 0x3CC;
  if (c == 0x38E || c == 0x38F) return c + 0x3F;
  if (c >= 0x410 && c <= 0x42F) return c + 0x20;  // Cyrillic А..Я
  if (c >= 0x400 && c <= 0x40F) return c + 0x50;  // Ѐ..Џ
  if (((c >= 0x460 && c <= 0x481) || (c >= 0x48A && c <= 0x4BF)) && c % 2 == 0) return c + 1;
  if (c >= 0x531 && c <= 0x556) return c + 0x30;  // Armenian
  if (c >= 0x1E00 && c <= 0x1EFF && !(c >= 0x1E96 && c <= 0x1E9F) && c % 2 == 0) return c + 1;
  if (c >= 0xFF21 && c <= 0xFF3A) return c + 0x20;  // fullwidth Ａ..Ｚ
  return c;
}

std::string to_lower(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  if (is_ascii(text)) {
    for (char c : text) out.push_back(ascii_lower(c));
    return out;
  }
  for (size_t i = 0; i < text.size();) append_utf8(out, to_lower(decode_utf8(text, i)));
  return out;
}

std::strong_ordering compare_ignore_case(std::string_view a, std::string_view b) {
  size_t i = 0, j = 0;
  while (i < a.size() && j < b.size()) {
    const auto ca = static_cast<unsigned char>(a[i]);
    const auto cb = static_cast<unsigned char>(b[j]);
    if (ca < 0x80 && cb < 0x80) {  // the common case: no decoding
      const char la = ascii_lower(a[i]), lb = ascii_lower(b[j]);
      if (la != lb) return static_cast<unsigned char>(la) <=> static_cast<unsigned char>(lb);
      ++i;
      ++j;
      continue;
    }
    const char32_t da = to_lower(decode_utf8(a, i));
    const char32_t db = to_lower(decode_utf8(b, j));
    if (da != db) return da <=> db;
  }
  // Whichever has code points left is greater.
  return (i < a.size()) <=> (j < b.size());
}

bool equals_ignore_case(std::string_view a, std::string_view b) {
  // No size shortcut: lower-casing can change the byte length (İ is "i").
  return compare_ignore_case(a, b) == 0;
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
