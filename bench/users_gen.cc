// corvus-users-gen: writes the Users data set of bench/query_bench.sh
// (bench/users_dataset.h) twice, so each side loads the same documents its own
// fastest way:
//   --bulk FILE   the body of POST /databases/{db}/bulk_insert: a JSON array of
//                 {"Id":"users/<i>","Type":"PUT","Document":{...,"@metadata":{"@collection":"Users"}}}
//   --copy FILE   PostgreSQL COPY text: users/<i> TAB <json body> per line (the
//                 bodies hold no tab, newline or backslash, so nothing needs escaping)
// Written beforehand so that loading measures the server, not the generator.
//
//   corvus-users-gen --docs N --cities C [--bulk FILE] [--copy FILE]
#include <cstdio>
#include <iostream>
#include <memory>

#include "bench/bench_common.h"
#include "bench/users_dataset.h"

namespace cb = corvus::bench;
namespace users = corvus::bench::users;

namespace {

struct FileCloser {
  void operator()(std::FILE* f) const {
    if (f) std::fclose(f);
  }
};
using File = std::unique_ptr<std::FILE, FileCloser>;

File open_out(const std::string& path) {
  if (path.empty()) return nullptr;
  File f(std::fopen(path.c_str(), "wb"));
  if (!f) std::cerr << "corvus-users-gen: cannot write " << path << "\n";
  else std::setvbuf(f.get(), nullptr, _IOFBF, 1 << 20);
  return f;
}

bool put(std::FILE* f, const std::string& s) { return std::fwrite(s.data(), 1, s.size(), f) == s.size(); }

}  // namespace

int main(int argc, char** argv) {
  cb::Args args(argc, argv);
  const auto docs = static_cast<uint64_t>(args.num("docs", 1000000));
  const auto cities = static_cast<uint64_t>(args.num("cities", 10000));
  const std::string bulk_path = args.str("bulk", "");
  const std::string copy_path = args.str("copy", "");
  std::string err = args.bad().empty() ? args.unknown() : args.bad();
  if (err.empty() && (docs < 1 || cities < 1)) err = "--docs and --cities must be >= 1";
  if (err.empty() && bulk_path.empty() && copy_path.empty()) err = "nothing to write: give --bulk and/or --copy";
  if (args.help() || !err.empty()) {
    if (!err.empty()) std::cerr << "corvus-users-gen: " << err << "\n";
    std::cerr << "usage: corvus-users-gen --docs N --cities C [--bulk FILE] [--copy FILE]\n";
    return args.help() ? 0 : 2;
  }
  File bulk = open_out(bulk_path), copy = open_out(copy_path);
  if ((!bulk_path.empty() && !bulk) || (!copy_path.empty() && !copy)) return 1;

  static constexpr const char* kMetadata = ",\"@metadata\":{\"@collection\":\"Users\"}";
  bool ok = !bulk || put(bulk.get(), "[");
  for (uint64_t i = 0; i < docs && ok; ++i) {
    const std::string id = users::user_id(i);
    if (bulk) {
      std::string item = i ? "," : "";
      item += "{\"Id\":\"" + id + "\",\"Type\":\"PUT\",\"Document\":" + users::user_body(i, cities, kMetadata) + "}\n";
      ok = put(bulk.get(), item);
    }
    if (copy && ok) ok = put(copy.get(), id + "\t" + users::user_body(i, cities) + "\n");
  }
  if (ok && bulk) ok = put(bulk.get(), "]");
  if (ok && bulk) ok = std::fflush(bulk.get()) == 0;
  if (ok && copy) ok = std::fflush(copy.get()) == 0;
  if (!ok) {
    std::cerr << "corvus-users-gen: write failed (disk full?)\n";
    return 1;
  }
  return 0;
}
