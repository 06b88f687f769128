#include "query/document_sorter.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <limits>
#include <optional>
#include <random>
#include <type_traits>

#include <boost/json/serialize.hpp>

#include "query/alias_check.h"
#include "query/field_values.h"
#include "query/operand_value.h"
#include "query/value_comparison.h"

namespace corvus::query {

namespace json = boost::json;

namespace {

// FNV-1a then splitmix64's finalizer: a stable, well-mixed 64-bit hash, the same
// on every platform and run (std::hash is neither), so random('seed') orders
// the same documents the same way every time.
uint64_t mix64(uint64_t x) {
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ULL;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebULL;
  x ^= x >> 31;
  return x;
}

uint64_t hash_text(std::string_view text, uint64_t seed) {
  uint64_t h = 0xcbf29ce484222325ULL ^ mix64(seed);
  for (char c : text) {
    h ^= static_cast<unsigned char>(c);
    h *= 0x100000001b3ULL;
  }
  return mix64(h);
}

std::optional<double> parse_double(std::string_view text) {
  double d = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), d);
  if (ec != std::errc() || end != text.data() + text.size() || text.empty()) return std::nullopt;
  return d;
}

std::optional<int64_t> parse_int64(std::string_view text) {
  int64_t i = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), i);
  if (ec != std::errc() || end != text.data() + text.size() || text.empty()) return std::nullopt;
  return i;
}

DocumentSorter::Key::Part long_part(const json::value& v) {
  if (v.is_int64()) return v.get_int64();
  if (v.is_uint64()) {
    const uint64_t u = v.get_uint64();
    return u > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()) ? std::numeric_limits<int64_t>::max()
                                                                           : static_cast<int64_t>(u);
  }
  std::optional<int64_t> result;
  if (v.is_double()) {
    result = double_to_long(v.get_double());
  } else if (v.is_string()) {
    result = parse_int64(v.get_string());
    if (!result) {
      if (auto d = parse_double(v.get_string())) result = double_to_long(*d);
    }
  }
  if (!result) return std::monostate{};
  return *result;
}

DocumentSorter::Key::Part double_part(const json::value& v) {
  std::optional<double> result;
  if (v.is_int64()) result = static_cast<double>(v.get_int64());
  if (v.is_uint64()) result = static_cast<double>(v.get_uint64());
  if (v.is_double()) result = v.get_double();
  if (v.is_string()) result = parse_double(v.get_string());
  if (!result || std::isnan(*result)) return std::monostate{};
  return *result;
}

DocumentSorter::Key::Part text_part(const json::value& v) {
  auto text = canonical_text(v);
  if (!text) return std::monostate{};
  return to_lower(*text);
}

bool is_digit(char c) { return c >= '0' && c <= '9'; }

Result<uint64_t> seed_of(const Operand& operand, const json::object& parameters) {
  auto value = resolve_operand(operand, parameters);
  if (!value.ok()) return value.status();
  auto text = canonical_text(*value);
  if (!text || value->is_bool()) {
    return Status::InvalidArgument("random() expects a string or number seed, got " + json::serialize(*value));
  }
  return hash_text(*text, 0);
}

template <typename T>
std::strong_ordering order_of(const T& a, const T& b) {
  if constexpr (std::is_same_v<T, double>) {
    // NaN never gets here (it is missing), so doubles are totally ordered.
    return a < b ? std::strong_ordering::less : b < a ? std::strong_ordering::greater : std::strong_ordering::equal;
  } else {
    return a <=> b;
  }
}

}  // namespace

std::optional<int64_t> double_to_long(double d) {
  if (std::isnan(d)) return std::nullopt;
  if (d >= 9223372036854775808.0) return std::numeric_limits<int64_t>::max();
  if (d < -9223372036854775808.0) return std::numeric_limits<int64_t>::min();
  return static_cast<int64_t>(d);
}

std::strong_ordering compare_alphanumeric(std::string_view a, std::string_view b) {
  size_t i = 0, j = 0;
  while (i < a.size() && j < b.size()) {
    if (is_digit(a[i]) && is_digit(b[j])) {
      size_t i_end = i, j_end = j;
      while (i_end < a.size() && is_digit(a[i_end])) ++i_end;
      while (j_end < b.size() && is_digit(b[j_end])) ++j_end;
      // Compare by value without converting: strip leading zeros, then the longer
      // run is bigger, then digit by digit.
      size_t i_start = i, j_start = j;
      while (i_start + 1 < i_end && a[i_start] == '0') ++i_start;
      while (j_start + 1 < j_end && b[j_start] == '0') ++j_start;
      const std::string_view run_a = a.substr(i_start, i_end - i_start);
      const std::string_view run_b = b.substr(j_start, j_end - j_start);
      if (run_a.size() != run_b.size()) return run_a.size() <=> run_b.size();
      if (const int c = run_a.compare(run_b); c != 0) return c <=> 0;
      i = i_end;
      j = j_end;
      continue;
    }
    const auto ca = static_cast<unsigned char>(a[i]);
    const auto cb = static_cast<unsigned char>(b[j]);
    if (ca != cb) return ca <=> cb;
    ++i;
    ++j;
  }
  return (a.size() - i) <=> (b.size() - j);
}

