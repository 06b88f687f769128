#include "rachis/cluster/cluster_command.h"

#include <boost/json.hpp>

#include "rachis/cluster/command_registry.h"
#include "rachis/cluster/json_fields.h"

namespace corvus::rachis::cluster {
namespace json = boost::json;

std::string encode_command(const ClusterCommand& c) {
  json::object o = c.fields();
  o["Type"] = c.type();
  o["Version"] = c.version();
  return json::serialize(o);
}

DecodedCommand decode_command(std::string_view payload) {
  DecodedCommand out;
  auto o = parse_object(payload);
  if (!o) {
    out.status = Status::Corruption("the command is not a JSON object");
    return out;
  }
  out.type = get_string(*o, "Type");
  const std::uint64_t version = get_u64(*o, "Version");
  const CommandDecoder* decoder = find_command_decoder(out.type);
  if (!decoder) {
    out.status = Status::InvalidArgument("unknown cluster command type '" + out.type +
                                         "' (written by a newer Corvus; upgrade this node)");
    return out;
  }
  if (version > kCommandVersion) {
    out.status = Status::InvalidArgument("cluster command '" + out.type + "' has format version " +
                                         std::to_string(version) + "; this node understands up to " +
                                         std::to_string(kCommandVersion) + " (upgrade this node)");
    return out;
  }
  auto decoded = (*decoder)(*o);
  if (!decoded.ok()) {
    out.status = Status::Corruption("malformed '" + out.type + "' command: " + decoded.status().message());
    return out;
  }
  out.command = std::move(decoded).value();
  return out;
}

}  // namespace corvus::rachis::cluster
