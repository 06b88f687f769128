#pragma once
// ConflictScriptResolver: runs the conflict solver's per-collection scripts
// (RavenDB's ResolveByCollection) over the documents in conflict of one
// database. A database with any script keeps its conflicts (storage's
// KeepConflict, see rachis/cluster/conflict_solver_config.h); after each
// commit that may have brought one, a pass on a script thread
// (scripting::post_script_work, never the merger's writer) gives each
// conflicted document of a scripted collection to its script as `docs` and
// writes what it returns (null/nothing: a delete) in a transaction that first
// checks the versions are still the ones the script saw. Writing resolves the
// conflict; storage keeps every version as a revision, so none is lost. A
// script that fails leaves the conflict in place, visible, and is not run
// again on the same versions.
//
// Owned by its DocumentDatabase, which stops it before closing the storage.
// Thread-safe: set_config from the cluster's observer, passes on script
// threads, the commit listener on the writing thread.

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "rachis/cluster/conflict_solver_config.h"
#include "storage/documents_storage.h"

namespace corvus::server {

class ConflictScriptResolver : public std::enable_shared_from_this<ConflictScriptResolver> {
 public:
  static std::shared_ptr<ConflictScriptResolver> start(storage::DocumentsStorage& storage);
  // The record's solver; a pass follows when it has scripts.
  void set_config(std::shared_ptr<const rachis::cluster::ConflictSolverConfig> config);
  // After it returns no pass runs and none is running.
  void stop();

  explicit ConflictScriptResolver(storage::DocumentsStorage& storage) : storage_(storage) {}

 private:
  void schedule();
  void pass();

  storage::DocumentsStorage& storage_;
  std::mutex mu_;  // held by a pass; stop() takes it
  bool stopped_ = false;
  std::atomic<bool> stopping_{false};  // a pass under way ends at its next document
  uint64_t listener_id_ = 0;
  std::atomic<bool> scheduled_{false};
  std::atomic<std::shared_ptr<const rachis::cluster::ConflictSolverConfig>> config_;
  // Lowered id -> the change vectors of the versions its script failed on.
  std::map<std::string, std::string> failed_;
};

}  // namespace corvus::server
