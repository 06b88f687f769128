#pragma once
// Counter operations as the protocol carries them (REST.md §3.1, §5.1): the
// "Counters" command of a bulk_docs batch, and the DocumentCountersOperation
// ({DocumentId, Operations: [{Type, CounterName, Delta}]}) it shares with
// POST /databases/{db}/counters. Parsing validates everything before anything
// is written; applying runs inside the caller's write transaction. Stateless
// functions; the parsed values are plain data.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <boost/json/value.hpp>

#include "server/handlers/batch_commands.h"
#include "storage/counters_storage.h"

namespace corvus::server::handlers {

struct CounterOperation {
  enum class Kind { Increment, Delete, Get };
  Kind kind = Kind::Get;
  std::string name;
  int64_t delta = 0;
};

struct DocumentCountersOperation {
  std::string document_id;
  std::vector<CounterOperation> operations;
  bool has_writes() const;
};

// Parses {"DocumentId", "Operations": [...]}; `where` prefixes messages.
// InvalidArgument on a missing id, an unknown type, a bad name or a delta
// that is not a 64-bit integer. "None" operations are dropped, as RavenDB does.
Result<DocumentCountersOperation> parse_document_counters_operation(const boost::json::value& v,
                                                                    const std::string& where);

// Applies `op` in `txn`, appending one CounterDetail (or null) per Increment
// and Get to `details` (comma-separated, `first` tracks the separator).
// Returns the document's change vector afterwards ("" if it does not exist).
// NotFound when a write names a missing document; InvalidArgument on overflow.
Result<std::string> apply_document_counters_operation(storage::WriteTransaction& txn,
                                                      const DocumentCountersOperation& op, bool full,
                                                      std::string& details, bool& first);

// A CounterDetail object, or null: {DocumentId, CounterName, TotalValue, Etag,
// ChangeVector, CounterValues} (CounterValues per node only when `full`).
// CounterName is `asked_name` when given (names are case-insensitive and RavenDB
// answers with the name asked for), else the name as stored.
void append_counter_detail(std::string& out, std::string_view doc_id,
                           const std::optional<storage::StoredCounter>& counter, bool full,
                           std::string_view asked_name = {});

// Counters loaded with documents (GET /docs?id=..&counter=<name>|@all_counters):
// appends {"<doc id>": [CounterDetail or null...], ...} for the loaded (non-null)
// documents. `names` holding "@all_counters" asks for every counter.
Status append_counter_includes(const storage::DocumentsStorage& storage,
                               const std::vector<const storage::Document*>& documents,
                               const std::vector<std::string>& names, std::string& out);
// The same with each document's own names (query includes: counters of
// related documents, several `counters(...)` clauses).
Status append_counter_includes(const storage::DocumentsStorage& storage,
                               const std::vector<std::pair<std::string, std::vector<std::string>>>& wanted,
                               std::string& out);
inline constexpr std::string_view kAllCounters = "@all_counters";

// The bulk_docs "Counters" command: {Id, Counters: DocumentCountersOperation}.
Result<std::unique_ptr<BatchCommand>> parse_counters_command(const CommandView& c, BatchParseContext& context);

}  // namespace corvus::server::handlers
