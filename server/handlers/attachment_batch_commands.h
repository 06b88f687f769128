#pragma once
// The attachment commands of a bulk_docs batch: AttachmentPUT (its bytes come
// from the batch's multipart streams, in command order), AttachmentDELETE,
// AttachmentCOPY and AttachmentMOVE (REST.md §3.1, §3.2). Stateless functions;
// the commands they build are used by one batch on the merger's thread.

#include <string>

#include "server/handlers/batch_commands.h"
#include "storage/attachments_storage.h"

namespace corvus::server::handlers {

Result<std::unique_ptr<BatchCommand>> parse_attachment_put_command(const CommandView& c, BatchParseContext& context);
Result<std::unique_ptr<BatchCommand>> parse_attachment_delete_command(const CommandView& c, BatchParseContext& context);
Result<std::unique_ptr<BatchCommand>> parse_attachment_copy_command(const CommandView& c, BatchParseContext& context);
Result<std::unique_ptr<BatchCommand>> parse_attachment_move_command(const CommandView& c, BatchParseContext& context);

// {"Name","DocumentId","ContentType","Hash","Size","ChangeVector"}: the answer
// to PUT /attachments (AttachmentDetails in the clients).
std::string attachment_details_json(const storage::AttachmentInfo& a);

}  // namespace corvus::server::handlers
