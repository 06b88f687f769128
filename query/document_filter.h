#pragma once
// DocumentFilter: a compiled RQL `where` clause that tells whether one stored
// document matches. compile() resolves every parameter and builds the regexes
// once, so matches() allocates little (strings compare case-insensitively in
// place) and never fails: values of the wrong type simply do not match (RavenDB's semantics, see
// query/value_comparison.h and query/README.md).
//
// Owned by whoever runs the query (the query runner), for one run. Movable.
// matches() is const and touches no shared state: one filter may be used from
// several threads at once.
//
// Paths with an alias (`from Users as u where u.Name = ...`) read the queried
// document itself. A where clause cannot read loaded documents (RavenDB
// neither): compile(Query) refuses the alias of a load there.

#include <memory>
#include <string_view>

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include "query/rql_ast.h"
#include "storage/status.h"

namespace corvus::query {

class DocumentFilter {
 public:
  struct Node;  // the compiled expression tree (document_filter.cc)

  // where == nullptr: matches everything. Resolves every parameter and compiles
  // regexes once; InvalidArgument (with the parameter name / the regex error /
  // position) otherwise, and for and/or/not nested more than 1000 levels deep.
  // Regexes are Boost.Regex ECMAScript, case-insensitive unless exact(). `where`
  // and `parameters` are not referenced afterwards.
  static Result<DocumentFilter> compile(const Expression* where, const boost::json::object& parameters);

  // query.where, as above, after checking that every path in it reads the
  // queried document: an alias other than the from alias (a load's) is
  // InvalidArgument naming it. What the runner uses.
  static Result<DocumentFilter> compile(const Query& query, const boost::json::object& parameters);

  // `document` is the whole stored JSON (@metadata included), `id` its id.
  bool matches(const boost::json::value& document, std::string_view id) const;

  DocumentFilter(DocumentFilter&&) noexcept;
  DocumentFilter& operator=(DocumentFilter&&) noexcept;
  ~DocumentFilter();

 private:
  explicit DocumentFilter(std::unique_ptr<Node> root);
  std::unique_ptr<Node> root_;  // nullptr: matches everything
};

}  // namespace corvus::query
