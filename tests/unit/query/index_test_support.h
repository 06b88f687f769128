#pragma once
// Shared by the index and runner tests: a real DocumentsStorage in a temporary
// directory, writes of JSON documents, and a parsed query kept alive.

#include <memory>
#include <string>

#include <boost/json/parse.hpp>
#include <doctest/doctest.h>

#include "query/rql_parser.h"
#include "storage/documents_storage.h"
#include "tests/support/temp_dir.h"

namespace corvus::query::testing_support {

inline std::unique_ptr<storage::DocumentsStorage> open_storage(const std::string& dir) {
  auto s = storage::DocumentsStorage::open(dir, storage::StorageOptions{});
  REQUIRE_MESSAGE(s.ok(), s.status().to_string());
  return std::move(s).value();
}

// `json` without @metadata; `collection` goes into it.
inline void put(storage::DocumentsStorage& s, const std::string& id, const std::string& collection,
                const std::string& json) {
  auto body = boost::json::parse(json).as_object();
  body["@metadata"] = boost::json::object{{"@collection", collection}};
  Status st = s.write([&](storage::WriteTransaction& txn) { return txn.put(id, body, std::nullopt).status(); });
  REQUIRE_MESSAGE(st.ok(), st.to_string());
}

inline void remove(storage::DocumentsStorage& s, const std::string& id) {
  Status st = s.write([&](storage::WriteTransaction& txn) { return txn.remove(id, std::nullopt).status(); });
  REQUIRE_MESSAGE(st.ok(), st.to_string());
}

inline Query parse(const std::string& rql) {
  auto q = parse_rql(rql);
  REQUIRE_MESSAGE(q.ok(), q.status().to_string());
  return std::move(q).value();
}

}  // namespace corvus::query::testing_support
