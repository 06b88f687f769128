#pragma once
// AutoIndex: the entries of one automatic index in a RocksDB of its own
// (<database dir>/indexes/<n>/): for each indexed field, one key per value
// of each document (query/index_terms.h), so equality, ranges and prefixes
// are seeks; per document the list of its entries, so an update or delete
// removes exactly the old ones; the definition and the last indexed etag,
// written in the same batch as the entries, so after a crash indexing
// resumes from where the entries are, never from zero.
//
// Each entry's value is the etag of the document version it was made from,
// so a lookup can order and count documents without reading them. Each
// document also has one sort entry per field (its order-by term), so an
// `order by` walks documents in order instead of sorting them, and the index
// keeps its document count. An index written before sort entries existed is
// rebuilt when opened (its format key says which it is).
// Owned by the database's IndexStore. index() and reset() run on the
// indexing thread only; lookups and the accessors are thread-safe. Writes
// are not synced: an index is derived data; a lost tail is indexed again
// from the stored position.

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <rocksdb/db.h>

#include "query/auto_index_definition.h"
#include "query/index_terms.h"
#include "storage/documents_storage.h"
#include "storage/status.h"

namespace corvus::query {

class AutoIndex {
 public:
  // Opens the index in `dir`, creating it for `definition` when new.
  // Corruption when the directory holds another definition.
  // `block_cache`: the cache its reads share (the database's); null: one of its own.
  static Result<std::unique_ptr<AutoIndex>> open(const std::string& dir, const AutoIndexDefinition& definition,
                                                 std::shared_ptr<rocksdb::Cache> block_cache = nullptr);
  // Opens an index directory found at start; its definition is read from it.
  static Result<std::unique_ptr<AutoIndex>> open_existing(const std::string& dir,
                                                          std::shared_ptr<rocksdb::Cache> block_cache = nullptr);
  ~AutoIndex();

  const AutoIndexDefinition& definition() const { return definition_; }
  const std::string& name() const { return name_; }
  const std::string& directory() const { return dir_; }
  // Every change with an etag up to this one is in the entries.
  uint64_t last_indexed_etag() const { return last_etag_.load(std::memory_order_acquire); }
  // Wall-clock microseconds of the last indexing batch (0: never).
  int64_t last_indexing_time_us() const { return last_indexing_us_.load(std::memory_order_acquire); }
  // Whether `collection` is what this index covers (case-insensitive; every
  // collection for @all_docs).
  bool covers_collection(std::string_view collection) const;

  // Up to `page_size` distinct values of `field` after `from_value` (exclusive;
  // "" starts at the first), in index order: strings as indexed (lower-cased),
  // then numbers as their text. What the clients' GetTermsOperation lists.
  Result<std::vector<std::string>> terms(uint8_t field, std::string_view from_value, size_t page_size) const;

  // How many documents the entries hold (kept with them, not counted).
  uint64_t documents_count() const { return documents_.load(std::memory_order_acquire); }

  // Indexing thread: applies `changes` (documents of other collections are
  // skipped) and records `position` (>= every etag in changes) durably with
  // them, in one batch.
  Status index(const std::vector<storage::Change>& changes, uint64_t position, int64_t now_us);
  // Indexing thread (and opening, for an index of an older format): drops
  // every entry; indexing starts again from etag 0.
  Status reset();

  // Calls `found` with the lowered id (and the etag of the version indexed)
  // of each document with a value of
  // field `field` whose term is within the bounds (same type; nullopt bound:
  // unbounded on that side), in term order. A document may be reported once
  // per matching value. `found` returns false to stop. Read errors are returned.
  struct Bound {
    std::string value;  // encoded term value
    bool inclusive = true;
  };
  using Found = std::function<bool(std::string_view lowered_id, uint64_t etag)>;
  Status lookup_range(uint8_t field, TermType type, const std::optional<Bound>& low,
                      const std::optional<Bound>& high, const Found& found) const;
  // Documents with a string value of `field` starting with `prefix` (already lowered).
  Status lookup_prefix(uint8_t field, std::string_view prefix, const Found& found) const;
  // Documents with exactly this term.
  Status lookup_equal(uint8_t field, const Term& term, const Found& found) const;

  // Every document's sort entry of `field` (index_terms.h), in sort order:
  // Null terms (missing), then numbers, then strings, each ascending; all of
  // it reversed when `descending`. `found` returns false to stop.
  using SortFound = std::function<bool(const Term& term, std::string_view lowered_id, uint64_t etag)>;
  Status walk_sort_entries(uint8_t field, bool descending, const SortFound& found) const;
  // Whether some document's sort entry of `field` has a term of `type` (a seek).
  Result<bool> has_sort_entries(uint8_t field, TermType type) const;

 private:
  AutoIndex() = default;
  static Result<std::unique_ptr<AutoIndex>> open_db(const std::string& dir, std::shared_ptr<rocksdb::Cache> block_cache);
  Status load();
  Status scan(const std::string& from, const std::string& until,
              const std::function<bool(std::string_view key, std::string_view value)>& found) const;

  std::string dir_;
  AutoIndexDefinition definition_;
  std::string name_;
  std::string lowered_collection_;
  std::unique_ptr<rocksdb::DB> db_;
  std::atomic<uint64_t> last_etag_{0};
  std::atomic<uint64_t> documents_{0};
  std::atomic<int64_t> last_indexing_us_{0};
};

}  // namespace corvus::query
