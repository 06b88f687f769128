#include "query/value_comparison.h"

#include <algorithm>
#include <charconv>
#include <cmath>

#include "storage/document.h"

namespace corvus::query {

namespace json = boost::json;

namespace {

char ascii_lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

// The bytes of storage::lower_id(text), one at a time, without building it:
// lower_id lowers ASCII letters and two-byte UTF-8 sequences in place (their
// length never changes), so each unit is lowered on its own as lower_id does.
class LoweredBytes {
 public:
  explicit LoweredBytes(std::string_view text) : text_(text) {}

  bool done() const { return pending_index_ >= pending_.size() && i_ >= text_.size(); }

  unsigned char next() {
    if (pending_index_ < pending_.size()) return static_cast<unsigned char>(pending_[pending_index_++]);
    const auto c = static_cast<unsigned char>(text_[i_]);
    if (c < 0x80) return static_cast<unsigned char>(ascii_lower(text_[i_++]));
    if ((c & 0xE0) == 0xC0 && i_ + 1 < text_.size() && (static_cast<unsigned char>(text_[i_ + 1]) & 0xC0) == 0x80) {
      pending_ = storage::lower_id(text_.substr(i_, 2));  // fits the small-string buffer: no allocation
      pending_index_ = 1;
      i_ += 2;
      return static_cast<unsigned char>(pending_[0]);
    }
    ++i_;
    return c;
  }

 private:
  std::string_view text_;
  size_t i_ = 0;
  std::string pending_;
  size_t pending_index_ = 0;
};

}  // namespace

bool is_ascii(std::string_view text) {
  for (char c : text) {
    if (static_cast<unsigned char>(c) >= 0x80) return false;
  }
  return true;
}

std::string to_lower(std::string_view text) { return storage::lower_id(text); }

std::strong_ordering compare_ignore_case(std::string_view a, std::string_view b) {
  const size_t n = std::min(a.size(), b.size());
  size_t k = 0;
  // The common case, ASCII on both sides: no decoding.
  for (; k < n; ++k) {
    const auto ca = static_cast<unsigned char>(a[k]);
    const auto cb = static_cast<unsigned char>(b[k]);
    if (ca >= 0x80 || cb >= 0x80) break;
    const auto la = static_cast<unsigned char>(ascii_lower(a[k]));
    const auto lb = static_cast<unsigned char>(ascii_lower(b[k]));
    if (la != lb) return la <=> lb;
  }
  if (k == n) return a.size() <=> b.size();
  // Lowering never changes lengths, so the ASCII prefix stays aligned.
  LoweredBytes la(a.substr(k)), lb(b.substr(k));
  while (!la.done() && !lb.done()) {
    const unsigned char x = la.next(), y = lb.next();
    if (x != y) return x <=> y;
  }
  return !la.done() <=> !lb.done();
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
