#pragma once
// IndexStore: the automatic indexes of one database and the thread that keeps
// them up to date. Queries ask for an index covering their fields; a missing
// one is created (widening a narrower one on the same collection, which is
// retired once the wider one has caught up, as RavenDB merges auto-indexes)
// and built in the background in etag order. The storage's commit hook wakes
// the indexing thread after each durable batch: nobody polls.
//
// Owned by the server's DocumentDatabase, destroyed before its storage.
// Thread-safe. Indexes are handed out as shared_ptr: a deleted index's
// directory is removed once the last query using it lets go.

#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "query/auto_index.h"
#include "storage/documents_storage.h"

namespace corvus::query {

class IndexStore {
 public:
  // Opens every index under `dir` (<database dir>/indexes) and starts indexing.
  static Result<std::unique_ptr<IndexStore>> open(storage::DocumentsStorage& storage, std::string dir);
  ~IndexStore();
  IndexStore(const IndexStore&) = delete;
  IndexStore& operator=(const IndexStore&) = delete;

  // An index covering `wanted` (same collection, at least its fields):
  // existing, or created now and indexing from etag 0 (`*created` says which).
  Result<std::shared_ptr<AutoIndex>> index_for(const AutoIndexDefinition& wanted, bool* created = nullptr);
  // What index_for(wanted) would do, without doing it (RavenDB's query
  // explanation): the index it would use or create, and why each index of
  // the collection would or would not serve the query.
  struct Explanation {
    std::string index_name;
    bool exists = false;  // false: index_for would create index_name
    std::vector<std::pair<std::string, std::string>> reasons;  // (index, reason)
  };
  Explanation explain(const AutoIndexDefinition& wanted) const;
  // nullptr when there is no index of that name (case-insensitive).
  std::shared_ptr<AutoIndex> find(std::string_view name) const;
  std::vector<std::shared_ptr<AutoIndex>> list() const;
  // NotFound when there is no such index.
  Status remove(std::string_view name);
  Status reset(std::string_view name);

  // Indexing stops for one index (or every index with an empty name) until resumed.
  Status pause(std::string_view name);
  Status resume(std::string_view name);
  bool paused(const AutoIndex& index) const;
  bool all_paused() const;
  // Forgets the error that stopped an index (or every index, empty name), so
  // indexing tries it again. NotFound for an unknown name.
  Status clear_errors(std::string_view name);
  // The error that stopped an index ("" when none).
  std::string error_of(const AutoIndex& index) const;

  // Told what happens to the indexes (the Changes API's IndexChange): an
  // index's name and IndexAdded, IndexRemoved (deleted, or retired by a wider
  // one), BatchCompleted (a batch of documents indexed), IndexPaused (that
  // index paused by name) or IndexMarkedAsErrored (a batch failed: it stopped). Called on the
  // thread doing it, sometimes under the store's lock: it must only queue
  // (never block, never call back into the store). Replaces the previous one.
  using Listener = std::function<void(const std::string& name, const char* type)>;
  void set_listener(Listener listener);

  // Waits until `index` has indexed up to `etag`; false on timeout (or when
  // the index is paused, errored or deleted meanwhile).
  bool wait_for(const AutoIndex& index, uint64_t etag, std::chrono::milliseconds timeout);

 private:
  struct Entry {
    std::shared_ptr<AutoIndex> index;
    bool paused = false;
    std::string error;
    std::string superseded_by;  // retire once this one has caught up
  };

  IndexStore(storage::DocumentsStorage& storage, std::string dir) : storage_(storage), dir_(std::move(dir)) {}
  void run();
  // Indexes one batch for `index`; true when it has more to do.
  bool index_some(const std::shared_ptr<AutoIndex>& index);
  void retire_superseded();
  // index_for's choice, under mu_: the narrowest index covering `wanted`
  // (null: none), and the definition it creates when there is none (the
  // wanted fields and those of the collection's indexes it supersedes).
  std::shared_ptr<AutoIndex> narrowest_covering(const AutoIndexDefinition& wanted) const;
  AutoIndexDefinition widened(const AutoIndexDefinition& wanted) const;
  Entry* entry_of(std::string_view name);
  const Entry* entry_of(std::string_view name) const;
  std::shared_ptr<AutoIndex> detach(std::map<std::string, Entry>::iterator it);
  void tell(const std::string& name, const char* type) const;

  storage::DocumentsStorage& storage_;
  const std::string dir_;
  mutable std::mutex mu_;
  std::condition_variable work_cv_;      // the indexing thread waits here
  std::condition_variable progress_cv_;  // queries waiting for non-stale results wait here
  std::map<std::string, Entry> indexes_;  // by lowered name
  bool all_paused_ = false;
  bool work_ = true;
  bool stop_ = false;
  uint64_t next_directory_ = 1;
  uint64_t listener_ = 0;
  mutable std::mutex index_listener_mu_;  // innermost: tell() may run under mu_
  Listener index_listener_;
  // Held while an index is written (the indexing thread's batches, reset()).
  std::mutex indexing_mu_;
  std::thread thread_;
};

}  // namespace corvus::query
