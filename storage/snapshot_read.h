#pragma once
// SnapshotRead: one consistent RocksDB snapshot for the duration of one read
// call, so a read spanning several keys or families sees one point in time.

#include <rocksdb/db.h>

namespace corvus::storage {

struct SnapshotRead {
  explicit SnapshotRead(rocksdb::DB* db) : db_(db), snap_(db->GetSnapshot()) { opts.snapshot = snap_; }
  ~SnapshotRead() { db_->ReleaseSnapshot(snap_); }
  SnapshotRead(const SnapshotRead&) = delete;
  SnapshotRead& operator=(const SnapshotRead&) = delete;
  rocksdb::ReadOptions opts;

 private:
  rocksdb::DB* db_;
  const rocksdb::Snapshot* snap_;
};

}  // namespace corvus::storage
