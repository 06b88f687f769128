#pragma once
// The delivered-versions rule of a subscription takeover (README "Takeover
// from the last acknowledged batch"): acknowledgements record, through
// Rachis, which version of which document each batch delivered
// (AcknowledgeSubscriptionBatch `Delivered`); a member serving from another
// member's position skips a document whose version here is covered by the
// version recorded for its id, and delivers everything else. Pure functions
// of their arguments; any thread.

#include <string_view>

#include "rachis/cluster/database_record.h"
#include "rachis/cluster/topology.h"

namespace corvus::server::subscriptions {

// True when acknowledgements should carry the delivered pairs: the database
// group has more than one node (a single node cannot be taken over from, so
// its Raft entries stay as small as before) and every node of the cluster
// applies the command version that carries them (else the leader would refuse
// the acknowledgement). A node added to the group later starts with what was
// recorded from then on: documents delivered before it may come again
// (duplicates, never a skip).
bool records_delivered(const rachis::cluster::DatabaseRecord& database, const rachis::cluster::Topology& topology);

// True when the version `current` of a document (its change vector here) is
// covered by (older than or equal to) `delivered`, the version recorded as
// delivered for its id: that version, or a newer one containing it, reached
// the workers. A newer or concurrent version is not covered. Anything that
// does not parse is not covered (delivering again is safe; skipping is not).
bool delivered_covers(std::string_view delivered, std::string_view current);

}  // namespace corvus::server::subscriptions
