#include "server/handlers/document_patch.h"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include "server/http/error_response.h"
#include "storage/counters_storage.h"

namespace corvus::server::handlers {
namespace {

namespace json = boost::json;

inline constexpr std::string_view kJavaScriptExceptionType =
    "Raven.Client.Exceptions.Documents.Patching.JavaScriptException";

Result<scripting::PatchScript> parse_script(const json::value& v, const std::string& where) {
  if (!v.is_object()) return Status::InvalidArgument(where + " must be an object with \"Script\"");
  const auto& o = v.as_object();
  const auto* script = o.if_contains("Script");
  if (!script || !script->is_string() || script->as_string().empty()) {
    return Status::InvalidArgument(where + " needs a non-empty string \"Script\"");
  }
  scripting::PatchScript out;
  out.script = std::string(script->as_string());
  if (const auto* values = o.if_contains("Values"); values && !values->is_null()) {
    if (!values->is_object()) return Status::InvalidArgument(where + ": \"Values\" must be an object");
    out.values = values->as_object();
  }
  return out;
}

// What the script reads: the database as of each call (the document itself
// was read before the run, with its change vector, which the write checks).
class StorageHost final : public scripting::PatchHost {
 public:
  explicit StorageHost(const storage::DocumentsStorage& storage) : storage_(storage) {}
  Result<std::optional<std::string>> load(std::string_view id) override {
    auto doc = storage_.get(id);
    if (doc.ok()) return std::optional<std::string>(std::move(doc->json));
    if (doc.status().is_not_found()) return std::optional<std::string>();
    return doc.status();
  }
  Result<std::optional<int64_t>> counter(std::string_view document_id, std::string_view name) override {
    auto got = storage::CountersStorage(storage_).get(document_id, {std::string(name)});
    if (!got.ok()) return got.status();
    if (got->empty() || !got->front()) return std::optional<int64_t>();
    auto total = got->front()->value.total();
    if (!total.ok()) return total.status();
    return std::optional<int64_t>(total.value());
  }

