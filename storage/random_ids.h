#pragma once
// Random identifiers: database ids (22-char base64 of 16 random bytes, as in
// RavenDB change vectors) and GUIDs for documents stored with an empty id.
// Thread-safe.

#include <string>

namespace corvus::storage {

std::string new_database_id();
std::string new_guid();  // "8f0c2a1e-6b7d-4e7a-9c1b-2f3e4d5c6b7a"

}  // namespace corvus::storage
