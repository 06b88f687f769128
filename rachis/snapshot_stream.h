#pragma once
// Streamed snapshots: what the Raft core's snapshot data is, and the two ends of
// a snapshot transfer.
//
// The cluster state (rachis/cluster/cluster_state.h) lives in its own RocksDB and
// may hold millions of compare-exchange values, so it never travels inside a Raft
// message. The core's snapshot data is a small *descriptor* (a magic string, a
// format version and the snapshot's index). A follower that receives one pulls
// the state itself over a dedicated connection to the sender's cluster port
// (TcpTransport::fetch_snapshot): a SnapshotSource on the sender reads one
// consistent view in bounded chunks, a SnapshotSink on the receiver writes them
// into a staging directory that replaces the state only once it is complete.
//
// Ownership: sources are created per transfer by the sending node and destroyed
// when the transfer ends; sinks by the receiving node. Thread-safety: one thread
// at a time per object (a transfer is sequential); different objects may be used
// from different threads.

#include <string>
#include <string_view>

#include "rachis/core/types.h"
#include "storage/status.h"

namespace corvus::rachis {

// The core's snapshot data for a snapshot at `index`.
std::string encode_snapshot_descriptor(core::Index index);
// False when `data` is not a descriptor this build understands (another format,
// or the whole-state blob of older builds).
bool decode_snapshot_descriptor(std::string_view data, core::Index* index);

// The sending end: one consistent view of the state, read chunk by chunk.
class SnapshotSource {
 public:
  virtual ~SnapshotSource() = default;
  // The applied index of the view (>= the snapshot's index).
  virtual core::Index applied() const = 0;
  // Replaces *chunk with the next chunk: records up to a bound (about 1 MB; one
  // record larger than that travels alone). Empty once every record was read.
  // IOError/Corruption when the store cannot be read.
  virtual Status next(std::string* chunk) = 0;
  // Sent after the last chunk: the view's applied index and record count, so the
  // receiver can tell a complete stream from a cut one.
  virtual std::string trailer() const = 0;
};

// The receiving end: takes the chunks in order, then the trailer.
class SnapshotSink {
 public:
  virtual ~SnapshotSink() = default;
  // Corruption when the chunk is malformed; IOError when it cannot be stored.
  virtual Status add(std::string_view chunk) = 0;
  // Checks the trailer against what was received (Corruption when records are
  // missing) and makes the received state durable (IOError).
  virtual Status finish(std::string_view trailer) = 0;
};

}  // namespace corvus::rachis
