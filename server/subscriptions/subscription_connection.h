#pragma once
// SubscriptionConnection: one data subscription worker on the TCP port, after
// the header negotiation (RavenDB's SubscriptionConnection). It reads the
// worker's options ({"SubscriptionName","Strategy","MaxDocsPerBatch",...}),
// answers a ConnectionStatus (Accepted, or NotFound / InUse / Closed with a
// message; an Error for a database that is not here), then loops: the next
// documents after the acknowledged position that match the subscription's
// query, in etag order, as {"Type":"Data"} messages (+ "Includes") and
// {"Type":"EndOfBatch"}; it waits for {"Type":"Acknowledge"}, records the new
// position through Rachis (AcknowledgeSubscriptionBatch, with the batch's
// delivered (id, change vector) pairs when the group has more than one node:
// what another member taking over skips, delivered_versions.h), and answers
// {"Type":"Confirm"}. A batch that is not acknowledged is sent again by the
// next connection: delivery is at least once, and a kill -9 between the
// Raft commit and the Confirm redelivers one batch at most. Idle, it waits
// for the storage's commit hook and sends whitespace heartbeats each second
// (which is also how a vanished worker is noticed).
//
// SubscriptionTcpHandler is the TcpOperationHandler for "Subscription"; each
// connection runs on its listener thread. Owned by main() (the handler) and
// that thread (the connection).

#include <cstdint>
#include <memory>
#include <vector>

#include "server/tcp/tcp_listener.h"

namespace corvus::server {
class ServerStore;
}

namespace corvus::server::subscriptions {

// The Subscription versions the clients offer (RavenDB's TcpConnectionHeaderMessage):
// 40 base line, 41400 includes, 50000 counter includes, 51000 time series
// includes, 53000 TCP compression (answered with DataCompression false, so
// the client sends and expects plain JSON).
inline constexpr std::int64_t kSubscriptionBaseLine = 40;
inline constexpr std::int64_t kSubscriptionIncludes = 41'400;
inline constexpr std::int64_t kSubscriptionCounterIncludes = 50'000;
inline constexpr std::int64_t kSubscriptionTimeSeriesIncludes = 51'000;
inline constexpr std::int64_t kTcpConnectionsWithCompression = 53'000;

class SubscriptionTcpHandler final : public tcp::TcpOperationHandler {
 public:
  explicit SubscriptionTcpHandler(ServerStore& store) : store_(store) {}
  std::vector<std::int64_t> versions() const override;
  void serve(std::shared_ptr<tcp::TcpJsonStream> stream, const tcp::TcpConnectionHeader& header) override;

 private:
  ServerStore& store_;
};

}  // namespace corvus::server::subscriptions
