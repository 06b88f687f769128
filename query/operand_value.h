#pragma once
// Resolving an RQL operand (a literal, a $parameter or cmpxchg(key)) to its
// JSON value. Free functions: no state, safe from any thread.
//
// Compare-exchange values live in the cluster state, which the query module
// cannot read: whoever runs a query first asks compare_exchange_value_keys()
// which entries it uses, reads them, and hands them over in the parameters
// object under kCompareExchangeValuesParameter (a name no RQL `$parameter`
// can have), so every clause resolves them like parameters.

#include <set>
#include <string>
#include <string_view>

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include "query/rql_ast.h"
#include "storage/status.h"

namespace corvus::query {

// {"<key>": <value>} of the compare-exchange entries a query uses.
inline constexpr std::string_view kCompareExchangeValuesParameter = "@cmpxchg";

// The value of a literal, of parameter $name in `parameters` (InvalidArgument
// naming the parameter and its position when it is missing), or of cmpxchg(key)
// (null when the entry does not exist).
Result<boost::json::value> resolve_operand(const Operand& operand, const boost::json::object& parameters);

// The compare-exchange keys the query's where clause reads (cmpxchg(...) values).
Result<std::set<std::string>> compare_exchange_value_keys(const Query& query, const boost::json::object& parameters);

}  // namespace corvus::query
