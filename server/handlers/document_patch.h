#pragma once
// A patch of one document (REST.md 3.1 PATCH; RavenDB's PatchDocumentCommand),
// shared by PATCH /docs, the bulk_docs PATCH command and patch by query.
//
// Two steps, so that the merger's writer thread never runs a script:
// prepare_patch() loads the document and runs the script on the calling
// thread (scripting::run_patch); apply_prepared_patch() then writes what the
// script asked for inside a transaction, with the change vector the document
// had when it was loaded. If the document changed in between, the apply fails
// with ConcurrencyConflict and marks the patch `raced`: the caller prepares it
// again (bounded). Plain data and stateless functions; thread-safe.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include "server/http/response.h"
#include "server/scripting/patch_script.h"
#include "storage/documents_storage.h"
#include "storage/status.h"
#include "storage/write_transaction.h"

namespace corvus::server::handlers {

// {Patch: {Script, Values}, PatchIfMissing?, CreateIfMissing?} as sent.
struct PatchRequest {
  scripting::PatchScript patch;
  std::optional<scripting::PatchScript> patch_if_missing;
  std::optional<boost::json::object> create_if_missing;  // the bulk_docs PATCH command's document
};

// Reads the fields of `o` (a PATCH body or a bulk_docs PATCH command);
// InvalidArgument prefixed with `where` when Patch or its Script is missing or
// a field has the wrong type.
Result<PatchRequest> parse_patch_request(const boost::json::object& o, const std::string& where);

// RavenDB's PatchStatus names.
enum class PatchStatus { DocumentDoesNotExist, Created, Patched, Skipped, NotModified };
const char* patch_status_name(PatchStatus s);

struct PreparedPatch {
  std::string id;
  PatchStatus status = PatchStatus::NotModified;
  // The change vector the document had when the script ran ("" = it was missing).
  std::string loaded_change_vector;
  // The document to store; nullopt when the patch does not change it.
  std::optional<boost::json::object> document;
  std::string original_json;  // the document as loaded ("" when missing)
  // Based on an earlier write of the same batch: written without a change vector check.
  bool unchecked = false;
  scripting::PatchRun run;    // the script's own writes, counters and output
  // Set by apply_prepared_patch when the document had changed since prepare,
  // with the version the transaction saw (nullopt: deleted): the next attempt
  // runs on it rather than on a read of the database, which may not show the
  // write that won yet (it becomes readable once durable).
  bool raced = false;
  std::optional<storage::Document> latest;
};

// A version to patch instead of reading the database: a raced attempt's
// `latest`, or what an earlier command of the same batch writes (`in_batch`:
// no change vector to check, the transaction itself writes it just before).
struct KnownVersion {
  std::optional<storage::Document> document;  // nullopt: the document does not exist
  bool in_batch = false;
};

// Loads `id` and runs the script (never on the writer thread).
// `client_change_vector` (If-Match / the command's ChangeVector): when the
// document's differs, Skipped with `skip_if_mismatch`, else ConcurrencyConflict.
// A script failure is InvalidArgument (see is_script_failure).
// `known`: the version to patch (after a race) instead of reading it.
Result<PreparedPatch> prepare_patch(const storage::DocumentsStorage& storage, const std::string& id,
                                    const PatchRequest& request, const std::optional<std::string>& client_change_vector,
                                    bool skip_if_mismatch, const KnownVersion* known = nullptr);

// The written document, when there was one to write.
struct AppliedPatch {
  std::optional<storage::Document> document;  // the patched document after every write of the patch
};

// Writes `p` in `txn`: the document (expecting loaded_change_vector), then the
// script's put/del in order, then its counter increments. ConcurrencyConflict
// with `p.raced` set when the document changed since prepare_patch.
Result<AppliedPatch> apply_prepared_patch(storage::WriteTransaction& txn, PreparedPatch& p);

// 400 JavaScriptException for a script's failure (InvalidArgument), the usual
// mapping for anything else.
http::Response patch_error_response(const Status& s, std::string_view url);

// What a script reads (load, counter): the database as of each call.
std::unique_ptr<scripting::PatchHost> storage_patch_host(const storage::DocumentsStorage& storage);

// Appends the stored document as JSON, or the object, or null.
void append_document(std::string& out, const std::optional<storage::Document>& doc);

// How many times a patch runs before the request fails with 409, when its
// document keeps changing under it. Each round of patches racing on one
// document lets at least one through (the next attempt runs on the version
// that won), so N patches of one document at once all finish within N
// attempts: this bounds the contention served, not the work per patch.
inline constexpr int kMaxPatchAttempts = 64;

}  // namespace corvus::server::handlers
