#pragma once
// TcpListener: corvusd's TCP listener (--tcp-url, advertised by GET
// /info/tcp), the port the official clients open raw TCP connections to (data
// subscription workers). Each accepted connection gets a thread of its own:
// it reads the connection header, negotiates the operation's version with the
// TcpOperationHandler registered for it (tcp_negotiation.h), then hands the
// connection to that handler, which keeps the thread until it is done. A
// thread per connection is what the workload is: few, long-lived connections
// that spend their time waiting.
//
// Built by main() after the ServerStore, stopped (stop() or the destructor)
// before the ServerStore closes. Thread-safety: add_handler() before start();
// stop() from any thread, once.

#include <atomic>
#include <cstdint>
#include <list>
#include <functional>
#include <map>
#include <optional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "server/tcp/tcp_json_stream.h"
#include "server/tcp/tcp_negotiation.h"
#include "storage/status.h"

namespace corvus::server::tcp {

// One operation served on the TCP port ("Subscription", ...).
class TcpOperationHandler {
 public:
  virtual ~TcpOperationHandler() = default;
  // The versions this handler speaks.
  virtual std::vector<std::int64_t> versions() const = 0;
  // Runs the operation on the connection's own thread after the version was
  // agreed; returns when the connection is done (the listener closes it).
  // `stream` is closed by the listener's stop(): the handler must then return
  // promptly (it sees ShuttingDown from the stream).
  virtual void serve(std::shared_ptr<TcpJsonStream> stream, const TcpConnectionHeader& header) = 0;
};

// Whether the connection's client may run the operation of `header`; a
// refusal message, or nullopt when allowed. `certificate`: what the client
// presented over TLS (nullptr: none, or no TLS).
using TcpAuthorizer = std::function<std::optional<std::string>(const TcpConnectionHeader& header,
                                                               X509* certificate)>;

struct TcpListenerOptions {
  std::string host = "127.0.0.1";  // IPv4 or IPv6 literal
  std::uint16_t port = 0;          // 0: any free port
  // TLS with this server context (the HTTP port's: it asks for a client
  // certificate and accepts any); nullptr: plain TCP. Must outlive the listener.
  SSL_CTX* tls = nullptr;
  // Judges each connection after its header; empty: everything allowed.
  TcpAuthorizer authorize;
  // Largest JSON value a client may send (headers, options, acknowledgements).
  std::size_t max_value_bytes = 1 << 20;
};

class TcpListener {
 public:
  // Binds and listens; IOError naming the address when it cannot.
  static Result<std::unique_ptr<TcpListener>> bind(const TcpListenerOptions& options);
  ~TcpListener();
  TcpListener(const TcpListener&) = delete;
  TcpListener& operator=(const TcpListener&) = delete;

  // `handler` serves `operation`; it must outlive the listener.
  void add_handler(const std::string& operation, TcpOperationHandler* handler);
  // Starts accepting (a thread of its own).
  void start();
  // Stops accepting, closes every connection and joins their threads.
  void stop();
  std::uint16_t port() const { return port_; }

 private:
  TcpListener() = default;
  void accept_loop();
  void serve_connection(std::shared_ptr<TcpJsonStream> stream);
  void reap_finished();

  struct Connection {
    std::shared_ptr<TcpJsonStream> stream;
    std::thread thread;
    std::atomic<bool> finished{false};
  };

  TcpListenerOptions options_;
  int listen_fd_ = -1;
  int wake_fd_ = -1;  // eventfd: wakes the accept loop to stop
  std::uint16_t port_ = 0;
  std::map<std::string, TcpOperationHandler*> handlers_;
  std::thread accept_thread_;
  std::atomic<bool> stopping_{false};
  std::mutex mu_;
  std::list<std::unique_ptr<Connection>> connections_;  // guarded by mu_
};

}  // namespace corvus::server::tcp
