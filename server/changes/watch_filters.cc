// WatchFilters: see watch_filters.h.

#include "server/changes/watch_filters.h"

#include <string_view>

namespace corvus::server::changes {

std::string lowered(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

namespace {
bool starts_with(std::string_view s, std::string_view prefix) { return s.substr(0, prefix.size()) == prefix; }
}  // namespace

bool WatchFilters::matches(const ChangeEvent& event) const {
  const WatchFilters& f = *this;
  const std::string id = lowered(event.document_id);
  if (event.kind == ChangeEvent::Kind::Document) {
    if (f.all_documents || f.documents.count(id) != 0 || f.collections.count(lowered(event.collection)) != 0) {
      return true;
    }
    for (const auto& p : f.prefixes) {
      if (starts_with(id, p)) return true;
    }
    return false;
  }
  if (event.kind == ChangeEvent::Kind::Operation) {
    return f.all_operations || f.operations.count(event.operation_id) != 0;
  }
  if (event.kind == ChangeEvent::Kind::Index) {
    return f.all_indexes || f.indexes.count(lowered(event.name)) != 0;
  }
  if (event.kind == ChangeEvent::Kind::Topology) return f.topology;
  if (event.kind == ChangeEvent::Kind::Database) {
    return f.all_databases || f.databases.count(lowered(event.name)) != 0;
  }
  const std::string name = lowered(event.counter_name);
  return f.all_counters || f.counter_names.count(name) != 0 || f.document_counters.count(id) != 0 ||
         f.document_counter.count(id + '\0' + name) != 0;
}

}  // namespace corvus::server::changes
