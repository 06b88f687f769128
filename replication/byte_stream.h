#pragma once
// ByteStream: the connection under a FrameSocket, as a blocking byte stream
// with deadlines. Two implementations: PlainByteStream (a TCP socket, what
// group replication uses on an unsecured cluster port; frame_socket.cc) and,
// in the server, TLS: a connection of the TCP listener or one a sink dialed
// (pull replication between clusters), or the cluster port of a secured node
// (server/tcp/tcp_byte_stream.h).
//
// Thread-safety: write_all() from one thread at a time (FrameSocket
// serializes), read_some() from one thread at a time, possibly concurrently
// with a writer; shutdown() from any thread makes both fail promptly.

#include <chrono>
#include <cstddef>
#include <string_view>

#include "storage/status.h"

namespace corvus::replication {

class ByteStream {
 public:
  virtual ~ByteStream() = default;
  // Writes all of `bytes`. IOError when the connection is gone or a write
  // makes no progress for a few seconds (a peer that stopped reading).
  virtual Status write_all(std::string_view bytes) = 0;
  // Reads some bytes (> 0) into `buf`. Timeout when none arrive within
  // `timeout`; IOError when the peer closed or the connection broke; Busy as
  // soon as `wake_fd` (an eventfd, -1: none) becomes readable (it is drained).
  virtual Result<std::size_t> read_some(char* buf, std::size_t size, std::chrono::milliseconds timeout,
                                        int wake_fd) = 0;
  virtual void shutdown() = 0;
};

// A connected TCP socket, owned (closed by the destructor).
class PlainByteStream final : public ByteStream {
 public:
  explicit PlainByteStream(int fd);
  ~PlainByteStream() override;
  PlainByteStream(const PlainByteStream&) = delete;
  PlainByteStream& operator=(const PlainByteStream&) = delete;

  Status write_all(std::string_view bytes) override;
  Result<std::size_t> read_some(char* buf, std::size_t size, std::chrono::milliseconds timeout, int wake_fd) override;
  void shutdown() override;

 private:
  int fd_;
};

}  // namespace corvus::replication
