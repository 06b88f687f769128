#include "query/operand_value.h"

namespace corvus::query {

Result<boost::json::value> resolve_operand(const Operand& operand, const boost::json::object& parameters) {
  if (const auto* literal = std::get_if<Literal>(&operand)) return literal->value;
  const auto& parameter = std::get<Parameter>(operand);
  const auto* value = parameters.if_contains(parameter.name);
  if (value == nullptr) {
    return Status::InvalidArgument("query parameter '$" + parameter.name + "' (at position " +
                                   std::to_string(parameter.position) + ") was not given a value");
  }
  return *value;
}

}  // namespace corvus::query