Result<DocumentSorter> DocumentSorter::compile(const Query& query, const json::object& parameters) {
  for (const auto& order : query.order_by) {
    if (order.kind != OrderBy::Kind::Field) continue;
    if (Status s = check_reads_queried_document(order.field, query.alias, "order by"); !s.ok()) return s;
  }
  return compile(query.order_by, parameters);
}

Result<DocumentSorter> DocumentSorter::compile(const std::vector<OrderBy>& order_by, const json::object& parameters) {
  // A std::random_device costs a system call or two on every query (12% of
  // corvusd's CPU in bench/query_bench.sh's range query): only for random().
  const bool random =
      std::any_of(order_by.begin(), order_by.end(), [](const OrderBy& o) { return o.kind == OrderBy::Kind::Random; });
  if (!random) return compile(order_by, parameters, 0);
  std::random_device device;
  const uint64_t seed = (static_cast<uint64_t>(device()) << 32) ^ device();
  return compile(order_by, parameters, seed);
}

Result<DocumentSorter> DocumentSorter::compile(const std::vector<OrderBy>& order_by, const json::object& parameters,
                                               uint64_t random_seed) {
  DocumentSorter sorter;
  for (const auto& order : order_by) {
    Clause clause;
    clause.descending = order.descending;
    switch (order.kind) {
      case OrderBy::Kind::Field:
        clause.kind = ClauseKind::Value;
        clause.field = order.field;
        // RavenDB sorts id() as a string whatever `as` says (QueryMetadata's
        // ExtractOrderByFromMethod).
        clause.type = order.field.is_id ? OrderingType::String : order.type;
        break;
      case OrderBy::Kind::Random:
        clause.kind = ClauseKind::Random;
        if (order.random_seed) {
          auto seed = seed_of(*order.random_seed, parameters);
          if (!seed.ok()) return seed.status();
          clause.random_seed = *seed;
        } else {
          clause.random_seed = random_seed;
        }
        break;
      case OrderBy::Kind::Score:
        clause.kind = ClauseKind::Score;
        break;
    }
    sorter.clauses_.push_back(std::move(clause));
  }
  return sorter;
}

DocumentSorter::Key::Part DocumentSorter::part_of(const Clause& clause, const json::value& document,
                                                  std::string_view id) const {
  switch (clause.kind) {
    case ClauseKind::Score:
      // There is no relevance ranking yet (no full-text index): every document
      // scores the same, so score() ties and the next clause (or the scan order) decides.
      return std::monostate{};
    case ClauseKind::Random:
      return hash_text(id, clause.random_seed);
    case ClauseKind::Value:
      break;
  }
  json::value id_value;
  const json::value* first = nullptr;
  if (clause.field.is_id) {
    id_value = json::string(id);
    first = &id_value;
  } else {
    std::vector<const json::value*> values;
    collect_field_values(document, clause.field, values);
    if (values.empty()) return std::monostate{};
    first = values.front();
  }
  switch (clause.type) {
    case OrderingType::Long:
      return long_part(*first);
    case OrderingType::Double:
      return double_part(*first);
    case OrderingType::String:
    case OrderingType::AlphaNumeric:
      return text_part(*first);
  }
  return std::monostate{};
}

std::optional<DocumentSorter::LeadingField> DocumentSorter::leading_field() const {
  if (clauses_.empty()) return std::nullopt;
  const Clause& first = clauses_.front();
  if (first.kind != ClauseKind::Value || first.field.is_id) return std::nullopt;
  return LeadingField{first.field, first.type, first.descending};
}

DocumentSorter::Key DocumentSorter::key_of(const json::value& document, std::string_view id) const {
  Key key;
  key.parts.reserve(clauses_.size());
  for (const auto& clause : clauses_) key.parts.push_back(part_of(clause, document, id));
  return key;
}

bool DocumentSorter::less(const Key& a, const Key& b) const {
  for (size_t i = 0; i < clauses_.size(); ++i) {
    const auto& pa = a.parts[i];
    const auto& pb = b.parts[i];
    std::strong_ordering order = std::strong_ordering::equal;
    if (pa.index() != pb.index()) {
      // Within one clause a part is either missing or of the clause's one type,
      // so a differing index means one side is missing: missing sorts first.
      order = pa.index() <=> pb.index();
    } else if (clauses_[i].type == OrderingType::AlphaNumeric && clauses_[i].kind == ClauseKind::Value &&
               std::holds_alternative<std::string>(pa)) {
      order = compare_alphanumeric(std::get<std::string>(pa), std::get<std::string>(pb));
    } else {
      order = std::visit(
          [&](const auto& va) -> std::strong_ordering {
            using T = std::decay_t<decltype(va)>;
            if constexpr (std::is_same_v<T, std::monostate>) {
              return std::strong_ordering::equal;
            } else {
              return order_of(va, std::get<T>(pb));
            }
          },
          pa);
    }
    if (order != 0) return clauses_[i].descending ? order > 0 : order < 0;
  }
  return false;
}

}  // namespace corvus::query
