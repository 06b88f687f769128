#include "server/handlers/compare_exchange_includes.h"

#include <boost/json.hpp>

#include "query/operand_value.h"
#include "rachis/cluster/commands/cluster_transaction_command.h"
#include "server/server_store.h"

namespace corvus::server::handlers {

Result<std::string> compare_exchange_includes(ServerStore& store, const std::string& database,
                                              const std::vector<std::string>& keys) {
  boost::json::object out;
  const auto record = store.cluster().state().record(database);
  const std::string tx_id = record ? record->cluster_transaction_id : std::string();
  for (const auto& key : keys) {
    auto v = store.cluster().state().compare_exchange(database, key);
    if (!v.ok()) return v.status();
    if (!*v) continue;
    boost::system::error_code ec;
    auto value = boost::json::parse((*v)->value_json, ec);
    out[(*v)->key] = boost::json::object{
        {"Key", (*v)->key},
        {"Index", (*v)->index},
        {"Value", ec ? boost::json::value(nullptr) : value},
        {"ChangeVector", rachis::cluster::cluster_transaction_change_vector((*v)->index, tx_id)}};
  }
  return boost::json::serialize(out);
}

Status bind_compare_exchange_values(ServerStore& store, const std::string& database, const query::Query& query,
                                          boost::json::object& parameters) {
  auto keys = query::compare_exchange_value_keys(query, parameters);
  if (!keys.ok()) return keys.status();
  if (keys.value().empty()) return Status::Ok();
  boost::json::object values;
  for (const auto& key : keys.value()) {
    auto v = store.cluster().state().compare_exchange(database, key);
    if (!v.ok()) return v.status();
    if (!*v) continue;  // resolves to null
    boost::system::error_code ec;
    auto value = boost::json::parse((*v)->value_json, ec);
    if (ec) return Status::Corruption("compare-exchange value '" + key + "' is not JSON: " + ec.message());
    const auto* object = value.if_object();
    const auto* wrapped = object ? object->if_contains("Object") : nullptr;
    values[key] = wrapped ? *wrapped : value;
  }
  parameters[query::kCompareExchangeValuesParameter] = std::move(values);
  return Status::Ok();
}

}  // namespace corvus::server::handlers
