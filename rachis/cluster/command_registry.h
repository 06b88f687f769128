#pragma once
// The table of every cluster command type this build can decode. A type
// missing here is "unknown": the node stops applying rather than skip it.

#include <functional>
#include <memory>
#include <string_view>

#include <boost/json/object.hpp>

#include "rachis/cluster/cluster_command.h"
#include "storage/status.h"

namespace corvus::rachis::cluster {

using CommandDecoder = std::function<Result<std::unique_ptr<ClusterCommand>>(const boost::json::object&)>;

// nullptr when `type` is not a command of this build.
const CommandDecoder* find_command_decoder(std::string_view type);

}  // namespace corvus::rachis::cluster
