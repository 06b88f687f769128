#pragma once
// DatabasesLandlord: which databases this node has, each in its own RocksDB
// directory `<data dir>/databases/<lowered name>/` with its record in
// `record.json` beside the storage. Opens all of them at start-up, creates and
// deletes them on request. Owned by ServerStore; thread-safe (a shared lock
// on the lookup path, exclusive for create/delete).

#include <map>
#include <memory>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <vector>

#include "server/document_database.h"
#include "storage/status.h"
#include "storage/storage_options.h"

namespace corvus::server {

class DatabasesLandlord {
 public:
  DatabasesLandlord(std::string data_dir, storage::StorageOptions storage_options);

  // Opens every database found under the data directory.
  Status open_all();

  // nullptr when there is no such database (names are case-insensitive).
  std::shared_ptr<DocumentDatabase> get(std::string_view name) const;

  // Creates the database. InvalidArgument for a bad name, AlreadyExists if it
  // exists, IOError if the directory cannot be made.
  Result<std::shared_ptr<DocumentDatabase>> create(std::string_view name, std::string record_json);

  // Deletes the database and its files. NotFound if it does not exist.
  Status remove(std::string_view name);

  // Names as created, sorted case-insensitively.
  std::vector<std::string> names() const;
  std::vector<std::shared_ptr<DocumentDatabase>> all() const;

  // Closes every database, draining their writers. The landlord serves no
  // more requests afterwards.
  void close_all();

  // RavenDB's rules: 1-128 of letters, digits, '_', '-', '.'; not starting or
  // ending with '.'. Keeps names from escaping the data directory.
  static Status validate_name(std::string_view name);

 private:
  std::string directory_for(std::string_view name) const;
  Result<std::shared_ptr<DocumentDatabase>> open_directory(const std::string& dir);

  std::string databases_dir_;
  storage::StorageOptions storage_options_;
  mutable std::shared_mutex mu_;
  std::map<std::string, std::shared_ptr<DocumentDatabase>> databases_;  // by lowered name
};

}  // namespace corvus::server
