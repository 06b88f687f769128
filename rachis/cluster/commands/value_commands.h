#pragma once
// PutValue: the smallest replicated command, a key/value pair outside any
// database. Tests and the Rachis bench use it to measure the log itself.

#include "rachis/cluster/cluster_command.h"

namespace corvus::rachis::cluster {

struct PutValueCommand final : ClusterCommand {
  static constexpr std::string_view kType = "PutValue";
  std::string key;
  std::string value;

  static PutValueCommand make(std::string k, std::string v) {
    PutValueCommand c;
    c.key = std::move(k);
    c.value = std::move(v);
    return c;
  }

  std::string_view type() const override { return kType; }
  std::uint32_t version() const override { return 1; }
  boost::json::object fields() const override { return {{"Key", key}, {"Value", value}}; }
  CommandResult apply(ApplyContext& ctx) const override {
    ctx.batch.put_value(key, value);
    return {};
  }
  static Result<std::unique_ptr<ClusterCommand>> decode(const boost::json::object& o);
};

}  // namespace corvus::rachis::cluster
