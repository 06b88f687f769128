#include "rachis/cluster/command_registry.h"

#include <map>

#include "rachis/cluster/commands/certificate_commands.h"
#include "rachis/cluster/commands/cluster_transaction_command.h"
#include "rachis/cluster/commands/compare_exchange_commands.h"
#include "rachis/cluster/commands/conflict_solver_commands.h"
#include "rachis/cluster/commands/database_commands.h"
#include "rachis/cluster/commands/external_replication_commands.h"
#include "rachis/cluster/commands/identity_commands.h"
#include "rachis/cluster/commands/node_commands.h"
#include "rachis/cluster/commands/pull_replication_commands.h"
#include "rachis/cluster/commands/revisions_commands.h"
#include "rachis/cluster/commands/subscription_commands.h"
#include "rachis/cluster/commands/value_commands.h"

namespace corvus::rachis::cluster {

namespace {

template <typename C>
std::pair<const std::string_view, CommandDecoder> entry() {
  return {C::kType, &C::decode};
}

const std::map<std::string_view, CommandDecoder>& decoders() {
  static const std::map<std::string_view, CommandDecoder> table{
      entry<BootstrapCommand>(),
      entry<UpdateNodeCommand>(),
      entry<PutValueCommand>(),
      entry<AddDatabaseCommand>(),
      entry<DeleteDatabaseCommand>(),
      entry<SetDatabasesLockCommand>(),
      entry<ConfirmDatabaseDeletionCommand>(),
      entry<AddDatabaseNodeCommand>(),
      entry<UpdateDatabaseTopologyCommand>(),
      entry<CompareExchangeCommand>(),
      entry<IncrementIdentitiesCommand>(),
      entry<ClusterTransactionCommand>(),
      entry<EditRevisionsConfigurationCommand>(),
      entry<ModifyConflictSolverCommand>(),
      entry<PutCertificateCommand>(),
      entry<DeleteCertificateCommand>(),
      entry<PutSubscriptionCommand>(),
      entry<AcknowledgeSubscriptionBatchCommand>(),
      entry<DeleteSubscriptionCommand>(),
      entry<PutPullReplicationHubCommand>(),
      entry<DeletePullReplicationHubCommand>(),
      entry<PutReplicationHubAccessCommand>(),
      entry<DeleteReplicationHubAccessCommand>(),
      entry<PutRavenConnectionStringCommand>(),
      entry<RegisterHubSinkCommand>(),
      entry<PutPullReplicationSinkCommand>(),
      entry<DeletePullReplicationSinkCommand>(),
      entry<SeedIdentityCommand>(),
      entry<PutExternalReplicationCommand>(),
      entry<DeleteExternalReplicationCommand>(),
      entry<ToggleExternalReplicationCommand>(),
      entry<RemoveRavenConnectionStringCommand>(),
  };
  return table;
}

}  // namespace

const CommandDecoder* find_command_decoder(std::string_view type) {
  const auto& table = decoders();
  auto it = table.find(type);
  return it == table.end() ? nullptr : &it->second;
}

}  // namespace corvus::rachis::cluster
