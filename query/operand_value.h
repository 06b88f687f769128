#pragma once
// Resolving an RQL operand (a literal or a $parameter) to its JSON value. A
// free function: no state, safe from any thread.

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include "query/rql_ast.h"
#include "storage/status.h"

namespace corvus::query {

// The value of a literal, or of parameter $name in `parameters` (InvalidArgument
// naming the parameter and its position when it is missing).
Result<boost::json::value> resolve_operand(const Operand& operand, const boost::json::object& parameters);

}  // namespace corvus::query
