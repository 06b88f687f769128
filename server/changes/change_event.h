#pragma once
// ChangeEvent: one change of a database (or, on the server-wide feed, of the
// cluster's databases) as the Changes API tells it, with the message already
// serialized once for every watcher (a plain value, shared read-only between
// connections through shared_ptr<const ChangeEvent>).

#include <cstdint>
#include <memory>
#include <string>

#include <boost/json/object.hpp>

namespace corvus::server::changes {

struct ChangeEvent {
  // Document and Counter come in the etag order; the others are told when
  // they happen (etag 0).
  enum class Kind { Document, Counter, Operation, Index, Topology, Database };
  Kind kind = Kind::Document;
  uint64_t etag = 0;
  std::string document_id;   // as stored (original casing)
  std::string collection;    // "@empty" for documents without one
  std::string counter_name;  // counters only
  uint64_t operation_id = 0;  // operations only (etag 0: not in the etag order)
  std::string name;           // Index: the index; Topology and Database: the database
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

// {"Type":"IndexChange","Value":{"Name":name,"Type":type}}; type as the
// clients' IndexChangeTypes (IndexAdded, IndexRemoved, BatchCompleted, ...).
std::string index_change_message(const std::string& name, const std::string& type);
// The IndexChange event of that message.
std::shared_ptr<const ChangeEvent> index_event(const std::string& name, const std::string& type);

// {"Type":"TopologyChange","Value":{"Url":url,"Database":database}}: the
// database's group changed; clients fetch its topology again from `url`.
std::string topology_change_message(const std::string& url, const std::string& database);

// Server-wide feed only (Corvus's own shape, no official client reads it):
// {"Type":"DatabaseChange","Value":{"Database":name,"Type":"Put"|"Delete","RaftIndex":n}}.
// Put: the record was added or changed; Delete: it is gone.
std::string database_change_message(const std::string& database, const std::string& type, uint64_t raft_index);

}  // namespace corvus::server::changes
