#pragma once
// QueryRunner: runs one RQL query against one database and hands out its
// results one at a time, so a stream over millions of documents never holds
// them all: a query without filter or sort reads the collection as it goes;
// a filtered or sorted one keeps only (sort key, id) per match and reads each
// returned document again when it is handed out.
//
// Planning: `from index 'Auto/...'` uses that index; a filter or sort on a
// collection (or @all_docs) asks the IndexStore for an auto-index covering
// its fields (creating one: it is then stale until built); the index narrows
// the candidates and the filter decides on each (query/index_lookup.h). A
// query that filters only on id() or reads a collection whole needs no index.
//
// One object per query execution, used by one thread; it holds a storage
// snapshot for its lifetime. Not thread-safe.

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <boost/json/object.hpp>

#include "query/auto_index.h"
#include "query/document_filter.h"
#include "query/document_sorter.h"
#include "query/index_store.h"
#include "query/projector.h"
#include "query/rql_ast.h"
#include "storage/document_snapshot.h"
#include "storage/documents_storage.h"

namespace corvus::query {

struct QueryOptions {
  boost::json::object parameters;
  // Wait (up to wait_timeout) until the index has every change made before
  // the query started; still stale then: the result says IsStale.
  bool wait_for_non_stale = false;
  std::chrono::milliseconds wait_timeout{15000};
  // Set when the request gave WaitForNonStaleResultsTimeout.
  bool wait_timeout_given = false;
  // How long a query that created its auto-index waits for it (when it did
  // not ask for non-stale results): 15 s for queries, 60 s for streams, as RavenDB.
  std::chrono::milliseconds new_index_wait{15000};
  // Lets a caller with a page size (streams' `start`/`pageSize`) narrow the
  // query's own limit/offset further.
  std::optional<uint64_t> extra_skip;
  std::optional<uint64_t> extra_take;
};

struct QueryStatistics {
  std::string index_name;
  bool is_stale = false;
  uint64_t total_results = 0;    // every match (distinct results with select distinct)
  uint64_t skipped_results = 0;  // duplicates dropped by distinct within the page
  int64_t index_timestamp_us = 0;
  uint64_t index_etag = 0;
};

class QueryRunner {
 public:
  // Compiles `query` (already parsed; it must outlive the runner) and picks
  // its index, creating an auto-index when none covers it. Never blocks.
  // Errors: InvalidArgument (bad parameter, limit not a number...), NotFound
  // (no such index), storage errors.
  static Result<std::unique_ptr<QueryRunner>> start(const Query& query, QueryOptions options,
                                                    storage::DocumentsStorage& storage, IndexStore& indexes);
  // RavenDB's `debug=explain`: the index a dynamic query would use (or create,
  // or "collection/<name>" when it needs none) and why each index of its
  // collection would or would not serve it; runs nothing, creates nothing.
  // InvalidArgument for a query on a named index.
  static Result<IndexStore::Explanation> explain(const Query& query, const IndexStore& indexes);
  // Whether execute() will wait for the index: the query asked for non-stale
  // results, or created its index (then, as RavenDB does, it waits up to
  // options.new_index_wait for the new index to have results). Such queries belong off I/O threads.
  bool waits() const { return wait_timeout_.count() > 0; }
  // Waits as waits() says, then finds the matches of a filtered or sorted
  // query (the others are read as they are handed out). Call once, before next().
  Status execute();

  // The next result (a whole document with @metadata, or a projection with
  // @metadata {@id, @projection...}), as JSON text; nullopt after the last.
  Result<std::optional<std::string>> next();

