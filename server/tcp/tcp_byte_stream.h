#pragma once
// TcpByteStream: replication's ByteStream over a TcpJsonStream, plain or TLS,
// once the JSON header exchange is over: pull replication's frames travel on
// the TCP listener's connections (the hub's side) and on the connections a
// sink dials (replication/README.md, "Pull replication"). Shares the stream
// (the listener's registry may close it on stop). Thread-safety as
// replication::ByteStream (TcpJsonStream serializes its OpenSSL calls).

#include <chrono>
#include <memory>

#include "replication/byte_stream.h"
#include "server/tcp/tcp_json_stream.h"

namespace corvus::server::tcp {

class TcpByteStream final : public replication::ByteStream {
 public:
  // A write that makes no progress this long means the peer stopped reading.
  static constexpr std::chrono::seconds kWriteStall{5};

  explicit TcpByteStream(std::shared_ptr<TcpJsonStream> stream) : stream_(std::move(stream)) {}

  Status write_all(std::string_view bytes) override { return stream_->write(bytes, kWriteStall); }
  Result<std::size_t> read_some(char* buf, std::size_t size, std::chrono::milliseconds timeout, int wake_fd) override {
    return stream_->read_bytes(buf, size, timeout, wake_fd);
  }
  void shutdown() override { stream_->close(); }

 private:
  std::shared_ptr<TcpJsonStream> stream_;
};

}  // namespace corvus::server::tcp