 private:
  const storage::DocumentsStorage& storage_;
};

}  // namespace

std::unique_ptr<scripting::PatchHost> storage_patch_host(const storage::DocumentsStorage& storage) {
  return std::make_unique<StorageHost>(storage);
}

const char* patch_status_name(PatchStatus s) {
  switch (s) {
    case PatchStatus::DocumentDoesNotExist: return "DocumentDoesNotExist";
    case PatchStatus::Created: return "Created";
    case PatchStatus::Patched: return "Patched";
    case PatchStatus::Skipped: return "Skipped";
    case PatchStatus::NotModified: return "NotModified";
  }
  return "NotModified";
}

Result<PatchRequest> parse_patch_request(const json::object& o, const std::string& where) {
  PatchRequest out;
  const auto* patch = o.if_contains("Patch");
  if (!patch || patch->is_null()) return Status::InvalidArgument(where + " needs a \"Patch\" object");
  auto p = parse_script(*patch, where + ": \"Patch\"");
  if (!p.ok()) return p.status();
  out.patch = std::move(p).value();
  if (const auto* missing = o.if_contains("PatchIfMissing"); missing && !missing->is_null()) {
    auto m = parse_script(*missing, where + ": \"PatchIfMissing\"");
    if (!m.ok()) return m.status();
    out.patch_if_missing = std::move(m).value();
  }
  if (const auto* create = o.if_contains("CreateIfMissing"); create && !create->is_null()) {
    if (!create->is_object()) return Status::InvalidArgument(where + ": \"CreateIfMissing\" must be an object");
    out.create_if_missing = create->as_object();
  }
  return out;
}

Result<PreparedPatch> prepare_patch(const storage::DocumentsStorage& storage, const std::string& id,
                                    const PatchRequest& request, const std::optional<std::string>& client_change_vector,
                                    bool skip_if_mismatch, const KnownVersion* known) {
  PreparedPatch p;
  p.id = id;
  Result<storage::Document> loaded = Status::NotFound(id);
  if (known) {
    if (known->document) loaded = *known->document;
    p.unchecked = known->in_batch;
  } else {
    loaded = storage.get(id);
  }
  if (!loaded.ok() && !loaded.status().is_not_found()) return loaded.status();
  const bool exists = loaded.ok();
  if (exists && !p.unchecked && client_change_vector && !client_change_vector->empty() &&
      loaded->change_vector != *client_change_vector) {
    if (skip_if_mismatch) {
      p.status = PatchStatus::Skipped;
      return p;
    }
    return Status::ConcurrencyConflict("Could not patch document '" + id + "': optimistic concurrency violation, "
                                       "transaction will be aborted (expected change vector " +
                                       *client_change_vector + ", the document has " + loaded->change_vector + ")");
  }
  if (!exists) {
    if (request.create_if_missing) {
      p.status = PatchStatus::Created;
      p.document = *request.create_if_missing;
      return p;
    }
    if (!request.patch_if_missing) {
      p.status = PatchStatus::DocumentDoesNotExist;
      return p;
    }
    json::object blank;
    blank["@metadata"] = json::object{{"@id", id}};
    StorageHost host(storage);
    auto run = scripting::run_patch(*request.patch_if_missing, json::serialize(blank), host);
    if (!run.ok()) return run.status();
    p.run = std::move(run).value();
    p.status = PatchStatus::Created;
    p.document = std::move(p.run.document);
    return p;
  }
  p.loaded_change_vector = loaded->change_vector;
  p.original_json = std::move(loaded->json);
  StorageHost host(storage);
  auto run = scripting::run_patch(request.patch, p.original_json, host);
  if (!run.ok()) return run.status();
  p.run = std::move(run).value();
  json::value original = p.original_json.empty() ? json::value() : json::parse(p.original_json);
  if (original.is_object() && original.as_object() == p.run.document) {
    p.status = PatchStatus::NotModified;
  } else {
    p.status = PatchStatus::Patched;
    p.document = std::move(p.run.document);
  }
  return p;
}

Result<AppliedPatch> apply_prepared_patch(storage::WriteTransaction& txn, PreparedPatch& p) {
  AppliedPatch out;
  if (p.status == PatchStatus::DocumentDoesNotExist || p.status == PatchStatus::Skipped) return out;
  if (p.document) {
    // "" (it was missing) must still be missing; otherwise it must be the version the script saw.
    auto put = txn.put(p.id, *p.document,
                       p.unchecked ? std::nullopt : std::optional<std::string>(p.loaded_change_vector));
    if (!put.ok()) {
      if (put.status().is_concurrency_conflict()) {
        auto now = txn.get(p.id);
        if (!now.ok()) return now.status();
        p.raced = true;
        p.latest = std::move(now).value();
      }
      return put.status();
    }
  } else if (!p.unchecked) {
    // NotModified: nothing to write for the document, but the script's other
    // writes were decided on this version of it.
    auto now = txn.get(p.id);
    if (!now.ok()) return now.status();
    if (!*now || (*now)->change_vector != p.loaded_change_vector) {
      p.raced = true;
      p.latest = std::move(now).value();
      return Status::ConcurrencyConflict("Document '" + p.id + "' changed while its patch ran");
    }
  }
  for (const auto& w : p.run.writes) {
    if (w.kind == scripting::ScriptWrite::Kind::Put) {
      auto r = txn.put(w.id, w.document, std::nullopt);
      if (!r.ok()) return r.status();
    } else {
      auto r = txn.remove(w.id, std::nullopt);
      if (!r.ok()) return r.status();
    }
  }
  for (const auto& inc : p.run.counter_increments) {
    storage::DocumentCounters counters(txn, inc.document_id);
    auto r = counters.increment(inc.name, inc.delta);
    if (!r.ok()) return r.status();
    auto finished = counters.finish();
    if (!finished.ok()) return finished.status();
  }
  auto now = txn.get(p.id);
  if (!now.ok()) return now.status();
  out.document = std::move(now).value();
  return out;
}

http::Response patch_error_response(const Status& s, std::string_view url) {
  if (s.code() == StatusCode::InvalidArgument) return http::error_response(400, kJavaScriptExceptionType, s.message(), url);
  return http::error_response(s, url);
}

void append_document(std::string& out, const std::optional<storage::Document>& doc) {
  if (doc) {
    out += doc->json;
  } else {
    out += "null";
  }
}

}  // namespace corvus::server::handlers
