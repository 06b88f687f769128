#pragma once
// FrameSocket: one blocking connection carrying the cluster port's frames
// (u32 little-endian length of kind + payload, the kind byte, the payload; see
// rachis/tcp_transport.h) over a ByteStream: a plain TCP socket (group
// replication) or TLS (pull replication, byte_stream.h). Replication runs a
// thread per connection, so plain blocking I/O with poll() deadlines is
// simpler than async here.
//
// Owns its stream. Thread-safety: send() may be called from any
// thread (serialized); receive() from one thread at a time; shutdown() from
// any thread wakes a receive() blocked in another.

#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "replication/byte_stream.h"
#include "storage/status.h"

namespace corvus::replication {

struct Frame {
  char kind = 0;
  std::string payload;
};

// A TCP connection to `address` ("host:port", an IPv6 host in brackets)
// made within `timeout`: the connected socket (non-blocking), or Busy saying
// why not. Shared by every dialer between nodes and clusters.
Result<int> connect_tcp(const std::string& address, std::chrono::milliseconds timeout);

class FrameSocket {
 public:
  static constexpr std::uint32_t kMaxFrameBytes = 64u * 1024 * 1024;

  // Adopts a connected socket (any blocking mode).
  explicit FrameSocket(int fd);
  // Frames over any byte stream (TLS).
  explicit FrameSocket(std::unique_ptr<ByteStream> stream);
  ~FrameSocket();
  FrameSocket(const FrameSocket&) = delete;
  FrameSocket& operator=(const FrameSocket&) = delete;

  // Dials "host:port". Busy when it cannot (unreachable, refused, timeout).
  static Result<std::unique_ptr<FrameSocket>> connect(const std::string& address, std::chrono::milliseconds timeout);

  // Writes one whole frame; IOError when the connection is gone or a write
  // makes no progress for the send timeout (a peer that stopped reading).
  Status send(char kind, std::string_view payload);
  // Appends one frame to `out`, for send_frames: a batch's items go out in a
  // few large writes instead of a system call each.
  static void append_frame(std::string& out, char kind, std::string_view payload);
  // Writes bytes made of whole frames (append_frame); same errors as send().
  Status send_frames(std::string_view frames);
  // The next frame. Timeout when none completes within `timeout` (a partial
  // frame stays buffered for the next call); IOError when the connection is
  // closed or broken, Corruption for an impossible length.
  // With `wake_fd` (an eventfd), returns Busy as soon as that becomes
  // readable (it is drained), so one thread can wait for the
  // peer and for local news at once.
  Result<Frame> receive(std::chrono::milliseconds timeout, int wake_fd = -1);
  // Makes every blocked or later send/receive fail; safe from any thread.
  void shutdown();

 private:
  std::unique_ptr<ByteStream> stream_;
  std::mutex send_mu_;
  std::string buffer_;  // bytes received but not yet handed out as frames
};

}  // namespace corvus::replication
