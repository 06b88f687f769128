#include "server/databases_landlord.h"

#include <algorithm>
#include <chrono>
#include <thread>
#include <filesystem>


#include <boost/json.hpp>

#include "storage/document.h"

namespace corvus::server {
namespace fs = std::filesystem;

namespace {

constexpr const char* kStorageDir = "storage";
// The automatic indexes, beside the storage (query::IndexStore).
constexpr const char* kIndexesDir = "indexes";

}  // namespace

DatabasesLandlord::DatabasesLandlord(std::string data_dir, storage::StorageOptions storage_options)
    : databases_dir_((fs::path(data_dir) / "databases").string()), storage_options_(std::move(storage_options)) {}

Status DatabasesLandlord::validate_name(std::string_view name) {
  if (name.empty()) return Status::InvalidArgument("Database name cannot be empty");
  if (name.size() > 128)
    return Status::InvalidArgument("Database name '" + std::string(name.substr(0, 40)) +
                                   "...' is longer than 128 characters");
  for (char c : name) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
              c == '-' || c == '.';
    if (!ok) {
      return Status::InvalidArgument("Database name '" + std::string(name) +
                                     "' may only contain letters, digits, '_', '-' and '.'");
    }
  }
  if (name.front() == '.' || name.back() == '.')
    return Status::InvalidArgument("Database name '" + std::string(name) + "' cannot start or end with '.'");
  return Status::Ok();
}

std::string DatabasesLandlord::directory_for(std::string_view name) const {
  return (fs::path(databases_dir_) / storage::lower_id(name)).string();
}

std::shared_ptr<DocumentDatabase> DatabasesLandlord::get(std::string_view name) const {
  std::string key = storage::lower_id(name);
  std::shared_lock lock(mu_);
  auto it = databases_.find(key);
  return it == databases_.end() ? nullptr : it->second;
}

Result<std::shared_ptr<DocumentDatabase>> DatabasesLandlord::open(std::string_view name, const std::string& node_tag) {
  if (Status s = validate_name(name); !s.ok()) return s;
  std::unique_lock lock(mu_);
  const std::string key = storage::lower_id(name);
  if (auto it = databases_.find(key); it != databases_.end()) return it->second;
  const std::string dir = directory_for(name);
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return Status::IOError("cannot create " + dir + ": " + ec.message());
  storage::StorageOptions options = storage_options_;
  options.node_tag = node_tag;
  auto storage = storage::DocumentsStorage::open((fs::path(dir) / kStorageDir).string(), options);
  if (!storage.ok()) return storage.status();
  auto indexes = query::IndexStore::open(*storage.value(), (fs::path(dir) / kIndexesDir).string());
  if (!indexes.ok()) return indexes.status();
  auto db = std::make_shared<DocumentDatabase>(std::string(name), std::move(storage).value(),
                                               std::move(indexes).value());
  databases_[key] = db;
  return db;
}

Status DatabasesLandlord::close(std::string_view name, bool delete_files) {
  std::shared_ptr<DocumentDatabase> db;
  {
    std::unique_lock lock(mu_);
    auto it = databases_.find(storage::lower_id(name));
    if (it != databases_.end()) {
      db = std::move(it->second);
      databases_.erase(it);
    }
  }
  // Replication first: its connections hold the storage busy.
  if (db) db->stop_replication();
  // Requests still holding the database finish against it; its writer drains
  // when the last reference drops. Waiting keeps close-then-reopen simple.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (db && db.use_count() > 1) {
    if (std::chrono::steady_clock::now() > deadline) {
      std::unique_lock lock(mu_);
      databases_.emplace(storage::lower_id(name), std::move(db));  // still in use: keep serving it
      return Status::Busy("database '" + std::string(name) + "' is still in use; closing it later");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  db.reset();
  if (!delete_files) return Status::Ok();
  const std::string dir = directory_for(name);
  std::error_code ec;
  fs::remove_all(dir, ec);
  if (ec) return Status::IOError("cannot remove " + dir + ": " + ec.message());
  return Status::Ok();
}

std::vector<std::string> DatabasesLandlord::names() const {
  std::shared_lock lock(mu_);
  std::vector<std::string> out;
  for (const auto& [key, db] : databases_) out.push_back(db->name());
  return out;
}

std::vector<std::shared_ptr<DocumentDatabase>> DatabasesLandlord::all() const {
  std::shared_lock lock(mu_);
  std::vector<std::shared_ptr<DocumentDatabase>> out;
  for (const auto& [key, db] : databases_) out.push_back(db);
  return out;
}

void DatabasesLandlord::close_all() {
  std::map<std::string, std::shared_ptr<DocumentDatabase>> dbs;
  {
    std::unique_lock lock(mu_);
    dbs.swap(databases_);
  }
  for (auto& [name, db] : dbs) db->stop_replication();
  dbs.clear();  // destructors drain each writer
}

}  // namespace corvus::server
