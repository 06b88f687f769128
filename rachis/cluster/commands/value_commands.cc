#include "rachis/cluster/commands/value_commands.h"

#include "rachis/cluster/json_fields.h"

namespace corvus::rachis::cluster {

Result<std::unique_ptr<ClusterCommand>> PutValueCommand::decode(const boost::json::object& o) {
  auto c = std::make_unique<PutValueCommand>();
  c->key = get_string(o, "Key");
  c->value = get_string(o, "Value");
  if (c->key.empty()) return Status::InvalidArgument("PutValue without a Key");
  return std::unique_ptr<ClusterCommand>(std::move(c));
}

}  // namespace corvus::rachis::cluster
