// Replication items, storage side: how fast one storage's etag order is read
// as items and applied on another, as the stream does it (one transaction per
// batch, with the incoming position). Not a test: it prints figures.
//
//   corvus-replication-items-bench [documents=20000] [batch=1024] [sync=1] [text=900]
//
// Documents of ~1 KB of JSON (a `text` field of that many bytes), written on storage A in transactions of
// 500; then A's items are read in batches (`batch` items, at most 4 MiB) and
// applied on storage B (sync=1: each batch fsynced, as corvusd does).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <random>
#include <string>

#include <boost/json/parse.hpp>

#include "storage/documents_storage.h"
#include "storage/replication_items.h"

using namespace corvus;
using namespace corvus::storage;

namespace {

double seconds_since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

int fail(const Status& s, const char* what) {
  std::fprintf(stderr, "%s: %s\n", what, s.to_string().c_str());
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  const int documents = argc > 1 ? std::atoi(argv[1]) : 20000;
  const size_t batch = argc > 2 ? static_cast<size_t>(std::atoi(argv[2])) : 1024;
  const bool sync = argc > 3 ? std::atoi(argv[3]) != 0 : true;
  const size_t body_bytes = argc > 4 ? static_cast<size_t>(std::atoi(argv[4])) : 900;
  const auto dir = std::filesystem::temp_directory_path() / ("corvus-repl-items-bench-" + std::to_string(std::random_device{}()));
  struct Cleanup {
    std::filesystem::path p;
    ~Cleanup() { std::filesystem::remove_all(p); }
  } cleanup{dir};

  StorageOptions a_opts;
  a_opts.node_tag = "A";
  StorageOptions b_opts;
  b_opts.node_tag = "B";
  b_opts.sync_writes = sync;
  auto a = DocumentsStorage::open((dir / "a").string(), a_opts);
  if (!a.ok()) return fail(a.status(), "open A");
  auto b = DocumentsStorage::open((dir / "b").string(), b_opts);
  if (!b.ok()) return fail(b.status(), "open B");

  // About 1 KB, as the HTTP benchmarks write.
  auto body = boost::json::parse(R"({"name":"some name here","age":42,"tags":["a","b","c"],"@metadata":{"@collection":"Users"}})").as_object();
  body["text"] = std::string(body_bytes, 'x');
  for (int i = 0; i < documents; i += 500) {
    Status st = a.value()->write([&](WriteTransaction& txn) -> Status {
      for (int j = i; j < std::min(documents, i + 500); ++j) {
        if (auto r = txn.put("users/" + std::to_string(j), body, std::nullopt); !r.ok()) return r.status();
      }
      return Status::Ok();
    });
    if (!st.ok()) return fail(st, "write A");
  }

  auto started = std::chrono::steady_clock::now();
  size_t items = 0;
  for (uint64_t position = 0;;) {
    auto read = read_replication_items(*a.value(), position, batch, 4u << 20);
    if (!read.ok()) return fail(read.status(), "read");
    if (read->items.empty()) break;
    items += read->items.size();
    position = read->scanned_to;
  }
  const double read_s = seconds_since(started);

  // Reads all of A's items in batches and applies each batch on B in one
  // transaction with the incoming position, as the stream does; seconds taken.
  const std::string source = a.value()->database_id();
  auto apply_all = [&]() -> Result<double> {
    const auto t0 = std::chrono::steady_clock::now();
    for (uint64_t position = 0;;) {
      auto read = read_replication_items(*a.value(), position, batch, 4u << 20);
      if (!read.ok()) return read.status();
      if (read->items.empty()) break;
      Status st = b.value()->write([&](WriteTransaction& txn) -> Status {
        for (const auto& item : read->items) {
          if (auto r = apply_replication_item(txn, item, ConflictPolicy::ResolveToLatest); !r.ok()) return r.status();
        }
        set_incoming_position(txn, source, read->scanned_to);
        return Status::Ok();
      });
      if (!st.ok()) return st;
      position = read->scanned_to;
    }
    return seconds_since(t0);
  };
  auto apply_s = apply_all();
  if (!apply_s.ok()) return fail(apply_s.status(), "apply on B");
  // The same items again: every one is a version B has (what a member gets
  // when another member forwards what the writer already sent it).
  auto again_s = apply_all();
  if (!again_s.ok()) return fail(again_s.status(), "apply again on B");

  std::printf("items %zu, batch %zu, sync %d\n", items, batch, sync ? 1 : 0);
  std::printf("read:           %.3f s  %.0f items/s\n", read_s, items / read_s);
  std::printf("read and apply: %.3f s  %.0f items/s\n", *apply_s, items / *apply_s);
  std::printf("read and apply again (all known): %.3f s  %.0f items/s\n", *again_s, items / *again_s);
  return 0;
}
