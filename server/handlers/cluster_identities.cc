#include "server/handlers/cluster_identities.h"

#include <map>

#include "rachis/cluster/commands/identity_commands.h"
#include "server/server_store.h"
#include "storage/document.h"

namespace corvus::server::handlers {

void resolve_cluster_identities(ServerStore& store, const std::string& database, std::vector<std::string*> ids,
                                std::function<void(Status)> then) {
  rachis::cluster::IncrementIdentitiesCommand inc;
  inc.database = database;
  std::vector<std::string*> wanted;
  for (std::string* id : ids) {
    if (id->empty() || id->back() != '|') continue;
    ++inc.counts[storage::lower_id(std::string_view(*id).substr(0, id->size() - 1))];
    wanted.push_back(id);
  }
  if (wanted.empty()) return then(Status::Ok());
  store.cluster().execute(inc, [wanted, counts = inc.counts, then](rachis::cluster::CommandResult r,
                                                                   rachis::core::Index) {
    if (!r.status.ok()) return then(r.status);
    // A prefix asked for n numbers owns (last - n, last]; hand them out in order.
    std::map<std::string, std::uint64_t> next;
    for (const auto& [prefix, n] : counts) {
      next[prefix] = r.value.as_object().at(prefix).to_number<std::uint64_t>() - n + 1;
    }
    for (std::string* id : wanted) {
      const std::string prefix = id->substr(0, id->size() - 1);
      *id = prefix + "/" + std::to_string(next[storage::lower_id(prefix)]++);
    }
    then(Status::Ok());
  });
}

}  // namespace corvus::server::handlers
