#pragma once
// The external replication tasks a database record holds (RavenDB's
// ExternalReplication, the record's "ExternalReplications"): this database
// pushes everything it has, one way, to a database of another cluster named
// by one of its Raven connection strings. Validation of a request body lives
// here so the handler and the command decoder agree.
//
// Plain values; the cluster state owns the durable copies inside the record.

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include "storage/status.h"

namespace corvus::rachis::cluster {

// A .NET TimeSpan as JSON carries it ("[-][d.]hh:mm:ss[.fffffff]"); nullopt
// when malformed or negative.
std::optional<std::chrono::milliseconds> parse_time_span(std::string_view s);

struct ExternalReplicationDefinition {
  std::string name;
  std::uint64_t task_id = 0;  // the Raft index that created it; 0 in a request: a new one
  std::string connection_string_name;
  std::string mentor_node;
  bool pin_to_mentor_node = false;
  std::string delay_replication_for;  // TimeSpan text as given ("" = no delay)
  std::chrono::milliseconds delay{0};  // parsed from it
  bool disabled = false;

  boost::json::object to_json() const;
  // InvalidArgument naming the field: no ConnectionStringName, a
  // DelayReplicationFor that is not a TimeSpan, a field of the wrong type.
  // A missing Name becomes "External replication to <connection string>".
  static Result<ExternalReplicationDefinition> from_json(const boost::json::value& v);
};

// The member of the database group that runs task `d`: its MentorNode while
// that is a member, else the member that ranks first for this task id
// (rendezvous hashing: FNV-1a of tag and task id). The choice moves only when
// the chosen node leaves the members (the supervisor moves a node that stops
// answering to rehab), so every member agrees and one runs it. "" when the
// group has no member, or PinToMentorNode holds it to a mentor that is not one.
std::string external_replication_responsible_node(const std::vector<std::string>& members,
                                                  const ExternalReplicationDefinition& d);

}  // namespace corvus::rachis::cluster
