#include "server/databases_landlord.h"

#include <algorithm>
#include <chrono>
#include <thread>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <fcntl.h>
#include <unistd.h>

#include <boost/json.hpp>

#include "storage/document.h"

namespace corvus::server {
namespace fs = std::filesystem;

namespace {

constexpr const char* kRecordFile = "record.json";
constexpr const char* kStorageDir = "storage";

// Writes `content` to `path` durably: temp file, fsync, rename, fsync dir.
Status write_file_durably(const fs::path& path, const std::string& content) {
  const fs::path tmp = path.string() + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd < 0) return Status::IOError("cannot write " + tmp.string());
  bool ok = ::write(fd, content.data(), content.size()) == static_cast<ssize_t>(content.size()) && ::fsync(fd) == 0;
  ::close(fd);
  if (!ok) return Status::IOError("cannot write " + tmp.string());
  std::error_code ec;
  fs::rename(tmp, path, ec);
  if (ec) return Status::IOError("cannot rename " + tmp.string() + ": " + ec.message());
  int dfd = ::open(path.parent_path().c_str(), O_RDONLY | O_DIRECTORY);
  if (dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
  return Status::Ok();
}

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

Result<std::shared_ptr<DocumentDatabase>> DatabasesLandlord::open_directory(const std::string& dir) {
  std::ifstream in(fs::path(dir) / kRecordFile);
  if (!in) return Status::IOError("database directory " + dir + " has no readable " + kRecordFile);
  std::stringstream ss;
  ss << in.rdbuf();
  boost::system::error_code ec;
  auto record = boost::json::parse(ss.str(), ec);
  if (ec || !record.is_object() || !record.as_object().contains("DatabaseName") ||
      !record.as_object()["DatabaseName"].is_string()) {
    return Status::Corruption("database record in " + dir + " is not valid");
  }
  std::string name(record.as_object()["DatabaseName"].as_string());
  auto storage = storage::DocumentsStorage::open((fs::path(dir) / kStorageDir).string(), storage_options_);
  if (!storage.ok()) return storage.status();
  return std::make_shared<DocumentDatabase>(name, ss.str(), std::move(storage).value());
}

Status DatabasesLandlord::open_all() {
  std::error_code ec;
  fs::create_directories(databases_dir_, ec);
  if (ec) return Status::IOError("cannot create " + databases_dir_ + ": " + ec.message());
  for (const auto& entry : fs::directory_iterator(databases_dir_, ec)) {
    if (!entry.is_directory()) continue;
    if (!fs::exists(entry.path() / kRecordFile)) {
      // A create that did not finish, or a delete whose files were still in use.
      std::error_code ignored;
      fs::remove_all(entry.path(), ignored);
      continue;
    }
    auto db = open_directory(entry.path().string());
    if (!db.ok()) return db.status();
    std::unique_lock lock(mu_);
    databases_[storage::lower_id(db.value()->name())] = db.value();
  }
  if (ec) return Status::IOError("cannot list " + databases_dir_ + ": " + ec.message());
  return Status::Ok();
}

std::shared_ptr<DocumentDatabase> DatabasesLandlord::get(std::string_view name) const {
  std::string key = storage::lower_id(name);
  std::shared_lock lock(mu_);
  auto it = databases_.find(key);
  return it == databases_.end() ? nullptr : it->second;
}

Result<std::shared_ptr<DocumentDatabase>> DatabasesLandlord::create(std::string_view name, std::string record_json) {
  if (Status s = validate_name(name); !s.ok()) return s;
  std::unique_lock lock(mu_);
  const std::string key = storage::lower_id(name);
  if (databases_.count(key)) return Status::AlreadyExists("Database '" + std::string(name) + "' already exists!");
  const std::string dir = directory_for(name);
  std::error_code ec;
  fs::remove_all(dir, ec);  // leftovers of an unfinished create
  fs::create_directories(dir, ec);
  if (ec) return Status::IOError("cannot create " + dir + ": " + ec.message());
  auto storage = storage::DocumentsStorage::open((fs::path(dir) / kStorageDir).string(), storage_options_);
  if (!storage.ok()) return storage.status();
  // The record is written last: its presence marks a finished create.
  if (Status s = write_file_durably(fs::path(dir) / kRecordFile, record_json); !s.ok()) return s;
  auto db = std::make_shared<DocumentDatabase>(std::string(name), std::move(record_json), std::move(storage).value());
  databases_[key] = db;
  return db;
}

Status DatabasesLandlord::remove(std::string_view name) {
  std::shared_ptr<DocumentDatabase> db;
  {
    std::unique_lock lock(mu_);
    auto it = databases_.find(storage::lower_id(name));
    if (it == databases_.end()) return Status::NotFound("Database '" + std::string(name) + "' does not exist");
    db = std::move(it->second);
    databases_.erase(it);
    // The record goes first, so a crash mid-delete leaves no half database.
    std::error_code ec;
    fs::remove(fs::path(directory_for(name)) / kRecordFile, ec);
  }
  const std::string dir = directory_for(name);
  // Requests still holding the database finish against it; the files go when
  // the last reference drops. Waiting here keeps delete-then-create simple.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (db.use_count() > 1) {
    if (std::chrono::steady_clock::now() > deadline) {
      return Status::Busy("database '" + std::string(name) +
                          "' is deleted but still in use; its files are removed at the next start");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  db.reset();
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
  dbs.clear();  // destructors drain each writer
}

}  // namespace corvus::server
