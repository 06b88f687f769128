#pragma once
// Scripted scenarios for the Rachis simulator: tests/sim/scenarios/*.txt hold one
// command per line, each followed by its expected transcript lines ("> ..."). The
// runner replays the commands on a deterministic Cluster (no drops, delay 1, fixed
// election timeouts), regenerates the transcript and compares; --rewrite stores
// the new transcript instead, to be reviewed like code.
//
// Commands:
//   cluster N [pre-vote=0|1] [check-quorum=0|1] [max-entries=K] [inflight=K]
//             [snapshot-threshold=K]           founding voters 1..N (must be first)
//   timeouts ID=OFF ...       election timeout of node ID = election_tick + OFF
//   tick [N]                  N time units: deliver due messages, tick live nodes
//   deliver [N]               N time units without ticking (messages only)
//   partition A B | C D ...   cut the network into groups; heal: undo
//   crash ID | restart ID | freeze ID | unfreeze ID | drop ID (its messages in flight)
//   campaign ID               start an election now
//   propose ID K=V            raw put through the node (must be leader)
//   put ID K V | cas ID K EXPECTED NEW | get ID K      client operations
//   add-learner LEADER ID | promote LEADER ID | remove LEADER ID
//   transfer LEADER ID | compact ID
//   status | log ID
//   expect-leader ID | expect-commit ID INDEX | expect-applied ID INDEX
// Every command also checks the invariants; a violation fails the scenario.

#include <string>

namespace corvus::rachis::sim {

// Returns the process exit code: 0 when every scenario matched.
int run_scenarios(const std::string& dir, bool rewrite, const std::string& only, bool verbose);

}  // namespace corvus::rachis::sim
