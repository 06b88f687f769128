#pragma once
// The binary encodings' building blocks (document and tombstone records,
// replication payloads, replication item frames): big-endian fixed-width
// integers, u32-length-prefixed strings, and a reader that remembers whether
// it ran past the end instead of failing on each field. Header-only.

#include <cstdint>
#include <string>
#include <string_view>

namespace corvus::storage {

inline void put_u64(std::string& out, uint64_t v) {
  for (int i = 7; i >= 0; --i) out.push_back(static_cast<char>((v >> (i * 8)) & 0xff));
}
inline void put_u32(std::string& out, uint32_t v) {
  for (int i = 3; i >= 0; --i) out.push_back(static_cast<char>((v >> (i * 8)) & 0xff));
}
inline void put_str(std::string& out, std::string_view s) {
  put_u32(out, static_cast<uint32_t>(s.size()));
  out.append(s);
}

struct ByteReader {
  std::string_view in;
  bool bad = false;
  // A big-endian integer of `bytes` bytes (at most 8).
  uint64_t u(int bytes) {
    if (in.size() < static_cast<size_t>(bytes)) {
      bad = true;
      return 0;
    }
    uint64_t v = 0;
    for (int i = 0; i < bytes; ++i) v = (v << 8) | static_cast<unsigned char>(in[i]);
    in.remove_prefix(bytes);
    return v;
  }
  std::string str() {
    const uint64_t n = u(4);
    if (bad || in.size() < n) {
      bad = true;
      return {};
    }
    std::string s(in.substr(0, n));
    in.remove_prefix(n);
    return s;
  }
};

}  // namespace corvus::storage
