// The Changes API's event messages: see change_event.h.

#include "server/changes/change_event.h"

#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

namespace corvus::server::changes {

namespace json = boost::json;

std::string document_change_message(const std::string& type, const std::string& id, const std::string& collection,
                                    const std::string& change_vector, uint64_t etag) {
  json::object value{{"Type", type},
                     {"Id", id},
                     {"CollectionName", collection},
                     {"ChangeVector", change_vector},
                     {"Etag", etag}};
  return json::serialize(json::object{{"Type", "DocumentChange"}, {"Value", std::move(value)}});
}

std::string counter_change_message(const std::string& type, const std::string& document_id,
                                   const std::string& collection, const std::string& name, int64_t value,
                                   const std::string& change_vector, uint64_t etag) {
  json::object v{{"Name", name},
                 {"Value", value},
                 {"DocumentId", document_id},
                 {"CollectionName", collection},
                 {"ChangeVector", change_vector},
                 {"Type", type},
                 {"Etag", etag}};
  return json::serialize(json::object{{"Type", "CounterChange"}, {"Value", std::move(v)}});
}

std::string operation_change_message(uint64_t operation_id, const boost::json::object& state) {
  json::object v{{"OperationId", operation_id}, {"State", state}};
  return json::serialize(json::object{{"Type", "OperationStatusChange"}, {"Value", std::move(v)}});
}

std::string index_change_message(const std::string& name, const std::string& type) {
  json::object v{{"Name", name}, {"Type", type}};
  return json::serialize(json::object{{"Type", "IndexChange"}, {"Value", std::move(v)}});
}

std::shared_ptr<const ChangeEvent> index_event(const std::string& name, const std::string& type) {
  auto e = std::make_shared<ChangeEvent>();
  e->kind = ChangeEvent::Kind::Index;
  e->name = name;
  e->message = index_change_message(name, type);
  return e;
}

std::string topology_change_message(const std::string& url, const std::string& database) {
  json::object v{{"Url", url}, {"Database", database}};
  return json::serialize(json::object{{"Type", "TopologyChange"}, {"Value", std::move(v)}});
}

std::string database_change_message(const std::string& database, const std::string& type, uint64_t raft_index) {
  json::object v{{"Database", database}, {"Type", type}, {"RaftIndex", raft_index}};
  return json::serialize(json::object{{"Type", "DatabaseChange"}, {"Value", std::move(v)}});
}

}  // namespace corvus::server::changes
