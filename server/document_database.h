#pragma once
// DocumentDatabase: one open database of this node: its storage, and how far
// the cluster-wide transactions of the database have been applied to it
// (requests wait on that). Its record lives in the cluster state. Owned by
// DatabasesLandlord through shared_ptr so requests in flight keep it alive
// while it is being closed. Thread-safe.

#include <memory>
#include <string>
#include <thread>

#include "server/cluster/index_waiters.h"
#include "storage/documents_storage.h"

namespace corvus::server {

class DocumentDatabase {
 public:
  DocumentDatabase(std::string name, std::unique_ptr<storage::DocumentsStorage> storage)
      : name_(std::move(name)), storage_(std::move(storage)) {}
  // A write's completion may hold the last reference (the database was closed
  // or deleted meanwhile); closing the storage joins the very thread that
  // completion runs on, so then the storage is closed on a thread of its own.
  ~DocumentDatabase() {
    if (storage_ && storage_->on_own_writer_thread()) {
      std::thread([s = std::move(storage_)]() mutable { s.reset(); }).detach();
    }
  }
  DocumentDatabase(const DocumentDatabase&) = delete;
  DocumentDatabase& operator=(const DocumentDatabase&) = delete;

  const std::string& name() const { return name_; }
  // Raft index of the last cluster-wide transaction applied to this database.
  cluster::IndexWaiters& cluster_transactions() { return cluster_transactions_; }
  storage::DocumentsStorage& storage() { return *storage_; }
  const storage::DocumentsStorage& storage() const { return *storage_; }

 private:
  std::string name_;
  cluster::IndexWaiters cluster_transactions_;
  std::unique_ptr<storage::DocumentsStorage> storage_;
};

}  // namespace corvus::server
