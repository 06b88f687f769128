#pragma once
// Wire and disk encodings of the Rachis core's value types: Message, Entry,
// HardState and SnapshotMeta, as compact little-endian binary.
//
// Used by TcpTransport (one Message per frame) and LogStorage (entries, hard
// state, snapshot meta in RocksDB). Pure functions; thread-safe. Decoders never
// trust their input: a truncated or malformed buffer returns false.
//
// Format: a leading version byte (kWireVersion), then fixed-width u8/u64 fields and
// length-prefixed (u32) byte strings, in declaration order. Changing a layout means
// bumping kWireVersion.

#include <cstdint>
#include <string>
#include <string_view>

#include "rachis/core/types.h"

namespace corvus::rachis {

inline constexpr std::uint8_t kWireVersion = 1;

class BufWriter {
 public:
  void u8(std::uint8_t v) { out_.push_back(static_cast<char>(v)); }
  void u32(std::uint32_t v) {
    for (int i = 0; i < 4; ++i) out_.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
  }
  void u64(std::uint64_t v) {
    for (int i = 0; i < 8; ++i) out_.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
  }
  void bytes(std::string_view s) {
    u32(static_cast<std::uint32_t>(s.size()));
    out_.append(s);
  }
  std::string& str() { return out_; }

 private:
  std::string out_;
};

class BufReader {
 public:
  explicit BufReader(std::string_view in) : in_(in) {}
  bool u8(std::uint8_t* v);
  bool u32(std::uint32_t* v);
  bool u64(std::uint64_t* v);
  bool bytes(std::string* v);
  bool done() const { return pos_ == in_.size(); }

 private:
  std::string_view in_;
  std::size_t pos_ = 0;
};

void write_entry(BufWriter& w, const core::Entry& e);
bool read_entry(BufReader& r, core::Entry* e);

std::string encode_entry(const core::Entry& e);
bool decode_entry(std::string_view bytes, core::Entry* e);

std::string encode_hard_state(const core::HardState& hs);
bool decode_hard_state(std::string_view bytes, core::HardState* hs);

std::string encode_snapshot_meta(const core::SnapshotMeta& meta);
bool decode_snapshot_meta(std::string_view bytes, core::SnapshotMeta* meta);

// A snapshot's payload travels inline inside the InstallSnapshot message.
std::string encode_message(const core::Message& m);
bool decode_message(std::string_view bytes, core::Message* m);

}  // namespace corvus::rachis
