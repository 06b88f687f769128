#pragma once
// DatabasesLandlord: the databases this node serves, each in its own RocksDB
// directory `<data dir>/databases/<lowered name>/`. Which databases those are
// is the cluster's decision (the records in Rachis; DatabasesObserver calls
// open()/close() as records name or drop this node); the landlord only opens,
// closes and deletes. Owned by ServerStore; thread-safe (a shared lock on the
// lookup path, exclusive for open/close).

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
  // `storage_options.node_tag` is replaced by open()'s argument.
  DatabasesLandlord(std::string data_dir, storage::StorageOptions storage_options);

  // nullptr when there is no such database (names are case-insensitive).
  std::shared_ptr<DocumentDatabase> get(std::string_view name) const;

  // Opens the database, creating its directory when it is new; its documents
  // get `node_tag` in change vectors and generated ids. The open database when
  // it is open already. InvalidArgument for a bad name, IOError/Corruption
  // from storage.
  Result<std::shared_ptr<DocumentDatabase>> open(std::string_view name, const std::string& node_tag);

  // Closes the database (requests in flight finish first, bounded); with
  // `delete_files` also removes its directory, open or not. Busy when it stays
  // in use too long (the caller retries).
  Status close(std::string_view name, bool delete_files);

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

  std::string databases_dir_;
  storage::StorageOptions storage_options_;
  mutable std::shared_mutex mu_;
  std::map<std::string, std::shared_ptr<DocumentDatabase>> databases_;  // by lowered name
};

}  // namespace corvus::server
