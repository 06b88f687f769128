#pragma once
// The TCP connection header exchange of RavenDB's TCP protocol (what the
// clients' TcpNegotiation does from their side): the client sends
// {"DatabaseName","Operation","SourceNodeTag","OperationVersion",...}; the
// server answers {"Status":"Ok","Version":v} when it speaks v for that
// operation, else {"Status":"TcpVersionMismatch","Version":w} with the newest
// version it has below v (the client retries with w when it has it too), or
// w = -1 when it has none (the client gives up). Pure functions, any thread.

#include <cstdint>
#include <string>
#include <vector>

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include "storage/status.h"

namespace corvus::server::tcp {

struct TcpConnectionHeader {
  std::string database;
  std::string operation;  // "Subscription", "Drop", ...
  std::string source_node_tag;
  std::int64_t version = 0;
  // AuthorizeInfo {AuthorizeAs, AuthorizationFor}: a pull replication sink
  // names the hub it comes for ("PullReplication", hub name).
  std::string authorize_as;
  std::string authorization_for;
};

// InvalidArgument when `v` is not an object with a string Operation and a
// numeric OperationVersion.
Result<TcpConnectionHeader> parse_connection_header(const boost::json::value& v);

// What the server answers to one header.
struct NegotiationReply {
  bool agreed = false;     // Status Ok: the operation starts at `version`
  std::int64_t version = 0;  // agreed, or proposed (-1: out of range, give up)
  std::string message;     // why not, for the client's error
  boost::json::object to_json() const;
};

// `supported`: the versions the server speaks for the operation, any order.
// Empty `supported` (an operation the server does not serve) is out of range.
NegotiationReply negotiate(const std::vector<std::int64_t>& supported, const TcpConnectionHeader& header);

}  // namespace corvus::server::tcp
