#pragma once
// WatchFilters: what one Changes API connection watches (its watch-*
// commands), and whether an event matches. A plain value: owned by its
// ChangesConnection (under its mutex), and kept by the ChangesFeed for a
// while after the connection closed, so that a client resuming it gets the
// same watches.

#include <cstdint>
#include <set>
#include <string>

#include "server/changes/change_event.h"

namespace corvus::server::changes {

struct WatchFilters {
  bool all_documents = false;
  std::set<std::string> documents;    // lowered ids
  std::set<std::string> prefixes;     // lowered
  std::set<std::string> collections;  // lowered
  bool all_counters = false;
  std::set<std::string> counter_names;      // lowered
  std::set<std::string> document_counters;  // lowered document ids
  std::set<std::string> document_counter;   // lowered id '\0' lowered name
  bool all_operations = false;
  std::set<uint64_t> operations;
  bool all_indexes = false;
  std::set<std::string> indexes;  // lowered names
  bool topology = false;          // watch-topology-change
  bool all_databases = false;     // server-wide feed
  std::set<std::string> databases;  // lowered names (server-wide feed)

  bool matches(const ChangeEvent& event) const;
};

// ASCII lower case: ids, collections and counter names compare
// case-insensitively, as the storage keys them.
std::string lowered(std::string_view s);

}  // namespace corvus::server::changes
