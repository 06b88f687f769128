#pragma once
// IncrementIdentities: hands out the next values of identities ("users|" ids)
// from the cluster, so two nodes never give out the same number.
// Result: {"<prefix>": <last value handed out>, ...}; a prefix asked for n
// values owns (result - n, result].
// SeedIdentity: raises an identity to a value (never lowers it unless forced,
// as RavenDB's SeedIdentityFor). Result: {"<prefix>": <its value now>}.

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

struct SeedIdentityCommand final : ClusterCommand {
  static constexpr std::string_view kType = "SeedIdentity";
  std::string database;
  std::string prefix;  // without '|'
  std::uint64_t value = 0;
  bool force = false;  // also lower it

  std::string_view type() const override { return kType; }
  std::uint32_t version() const override { return 8; }
  boost::json::object fields() const override;
  CommandResult apply(ApplyContext& ctx) const override;
  static Result<std::unique_ptr<ClusterCommand>> decode(const boost::json::object& o);
};

}  // namespace corvus::rachis::cluster
