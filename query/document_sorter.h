#pragma once
// DocumentSorter: a compiled RQL `order by`. key_of() extracts what one document
// sorts by (once per document), less() orders two keys: a strict weak order the
// runner uses with a stable sort, so ties keep the order of the scan.
//
// Orderings (RavenDB's, as its auto-indexes sort):
//   String (default)  case-insensitive ordinal; numbers and bools by their
//                     canonical text ("10" < "9"); null and missing first.
//   Long / Double     numerically; strings that parse as numbers count, other
//                     values are missing. Long truncates doubles toward zero.
//   AlphaNumeric      natural order: digit runs by value, the rest case-insensitive.
//   random()          per-query random order; random('seed'): a deterministic order
//                     from the seed and the document id.
//   score()           no relevance ranking exists yet: every document ties.
//   id()              by document id, case-insensitive.
// A path that reaches several values (arrays) sorts by the first one. `desc`
// reverses the order (missing values last).
//
// Owned by the query runner for one run. Movable; key_of() and less() are const
// and touch no shared state (safe from several threads at once).

#include <compare>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include "query/rql_ast.h"
#include "storage/status.h"

namespace corvus::query {

class DocumentSorter {
 public:
  // One document's sort values, one part per order-by clause. Missing
  // (std::monostate) sorts first; a random() part is its 64-bit draw.
  struct Key {
    using Part = std::variant<std::monostate, std::string, int64_t, double, uint64_t>;
    std::vector<Part> parts;
  };

  // InvalidArgument for a missing parameter (random($seed)) or a seed that is
  // not a string or number. random() without a seed draws its seed from
  // std::random_device.
  static Result<DocumentSorter> compile(const std::vector<OrderBy>& order_by, const boost::json::object& parameters);
  // As above, with the seed of unseeded random() given (tests, reproducible runs).
  static Result<DocumentSorter> compile(const std::vector<OrderBy>& order_by, const boost::json::object& parameters,
                                        uint64_t random_seed);

  // query.order_by, as above, after checking that every field reads the
  // queried document: a load's alias is InvalidArgument naming it.
  static Result<DocumentSorter> compile(const Query& query, const boost::json::object& parameters);

  bool empty() const { return clauses_.empty(); }
  size_t clause_count() const { return clauses_.size(); }

  // The first clause when it orders by a value of the queried document (not
  // id(), random() or score()): what an index walk can follow.
  struct LeadingField {
    const FieldPath& field;
    OrderingType type;
    bool descending;
  };
  std::optional<LeadingField> leading_field() const;

  // `document` is the whole stored JSON (@metadata included), `id` its id.
  Key key_of(const boost::json::value& document, std::string_view id) const;
  bool less(const Key& a, const Key& b) const;

 private:
  enum class ClauseKind { Value, Random, Score };
  struct Clause {
    ClauseKind kind = ClauseKind::Value;
    FieldPath field;  // ClauseKind::Value (field.is_id: the document id)
    OrderingType type = OrderingType::String;
    bool descending = false;
    uint64_t random_seed = 0;  // ClauseKind::Random
  };

  Key::Part part_of(const Clause& clause, const boost::json::value& document, std::string_view id) const;

  std::vector<Clause> clauses_;
};

// A double as `as long` sorts it: truncated toward zero, saturating at the
// int64 range; nullopt for NaN.
std::optional<int64_t> double_to_long(double d);

// Natural order of two (already lower-cased) strings: digit runs compare by
// numeric value (leading zeros ignored, any length), everything else byte by byte.
std::strong_ordering compare_alphanumeric(std::string_view a, std::string_view b);

}  // namespace corvus::query
