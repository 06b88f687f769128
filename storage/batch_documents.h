#pragma once
// BatchDocuments: where a write batch holds each document it wrote, so a
// transaction finds its batch's documents (and those of the batches in
// flight) without the batch's index. The documents family is only ever looked
// up by key inside a transaction, never iterated, so its entries go into the
// batch unindexed, as the etag and collection orders do, and this hash map
// finds them: a write saves the index's two skip-list searches (measured:
// about a tenth of a bulk insert's CPU), a read is one hash probe.
//
// The map points into the batch's own buffer (where RocksDB appended the
// value), so no document is copied. Save points follow the batch's: rolling
// back forgets what the rolled-back transaction wrote.

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace corvus::storage {

class BatchDocuments {
 public:
  enum class Lookup { Absent, Found, Deleted };

  // Call right after appending a Put of `value` to the batch whose buffer is
  // `rep` (WriteBatch::Data()).
  void put(const std::string& key, std::string_view value, const std::string& rep);
  // Call after appending a Delete of `key`.
  void erase(const std::string& key);
  // The newest version of `key` in the batch whose buffer is `rep`.
  Lookup find(const std::string& key, const std::string& rep, std::string* value) const;

  void set_save_point() { save_points_.push_back(undo_.size()); }
  void rollback_to_save_point();
  void pop_save_point();

 private:
  struct Slot {
    size_t offset = 0;  // of the value in the batch's buffer
    size_t size = 0;
    bool deleted = false;
    // Only if the value was not where a Put leaves it (the end of the
    // buffer): then it is kept here instead.
    std::optional<std::string> copy;
  };
  std::unordered_map<std::string, Slot> latest_;
  // What each change replaced (nullopt: the key was absent), for rollbacks;
  // kept only while a save point is set.
  std::vector<std::pair<std::string, std::optional<Slot>>> undo_;
  std::vector<size_t> save_points_;  // undo_'s size at each

  void set(const std::string& key, Slot slot);
};

}  // namespace corvus::storage
