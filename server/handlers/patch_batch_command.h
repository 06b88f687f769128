#pragma once
// The PATCH command of a bulk_docs batch (RavenDB's PatchCommandData:
// {Id, ChangeVector?, Patch, PatchIfMissing?, CreateIfMissing?, ReturnDocument?}),
// what session.advanced.patch/increment/add/addOrPatch/addOrIncrement send.
// The script runs in prepare() (document_patch.h), before the batch is
// submitted; apply() writes its result in the batch's transaction. A failing
// script fails the whole batch.

#include "server/handlers/batch_commands.h"

namespace corvus::server::handlers {

Result<std::unique_ptr<BatchCommand>> parse_patch_command(const CommandView& c, BatchParseContext& context);
// BatchPATCH: {Ids: [{Id, ChangeVector?}], Patch, PatchIfMissing?}, the same script over each.
Result<std::unique_ptr<BatchCommand>> parse_batch_patch_command(const CommandView& c, BatchParseContext& context);

}  // namespace corvus::server::handlers
