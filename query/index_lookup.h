#pragma once
// Index lookup: which documents an auto-index says may match a where clause.
// The answer is a superset of the matches (lower-cased terms, numbers as
// doubles, inclusive bounds): the runner evaluates the whole filter on each
// candidate, so the index only has to narrow, never to decide. Free function,
// any thread.

#include <optional>
#include <string>
#include <unordered_set>

#include <boost/json/object.hpp>

#include "query/auto_index.h"
#include "query/rql_ast.h"

namespace corvus::query {

using DocumentIdSet = std::unordered_set<std::string>;  // lowered ids

// The candidates for `where`, or nullopt when the index cannot narrow it (a
// `!=`, `not`, endsWith, regex, exists, a field it does not hold, `= null`...):
// then every document of the collection is a candidate. Errors: a missing
// parameter (InvalidArgument), index read errors.
Result<std::optional<DocumentIdSet>> index_candidates(const Expression& where, const AutoIndex& index,
                                                      const boost::json::object& parameters);

}  // namespace corvus::query
