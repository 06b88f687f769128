#pragma once
// SubscriptionQuery: a data subscription's RQL (`from Users [as u] [where ...]
// [include ...]`) parsed and compiled once: which documents it delivers
// (collection and where clause, query/document_filter.h), which related
// documents go with them (document includes) and which of their own counters
// (`include counters()` / `counters('a', 'b')`). What a subscription cannot do
// (an index, order by, select, limit, load, update, counters of related
// documents, compare-exchange includes) is refused at parse time, so a
// subscription that was stored always compiles.
//
// Built by the HTTP handler (to validate before anything is stored) and by
// each worker connection; immutable after parse(); matches() may run on any
// thread.

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json/value.hpp>

#include "query/document_filter.h"
#include "query/rql_ast.h"
#include "storage/document.h"
#include "storage/status.h"

namespace corvus::server::subscriptions {

class SubscriptionQuery {
 public:
  // InvalidArgument (the parser's message, or what is not supported) when
  // `text` is not a query a subscription can serve.
  static Result<std::shared_ptr<const SubscriptionQuery>> parse(std::string_view text);

  // The collection, as written; empty for @all_docs.
  const std::string& collection() const { return collection_; }
  // Whether `doc` is delivered. A body that does not parse is corrupt storage.
  Result<bool> matches(const storage::Document& doc) const;
  // The ids the document's include paths name (strings only), in order, may repeat.
  std::vector<std::string> included_ids(const storage::Document& doc) const;
  bool has_includes() const { return !includes_.empty(); }
  // The delivered document's own counters that go with it: all of them, or
  // these names (none when neither).
  bool includes_all_counters() const { return all_counters_; }
  const std::vector<std::string>& included_counter_names() const { return counter_names_; }
  bool includes_counters() const { return all_counters_ || !counter_names_.empty(); }

 private:
  SubscriptionQuery() = default;
  std::string collection_;
  bool has_where_ = false;
  std::unique_ptr<query::DocumentFilter> filter_;
  std::vector<query::FieldPath> includes_;
  bool all_counters_ = false;
  std::vector<std::string> counter_names_;
};

}  // namespace corvus::server::subscriptions
