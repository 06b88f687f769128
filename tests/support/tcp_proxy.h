#pragma once
// TcpProxy: a TCP forwarder on 127.0.0.1 that a test controls, to cut a node off
// the network without touching the process. It listens on its own port and
// forwards every accepted connection to 127.0.0.1:<target>, both directions.
//
//   cut():  closes every forwarded connection and, until heal(), accepts new ones
//           only to close them at once (peers see resets, like a dead link);
//   heal(): forwards again.
//
// Owns one I/O thread; the destructor closes everything and joins it. Every
// public function is thread-safe.

#include <cstdint>
#include <memory>

namespace corvus::testing {

class TcpProxy {
 public:
  // listen_port 0 picks a free port (see port()).
  TcpProxy(uint16_t listen_port, uint16_t target_port);
  ~TcpProxy();
  TcpProxy(const TcpProxy&) = delete;
  TcpProxy& operator=(const TcpProxy&) = delete;

  uint16_t port() const;
  void cut();
  void heal();
  bool is_cut() const;
  // Connections accepted so far (forwarded or dropped).
  uint64_t accepted() const;

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace corvus::testing
