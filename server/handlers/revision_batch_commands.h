#pragma once
// The ForceRevisionCreation command of a bulk_docs batch (REST.md §3.1), and
// what a PUT's `ForceRevisionCreationStrategy: "Before"` asks for: a revision
// of a document as it is, whatever the revisions configuration.

#include <optional>
#include <string>
#include <string_view>

#include "server/handlers/batch_commands.h"

namespace corvus::server::handlers {

Result<std::unique_ptr<BatchCommand>> parse_force_revision_command(const CommandView& c, BatchParseContext& context);

// Reads a PUT's optional "ForceRevisionCreationStrategy": true for "Before",
// false when absent, null or "None"; InvalidArgument for anything else.
Result<bool> parse_force_revision_before(const CommandView& c);
// Before a PUT that asked for it: a revision of `id` as stored now.
// InvalidArgument when the document does not exist yet; nothing when
// `expected` does not match, so that the put itself reports the conflict. Returns the expectation the put
// is to use: nullopt once checked here, as adding HasRevisions to a document
// makes a new version of it.
Result<std::optional<std::string>> force_revision_before_put(storage::WriteTransaction& txn, std::string_view id,
                                                             const std::optional<std::string>& expected);

}  // namespace corvus::server::handlers
