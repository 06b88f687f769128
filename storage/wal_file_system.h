#pragma once
// WalFileSystem: the file system RocksDB writes through, with one change for
// write-ahead log files: their preallocated space counts in the file's size
// (fallocate without FALLOC_FL_KEEP_SIZE). An append then writes inside the
// file instead of growing it, so the fdatasync that acknowledges a write has
// no file size to persist, only data: on this project's ext4 disk a 1 KB
// append + fdatasync costs ~135-140 us inside a preallocated file against
// ~185-190 us on a growing one (bench/README.md, "The WAL sync").
//
// Safe for recovery: RocksDB trims the preallocated tail when it closes a log,
// and after a crash its log reader skips the zero-filled tail (zero-length
// records of type zero, as written by its preallocating writers) without
// reporting corruption. Every other file is opened as the base opens it.
//
// Wraps a base file system (the operating system's, or a test's); shares it.
// Thread-safe as the base is.

#include <memory>

#include <rocksdb/file_system.h>

namespace corvus::storage {

std::shared_ptr<rocksdb::FileSystem> wal_file_system(std::shared_ptr<rocksdb::FileSystem> base);

}  // namespace corvus::storage
