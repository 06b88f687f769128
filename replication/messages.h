#pragma once
// The frames of a replication connection (replication/README.md, "Transport")
// and their encodings. Control frames carry small JSON objects; items are
// binary (kind, etag, change vector, attachment hash, payload), since a
// payload is storage's own bytes and often large.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "storage/replication_items.h"
#include "storage/status.h"

namespace corvus::replication {

inline constexpr int kProtocolVersion = 1;

namespace frames {
inline constexpr char kHandshake = 'D';   // source -> destination, first frame
inline constexpr char kPosition = 'P';    // destination -> source, answer to the handshake
inline constexpr char kRefusal = 'R';     // destination -> source, then close
inline constexpr char kBatch = 'B';       // source -> destination: a batch header
inline constexpr char kWanted = 'W';      // destination -> source: hashes it lacks
inline constexpr char kChunk = 'X';       // source -> destination: attachment bytes; empty ends one
inline constexpr char kItem = 'I';        // source -> destination: one item of the batch
inline constexpr char kAck = 'A';         // destination -> source: the batch is durable
inline constexpr char kHeartbeat = 'K';   // both ways when idle
}  // namespace frames

struct Handshake {
  int version = kProtocolVersion;
  std::string cluster_id;
  std::string from;  // node tag of the source
  std::string to;    // node tag the source believes it dialed
  std::string database;
  std::string source_database_id;
};

// P and A: what the destination has of this source.
struct Position {
  uint64_t last_etag_accepted = 0;     // the source's etag
  std::string database_change_vector;  // the destination's, after the batch
};

struct BatchHeader {
  uint64_t items = 0;
  uint64_t last_etag = 0;             // the source's position after this batch
  std::vector<std::string> hashes;    // attachment bytes the items need
  // The source's database change vector when this batch brings the
  // destination up to everything the source had (it then has all of it);
  // empty otherwise.
  std::string complete_change_vector;
};

std::string encode(const Handshake& h);
Result<Handshake> decode_handshake(std::string_view payload);
std::string encode(const Position& p);
Result<Position> decode_position(std::string_view payload);
std::string encode(const BatchHeader& b);
Result<BatchHeader> decode_batch(std::string_view payload);
std::string encode_hashes(const std::vector<std::string>& hashes);
Result<std::vector<std::string>> decode_hashes(std::string_view payload);
std::string encode(const storage::ReplicationItem& item);
Result<storage::ReplicationItem> decode_item(std::string_view payload);

}  // namespace corvus::replication
