#pragma once
// ChangeEvent: one change of a database as the Changes API tells it, with the
// message already serialized once for every watcher (a plain value, shared
// read-only between connections through shared_ptr<const ChangeEvent>).

#include <cstdint>
#include <string>

#include <boost/json/object.hpp>

namespace corvus::server::changes {

struct ChangeEvent {
  enum class Kind { Document, Counter, Operation };
  Kind kind = Kind::Document;
  uint64_t etag = 0;
  std::string document_id;   // as stored (original casing)
  std::string collection;    // "@empty" for documents without one
  std::string counter_name;  // counters only
  uint64_t operation_id = 0;  // operations only (etag 0: not in the etag order)
  // {"Type":"DocumentChange","Value":{...}} or {"Type":"CounterChange",...}
  std::string message;
};

// The events' messages. `type` is Put or Delete (documents); Put, Increment
// or Delete (counters). Value also carries "Etag" (Corvus's addition, which
// clients ignore): where a connection resumed by id starts again.
std::string document_change_message(const std::string& type, const std::string& id, const std::string& collection,
                                    const std::string& change_vector, uint64_t etag);
std::string counter_change_message(const std::string& type, const std::string& document_id,
                                   const std::string& collection, const std::string& name, int64_t value,
                                   const std::string& change_vector, uint64_t etag);

// {"Type":"OperationStatusChange","Value":{"OperationId":id,"State":state}}
std::string operation_change_message(uint64_t operation_id, const boost::json::object& state);

}  // namespace corvus::server::changes
