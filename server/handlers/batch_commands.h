#pragma once
// The commands of a bulk_docs batch (REST.md §3.1). Each command type has a
// parser that validates it completely before anything is written (bad input
// changes nothing) and a BatchCommand that applies it inside the batch's one
// transaction and renders its result entry. The table of types lives in
// batch_commands.cc; each type's code lives with its feature.

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include "storage/blob_store.h"
#include "storage/documents_storage.h"
#include "storage/status.h"
#include "storage/write_transaction.h"
#include <vector>

namespace corvus::server::handlers {

// Command number n of a batch: an object with a string "Type".
struct CommandView {
  std::string where;  // "Command #n", for messages
  const boost::json::object* o = nullptr;
  std::string type;
  // Set when the caller gives the command up (a bulk insert's, parsed once):
  // a parser may move its parts out instead of copying them.
  boost::json::object* take = nullptr;
  // Nobody reads the result entries (a bulk insert answers with nothing): a
  // command may leave them out.
  bool results_unread = false;
};
Result<CommandView> command_at(const boost::json::value& c, size_t index);

// What the parsers of one batch share (e.g. the attachment streams of a
// multipart batch, taken in command order).
struct BatchParseContext {
  // Stored bytes of a multipart batch's attachment parts, in order; each
  // AttachmentPUT takes the next (its pin keeps the blob until the commit).
  std::vector<storage::BlobStore::Upload::Stored> attachment_streams;
  size_t next_attachment_stream = 0;
};

// What the commands before this one in the batch will have written, for the
// PATCH commands (their script must see the batch's own earlier writes): by
// lowered id, the document (nullopt: deleted). Kept only when the batch has a
// PATCH command (`track`), so plain batches copy nothing.
struct BatchPrepareContext {
  bool track = false;
  std::map<std::string, std::optional<boost::json::object>> pending;
};

class BatchCommand {
 public:
  virtual ~BatchCommand() = default;
  // The id to resolve through the cluster before the batch runs, when it
  // asks for an identity ("users|"); nullptr for commands that take none.
  virtual std::string* identity_id() { return nullptr; }
  // Runs before the batch is submitted, on the request's thread (never the
  // merger's writer thread): what must not run inside the transaction, such
  // as a PATCH command's script. Its failure fails the batch.
  virtual Status prepare(const storage::DocumentsStorage&, BatchPrepareContext&) { return Status::Ok(); }
  // True for the commands that read what earlier commands of the batch write
  // (PATCH): then prepare() keeps track of it for them.
  virtual bool reads_batch_writes() const { return false; }
  // Applies the command and appends its result entry (a JSON object) to `out`.
  virtual Status apply(storage::WriteTransaction& txn, std::string& out) = 0;
  // True when apply() failed because a document changed after prepare():
  // the batch may be prepared and submitted again.
  virtual bool raced() const { return false; }
};

using BatchCommandParser = Result<std::unique_ptr<BatchCommand>> (*)(const CommandView&, BatchParseContext&);

// The parser for `type`; nullptr when this server does not support it.
BatchCommandParser batch_command_parser(std::string_view type);
// "PUT, DELETE, ..." for the message naming an unsupported type.
std::string supported_batch_commands();

// The shared field readers of the command parsers; InvalidArgument names the command.
Result<std::string> required_string(const CommandView& c, const char* field);
// "ChangeVector": absent or null -> nullopt, else a valid change vector ("" = must be new).
Result<std::optional<std::string>> optional_change_vector(const CommandView& c, const char* field = "ChangeVector");

}  // namespace corvus::server::handlers
