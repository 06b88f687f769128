#pragma once
// DocumentDatabase: one open database of this node: its record (as given at
// creation) and its storage. Owned by DatabasesLandlord through shared_ptr so
// requests in flight keep it alive while it is being deleted. Thread-safe.

#include <memory>
#include <string>

#include "storage/documents_storage.h"

namespace corvus::server {

class DocumentDatabase {
 public:
  DocumentDatabase(std::string name, std::string record_json, std::unique_ptr<storage::DocumentsStorage> storage)
      : name_(std::move(name)), record_json_(std::move(record_json)), storage_(std::move(storage)) {}

  const std::string& name() const { return name_; }
  // The DatabaseRecord JSON, with DatabaseName set to name().
  const std::string& record_json() const { return record_json_; }
  storage::DocumentsStorage& storage() { return *storage_; }
  const storage::DocumentsStorage& storage() const { return *storage_; }

 private:
  std::string name_;
  std::string record_json_;
  std::unique_ptr<storage::DocumentsStorage> storage_;
};

}  // namespace corvus::server
