#pragma once
// HubConnector: how a pull replication sink reaches its hub. For each
// connection it asks one of the hub cluster's nodes (the connection string's
// URLs, HTTPS with the sink's certificate) where its TCP port is (GET
// /info/remote-task/tcp, which the hub allows to that certificate only for
// its hub), dials that port, makes the TLS handshake as a client with the
// sink's certificate and checks the hub presents the certificate it
// advertised, negotiates the "PullReplication" operation naming the hub,
// says which direction the connection carries, and hands back the connection
// for replication's frames. It starts with the node that worked last and
// moves on to the next when one fails: that is the sink's failover.
//
// External replication (server/external_replication/) dials another
// cluster's TCP listener the same way, with its own operation and hello
// (connect(TcpNegotiation)).
//
// Owned by a SinkReplication or an ExternalReplication. Thread-safety: connect() from any thread
// (the two directions' threads); the rotation is under a mutex.

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <boost/json/object.hpp>
#include <openssl/ssl.h>

#include "replication/frame_socket.h"
#include "storage/status.h"

namespace corvus::server::pull_replication {

struct HubTarget {
  std::vector<std::string> urls;  // the hub cluster's nodes, http(s)://host:port
  std::string database;           // the hub's database
  std::string hub;                // the hub definition's name (external replication: the source database)
  std::shared_ptr<SSL_CTX> tls;   // the sink's certificate; null: plain (an unsecured hub)
  std::string server_key_hash;    // the connection string's pin; empty: none
};

// A TLS client context with the certificate and key of a PKCS#12 bundle
// (base64, as UpdatePullReplicationAsSinkOperation sends it).
Result<std::shared_ptr<SSL_CTX>> sink_tls_context(const std::string& pfx_base64, const std::string& password);

// What a connection negotiates once the TCP port answers: the connection
// header's Operation, OperationVersion and AuthorizeInfo (omitted when
// empty), then one JSON hello the other side answers {Status: "Ok"} or
// {Status: "Refused", Message}.
struct TcpNegotiation {
  std::string operation;
  std::int64_t version = 1;
  boost::json::object authorize_info;
  boost::json::object hello;
  std::string what;  // how a refusal names the other side ("pull replication hub 'x'")
};

class HubConnector {
 public:
  // `sink_url`: this node's URL, which the hub shows in its ongoing tasks.
  HubConnector(HubTarget target, std::string sink_database, std::string sink_database_id, std::string sink_url);

  // A connection carrying `direction` (rachis::cluster::kHubToSink or
  // kSinkToHub); Busy naming each node's failure when none could be reached.
  Result<std::unique_ptr<replication::FrameSocket>> connect(std::uint8_t direction);
  // A connection negotiating `negotiation`, with the same failover.
  Result<std::unique_ptr<replication::FrameSocket>> connect(const TcpNegotiation& negotiation);
  // The hub node URL the last connection went to ("" before any).
  std::string last_url() const;

 private:
  // OK unless the target pins a key hash and `presented` has another key.
  Status check_pin(X509* presented, const std::string& where) const;
  Result<std::unique_ptr<replication::FrameSocket>> connect_via(const std::string& url,
                                                                const TcpNegotiation& negotiation);

  const HubTarget target_;
  const std::string sink_database_;
  const std::string sink_database_id_;
  const std::string sink_url_;
  mutable std::mutex mu_;
  bool connected_once_ = false;
  size_t preferred_ = 0;  // index into target_.urls of the node that worked last
};

}  // namespace corvus::server::pull_replication
