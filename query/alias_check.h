#pragma once
// Whether a clause's paths read the queried document: `where` and `order by`
// can only read the document the query returns, never one named by a `load`
// (RavenDB neither). Free functions, any thread.

#include <string>

#include "query/rql_ast.h"
#include "storage/status.h"

namespace corvus::query {

// InvalidArgument when `path` has an alias other than `from_alias` (compared
// case-insensitively, as the projector does); `clause` names the clause.
Status check_reads_queried_document(const FieldPath& path, const std::string& from_alias, const char* clause);

// The same for every path of a where clause (walked without recursion: the
// parser accepts trees thousands of levels deep).
Status check_where_aliases(const Expression* where, const std::string& from_alias);

}  // namespace corvus::query
