#include "query/operand_value.h"

#include <boost/json/serialize.hpp>

namespace corvus::query {

namespace json = boost::json;

namespace {

Result<json::value> resolve_parameter(const Parameter& parameter, const json::object& parameters) {
  const auto* value = parameters.if_contains(parameter.name);
  if (value == nullptr) {
    return Status::InvalidArgument("query parameter '$" + parameter.name + "' (at position " +
                                   std::to_string(parameter.position) + ") was not given a value");
  }
  return *value;
}

Result<std::string> compare_exchange_key(const CompareExchangeValue& v, const json::object& parameters) {
  Result<json::value> key = std::holds_alternative<Literal>(v.key)
                                ? Result<json::value>(std::get<Literal>(v.key).value)
                                : resolve_parameter(std::get<Parameter>(v.key), parameters);
  if (!key.ok()) return key.status();
  if (!key.value().is_string()) {
    return Status::InvalidArgument("RQL: the key of cmpxchg() (at position " + std::to_string(v.position) +
                                   ") must be a string, not " + json::serialize(key.value()));
  }
  return std::string(key.value().as_string());
}

void collect_keys(const Operand& operand, const json::object& parameters, std::set<std::string>& keys,
                  Status& status) {
  const auto* v = std::get_if<CompareExchangeValue>(&operand);
  if (v == nullptr || !status.ok()) return;
  auto key = compare_exchange_key(*v, parameters);
  if (!key.ok()) {
    status = key.status();
    return;
  }
  keys.insert(std::move(key).value());
}

}  // namespace

Result<json::value> resolve_operand(const Operand& operand, const json::object& parameters) {
  if (const auto* literal = std::get_if<Literal>(&operand)) return literal->value;
  if (const auto* parameter = std::get_if<Parameter>(&operand)) return resolve_parameter(*parameter, parameters);
  const auto& v = std::get<CompareExchangeValue>(operand);
  auto key = compare_exchange_key(v, parameters);
  if (!key.ok()) return key.status();
  const auto* values = parameters.if_contains(kCompareExchangeValuesParameter);
  if (values == nullptr || !values->is_object()) {
    return Status::InvalidArgument("RQL: cmpxchg() (at position " + std::to_string(v.position) +
                                   ") cannot be used in this kind of query");
  }
  const auto* value = values->as_object().if_contains(key.value());
  return value == nullptr ? json::value(nullptr) : *value;
}

Result<std::set<std::string>> compare_exchange_value_keys(const Query& query, const json::object& parameters) {
  std::set<std::string> keys;
  Status status;
  std::vector<const Expression*> pending;
  if (query.where) pending.push_back(query.where.get());
  while (!pending.empty() && status.ok()) {
    const Expression* e = pending.back();
    pending.pop_back();
    std::visit(
        [&](const auto& node) {
          using T = std::decay_t<decltype(node)>;
          if constexpr (std::is_same_v<T, Comparison>) {
            collect_keys(node.value, parameters, keys, status);
          } else if constexpr (std::is_same_v<T, InList>) {
            for (const auto& v : node.values) collect_keys(v, parameters, keys, status);
          } else if constexpr (std::is_same_v<T, Between>) {
            collect_keys(node.low, parameters, keys, status);
            collect_keys(node.high, parameters, keys, status);
          } else if constexpr (std::is_same_v<T, MethodCall>) {
            for (const auto& v : node.arguments) collect_keys(v, parameters, keys, status);
          } else if constexpr (std::is_same_v<T, And> || std::is_same_v<T, Or>) {
            pending.push_back(node.left.get());
            pending.push_back(node.right.get());
          } else if constexpr (std::is_same_v<T, Not>) {
            pending.push_back(node.operand.get());
          }
        },
        e->node);
  }
  if (!status.ok()) return status;
  return keys;
}

}  // namespace corvus::query
