#pragma once
// Projector: a compiled RQL `select` (with its `load` clauses). It turns one
// matching document into the object the query returns:
//   select Name, Address.City as City, Lines[].Product, id() as Id, c.Name as Company
//   -> {"Name": ..., "City": ..., "Product": [...], "Id": "users/1", "Company": ...}
// A path that reaches nothing projects null; a path through `x[]` or through an
// array projects the array of the values reached; a path ending at an array or
// object projects it as stored. Paths with a load alias read the loaded
// document (null when it was not found); a bare alias (`select u`, `select c`)
// projects that whole document without its @metadata; id(c) is the loaded
// document's id. counter('Likes') projects the queried document's counter
// (null when it has none); the runner reads the values counter_names() lists.
//
// Owned by the query runner for one run. Movable; load_ids() and project() are
// const and touch no shared state (safe from several threads at once).

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include "query/rql_ast.h"
#include "storage/status.h"

namespace corvus::query {

class Projector {
 public:
  // InvalidArgument for a duplicate output name (RavenDB: "Duplicate alias"), an
  // alias that neither the from clause nor a load declares, a load whose path
  // reads another loaded document (not supported) or id(), a counter name that
  // is not a string. `parameters` gives $parameter counter names.
  static Result<Projector> compile(const Query& query, const boost::json::object& parameters);

  bool empty() const { return fields_.empty(); }  // no select: results are whole documents

  // For each query.loads entry, the id found at its path in `document` (the first
  // string the path reaches; "" when none).
  std::vector<std::string> load_ids(const boost::json::value& document) const;

  // The counters counter(...) projections read, in the order project() takes their values.
  const std::vector<std::string>& counter_names() const { return counter_names_; }

  // The projected object (no @metadata: the runner adds it). `loaded[i]` is the
  // document of query.loads[i], nullptr when missing (a shorter vector counts
  // the rest as missing). `counters[i]` is the value of counter_names()[i], nullopt
  // when the document has no such counter (a shorter vector counts the rest as missing).
  boost::json::object project(const boost::json::value& document, std::string_view id,
                              const std::vector<const boost::json::value*>& loaded,
                              const std::vector<std::optional<int64_t>>& counters = {}) const;

 private:
  static constexpr size_t kQueried = static_cast<size_t>(-1);  // source: the queried document

  struct Field {
    std::string name;
    FieldPath path;
    size_t source = kQueried;  // kQueried or the index of the load
    bool whole_document = false;  // a bare alias
    std::optional<size_t> counter;  // counter(...): its index in counter_names_
  };

  std::vector<Field> fields_;
  std::vector<FieldPath> load_paths_;
  std::vector<std::string> counter_names_;
};

}  // namespace corvus::query
