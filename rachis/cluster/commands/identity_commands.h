#pragma once
// IncrementIdentities: hands out the next values of identities ("users|" ids)
// from the cluster, so two nodes never give out the same number.
// Result: {"<prefix>": <last value handed out>, ...}; a prefix asked for n
// values owns (result - n, result].

#include <map>

#include "rachis/cluster/cluster_command.h"

namespace corvus::rachis::cluster {

struct IncrementIdentitiesCommand final : ClusterCommand {
  static constexpr std::string_view kType = "IncrementIdentities";
  std::string database;
  std::map<std::string, std::uint64_t> counts;  // prefix (without '|') -> how many

  std::string_view type() const override { return kType; }
  std::uint32_t version() const override { return 2; }
  boost::json::object fields() const override;
  CommandResult apply(ApplyContext& ctx) const override;
  static Result<std::unique_ptr<ClusterCommand>> decode(const boost::json::object& o);
};

}  // namespace corvus::rachis::cluster
