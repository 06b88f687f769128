#pragma once
// The PUT and DELETE commands of a bulk_docs batch.

#include "server/handlers/batch_commands.h"

namespace corvus::server::handlers {

Result<std::unique_ptr<BatchCommand>> parse_put_command(const CommandView& c, BatchParseContext& context);
Result<std::unique_ptr<BatchCommand>> parse_delete_command(const CommandView& c, BatchParseContext& context);

}  // namespace corvus::server::handlers
