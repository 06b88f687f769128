#pragma once
// Reading the values a FieldPath reaches in a stored document, the way
// RavenDB's auto-indexes read them (BlittableJsonTraverser): a segment applied
// to an array applies to each element, `x[]` expands the array at x, and an
// array at the end of the path yields its elements (nested arrays flattened),
// since RavenDB indexes each element as a value of the field. A free function:
// no state, safe from any thread.

#include <vector>

#include <boost/json/value.hpp>

#include "query/rql_ast.h"

namespace corvus::query {

// Every value reached by `path` in `document` (the whole stored JSON, @metadata
// included), appended to `out` as pointers into `document` (valid while it is).
// Missing -> nothing appended; a JSON null that is there is reached. The path's
// alias is ignored (the caller picks the document); id() paths are not handled
// here.
void collect_field_values(const boost::json::value& document, const FieldPath& path,
                          std::vector<const boost::json::value*>& out);

}  // namespace corvus::query
