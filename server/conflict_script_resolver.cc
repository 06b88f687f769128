#include "server/conflict_script_resolver.h"

#include <boost/json/parse.hpp>

#include "server/handlers/document_conflicts.h"
#include "server/handlers/document_patch.h"
#include "server/logging/logger.h"
#include "server/scripting/patch_script.h"
#include "server/scripting/script_limits.h"
#include "storage/conflicts_storage.h"

namespace corvus::server {
namespace {

namespace json = boost::json;

// Documents looked at per pass; a pass that resolves some commits, which
// schedules the next.
constexpr uint64_t kDocumentsPerPass = 1024;

std::string versions_key(const std::vector<storage::Document>& versions) {
  std::string key;
  for (const auto& v : versions) {
    key += v.change_vector;
    key += '\n';
  }
  return key;
}

}  // namespace

std::shared_ptr<ConflictScriptResolver> ConflictScriptResolver::start(storage::DocumentsStorage& storage) {
  auto self = std::make_shared<ConflictScriptResolver>(storage);
  self->listener_id_ = storage.add_commit_listener(
      [weak = std::weak_ptr<ConflictScriptResolver>(self)](uint64_t) {
        if (auto s = weak.lock()) s->schedule();
      });
  return self;
}

void ConflictScriptResolver::set_config(std::shared_ptr<const rachis::cluster::ConflictSolverConfig> config) {
  config_.store(std::move(config));
  schedule();
}

void ConflictScriptResolver::stop() {
  stopping_.store(true);
  storage_.remove_commit_listener(listener_id_);
  std::lock_guard lock(mu_);
  stopped_ = true;
}

void ConflictScriptResolver::schedule() {
  auto config = config_.load();
  if (!config || !config->has_scripts()) return;
  if (scheduled_.exchange(true)) return;
  bool posted = scripting::post_script_work([weak = weak_from_this()] {
    if (auto self = weak.lock()) self->pass();
  });
  if (!posted) scheduled_.store(false);  // the next commit tries again
}

void ConflictScriptResolver::pass() {
  std::lock_guard lock(mu_);
  scheduled_.store(false);  // commits from now on schedule the next pass
  if (stopped_) return;
  auto config = config_.load();
  if (!config || !config->has_scripts()) return;
  auto any = handlers::any_conflicts(storage_);
  if (!any.ok() || !any.value()) return;
  auto listed = handlers::list_conflicted_documents(storage_, 0, 0, kDocumentsPerPass);
  if (!listed.ok()) {
    log::warn("conflict scripts: cannot list the conflicts").kv("error", listed.status().to_string());
    return;
  }
  for (const auto& conflicted : listed->page) {
    if (stopping_.load()) return;
    const std::string lowered = storage::lower_id(conflicted.id);
    auto versions = storage::ConflictsStorage::get_for(storage_, conflicted.id);
    if (!versions.ok() || versions->empty()) continue;
    std::string collection;
    for (const auto& v : *versions) {
      if (!v.collection.empty()) collection = v.collection;
    }
    auto it = config->resolve_by_collection.find(storage::lower_id(collection));
    if (it == config->resolve_by_collection.end()) continue;
    const std::string& script = it->second.second.script;
    if (script.find_first_not_of(" \t\r\n") == std::string::npos) continue;
    const std::string key = versions_key(*versions);
    if (auto f = failed_.find(lowered); f != failed_.end() && f->second == key) continue;

    std::vector<std::string> docs;
    for (const auto& v : *versions) docs.push_back(v.json);
    auto host = handlers::storage_patch_host(storage_);
    auto resolved = scripting::run_conflict_resolver(script, docs, *host);
    if (!resolved.ok()) {
      failed_[lowered] = key;
      log::warn("conflict script failed; the conflict stays")
          .kv("id", conflicted.id)
          .kv("collection", collection)
          .kv("error", resolved.status().to_string());
      continue;
    }
    std::optional<json::object> document = std::move(resolved).value();
    if (document) {
      // The resolved version stays in the conflicting versions' collection
      // unless the script says otherwise.
      auto& meta = (*document)["@metadata"];
      if (!meta.is_object()) meta = json::object();
      if (!meta.as_object().contains("@collection") && !collection.empty()) meta.as_object()["@collection"] = collection;
    }
    Status s = storage_.write([&](storage::WriteTransaction& txn) -> Status {
      auto now = storage::ConflictsStorage::in_transaction(txn, conflicted.id);
      if (!now.ok()) return now.status();
      if (versions_key(*now) != key) return Status::ConcurrencyConflict("the conflict changed while its script ran");
      if (document) return txn.put(conflicted.id, *document, std::nullopt).status();
      return txn.remove(conflicted.id, std::nullopt).status();
    });
    if (s.ok()) {
      failed_.erase(lowered);
    } else if (!s.is_concurrency_conflict()) {  // a changed conflict: the commit that changed it schedules a pass
      log::warn("conflict script: cannot write the resolution").kv("id", conflicted.id).kv("error", s.to_string());
    }
  }
}

}  // namespace corvus::server