  // `include counters(...)`: for each document whose counters go with the
  // results (a result, or a related document named by the clause's path),
  // the counter names, or every counter (`all`). Empty when none are included.
  struct CounterSelection {
    bool all = false;
    std::set<std::string> names;
  };
  bool includes_counters() const { return !counter_clauses_.empty(); }
  const std::map<std::string, CounterSelection>& counter_documents() const { return counter_documents_; }
  // `include cmpxchg(...)`: compare-exchange keys named by the results handed
  // out so far (and given as values); nullopt when the query includes none.
  const std::optional<std::set<std::string>>& compare_exchange_keys() const { return compare_exchange_keys_; }
  // The document id of the result next() returned last.
  const std::string& last_id() const { return last_id_; }
  // Complete once next() has returned nullopt.
  const QueryStatistics& statistics() const { return stats_; }
  // Documents named by the query's `include` clauses in the results handed
  // out so far, by id (JSON text), read from the same snapshot.
  Result<std::map<std::string, std::string>> includes();
  // Hash of everything handed out (and included, once includes() ran): the
  // result's ETag, which changes when any returned or included document, a
  // selected counter, a compared compare-exchange value or the total changes.
  uint64_t result_etag() const;
  // Adds what the caller sends with the results from elsewhere (included
  // compare-exchange values and counters) to result_etag().
  void add_to_result_etag(std::string_view bytes);

 private:
  QueryRunner(const Query& query, QueryOptions options, storage::DocumentsStorage& storage, IndexStore& indexes)
      : query_(query), options_(std::move(options)), storage_(storage), indexes_(&indexes) {}

  Status plan();
  Status resolve_paging();
  Status find_matches();
  // The document (parsed) for a candidate; nullopt when gone or of another collection.
  Result<std::optional<storage::Document>> candidate(std::string_view lowered_id);
  bool in_collection(const storage::Document& doc) const;
  Result<std::optional<std::string>> render(const storage::Document& doc, boost::json::value& body);
  // Notes what the includes of result `id` (parsed: `body`) name.
  void note_includes(const std::string& id, const boost::json::value& body);
  // Reads matches_[from...] (the rest of the page) in one batch into kept_documents_.
  Status prefetch(size_t from);

  const Query& query_;
  QueryOptions options_;
  storage::DocumentsStorage& storage_;
  IndexStore* indexes_ = nullptr;
  std::chrono::milliseconds wait_timeout_{0};
  uint64_t cutoff_etag_ = 0;  // the last etag when the query started: staleness is measured against it
  std::unique_ptr<storage::DocumentSnapshot> snapshot_;
  std::optional<DocumentFilter> filter_;
  std::optional<DocumentSorter> sorter_;
  std::optional<Projector> projector_;
  std::shared_ptr<AutoIndex> index_;
  std::string lowered_collection_;  // empty: every collection
  QueryStatistics stats_;
  uint64_t skip_ = 0;
  std::optional<uint64_t> take_;

  // Streaming path (no filter, no sort): the collection cursor.
  std::unique_ptr<storage::DocumentSnapshot::Cursor> cursor_;
  // Matched path: lowered ids in result order, and the next to hand out.
  std::vector<std::string> matches_;
  // Documents find_matches() read for the first page, by index in matches_.
  static constexpr uint64_t kMaxKeptDocuments = 1024;
  // The largest sorted page (offset + limit) kept as a bounded heap; beyond,
  // every match is kept and sorted.
  static constexpr uint64_t kMaxSortedPage = 100000;
  std::map<size_t, storage::Document> kept_documents_;
  size_t next_match_ = 0;
  // The matches came from an exact index lookup, not from the filter: they
  // are read a page at a time (prefetch), an offset skips ids unread.
  bool exact_matches_ = false;
  // ...from an index behind the snapshot: a returned document is checked
  // against the filter and skipped when it no longer matches (changed or
  // deleted since it was indexed).
  bool check_returned_ = false;
  uint64_t seen_ = 0;      // matches passed over (offset) or handed out
  uint64_t emitted_ = 0;   // results handed out
  std::set<std::string> distinct_seen_;
  std::set<std::string> include_ids_;
  std::string last_id_;
  struct CounterClause {
    FieldPath path;  // no segments: the result itself
    bool all = false;
    std::vector<std::string> names;
  };
  std::vector<CounterClause> counter_clauses_;
  std::map<std::string, CounterSelection> counter_documents_;
  std::optional<std::set<std::string>> compare_exchange_keys_;
  uint64_t etag_hash_ = 1469598103934665603ull;
  bool done_ = false;
};

}  // namespace corvus::query
