#pragma once
// Index lookup: which documents an auto-index says may match a where clause.
// The answer is a superset of the matches (lower-cased terms, numbers as
// doubles): the runner evaluates the filter on each candidate it returns, so
// the index only has to narrow, never to decide. When the clause is one the
// index answers exactly (an equality, range, `in` or prefix on one indexed
// field with values the terms represent exactly, or an `or` of such), the
// candidates are the matches as of the index's position and `exact` says so:
// the runner then counts them without reading them. Free function, any thread.

#include <optional>
#include <string>
#include <unordered_map>

#include <boost/json/object.hpp>

#include "query/auto_index.h"
#include "query/rql_ast.h"

namespace corvus::query {

struct IndexCandidates {
  // Lowered id -> etag of the version the index holds (0 when not known).
  std::unordered_map<std::string, uint64_t> documents;
  bool exact = false;
};

// The candidates for `where`, or nullopt when the index cannot narrow it (a
// `!=`, `not`, endsWith, regex, exists, a field it does not hold, `= null`...):
// then every document of the collection is a candidate. Errors: a missing
// parameter (InvalidArgument), index read errors.
Result<std::optional<IndexCandidates>> index_candidates(const Expression& where, const AutoIndex& index,
                                                        const boost::json::object& parameters);

}  // namespace corvus::query
