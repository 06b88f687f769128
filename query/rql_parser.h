#pragma once
// parse_rql: RQL text -> the syntax tree of query/rql_ast.h. A pure function:
// no state survives a call, safe from any thread. The returned Query owns all its
// strings (nothing points into `text`).
//
// Accepts what the official clients emit and what people write by hand for the
// supported subset (see query/README.md, "The parser"). Parameters stay $names;
// the runner resolves them.

#include <string_view>

#include "query/rql_ast.h"
#include "storage/status.h"

namespace corvus::query {

// Errors: InvalidArgument for every malformed or unsupported query. The message
// starts with "RQL: ", names the offending token (or "end of query") and where it
// is: "at line L, column C (offset O)". Unsupported constructs (declare function,
// group by, JS projections, graph queries, spatial, ...) say "... is not supported".
Result<Query> parse_rql(std::string_view text);

}  // namespace corvus::query
