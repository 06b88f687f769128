#pragma once
// AutoIndexDefinition: what an automatic index covers: one collection (or
// every document) and the field paths its queries filtered or sorted on. Its
// name is RavenDB's ("Auto/Users/ByAgeAndName": fields in ordinal order,
// "AllDocs" for @all_docs), which the clients show and query by. A value type.

#include <string>
#include <string_view>
#include <vector>

#include "query/rql_ast.h"
#include "storage/status.h"

namespace corvus::query {

struct AutoIndexDefinition {
  std::string collection;           // as the query named it; empty: every document (@all_docs)
  // Paths as queried ("Address.City", "Lines[].Product"; no alias, not id()),
  // unique by text and sorted by it.
  std::vector<FieldPath> fields;

  std::string name() const;
  // Position of `path` in fields, or -1.
  int field_number(std::string_view path) const;
  // Every field of `other` is here and the collection is the same.
  bool covers(const AutoIndexDefinition& other) const;
  // The union of both field sets (same collection).
  AutoIndexDefinition merged_with(const AutoIndexDefinition& other) const;

  std::string to_json() const;
  static Result<AutoIndexDefinition> from_json(std::string_view text);
};

// Normalizes a definition: fields sorted and unique.
AutoIndexDefinition make_auto_index_definition(std::string collection, std::vector<FieldPath> fields);

}  // namespace corvus::query
