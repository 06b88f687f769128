#pragma once
// run_patch: runs one RavenDB patch script against one document, on the
// calling thread's ScriptContext (never the merger's writer thread), and
// returns what it wants written: the new `this`, the documents it put or
// deleted and the counters it incremented. Nothing is written here: the
// caller submits that to the transaction merger with the change vector the
// document had, and runs the script again if the document changed meanwhile.
//
// The script API (RavenDB's): `this` (the document, @metadata included),
// `args` (the patch's Values), id(doc), load(id), put(id, doc), del(id),
// getMetadata(doc), incrementCounter(docOrId, name[, delta]),
// counter(docOrId, name), output(value). Reads go through a PatchHost (the
// database as of now, under the script's own pending writes).
//
// Thread-safety: any thread; each thread uses its own engine context.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json/object.hpp>

#include "storage/status.h"

namespace corvus::scripting {

// What a script may read. Called on the script's thread during run_patch.
class PatchHost {
 public:
  virtual ~PatchHost() = default;
  // The document's JSON (with @metadata), nullopt when there is none.
  virtual Result<std::optional<std::string>> load(std::string_view id) = 0;
  // The counter's total, nullopt when the document has no such counter.
  virtual Result<std::optional<int64_t>> counter(std::string_view document_id, std::string_view name) = 0;
};

struct PatchScript {
  std::string script;
  boost::json::object values;  // `args`
};

// A put(id, doc) or del(id) of the script, in the order it made them.
struct ScriptWrite {
  enum class Kind { Put, Delete };
  Kind kind = Kind::Put;
  std::string id;
  boost::json::object document;  // Put only
};

struct ScriptCounterIncrement {
  std::string document_id;
  std::string name;
  int64_t delta = 0;
};

struct PatchRun {
  boost::json::object document;  // `this` after the script
  std::vector<ScriptWrite> writes;
  std::vector<ScriptCounterIncrement> counter_increments;
  std::vector<std::string> output;  // output(...) lines, JSON for non-strings
};

// Runs `patch` with `this` = `document` (the JSON text of the document, or of
// `{}` for PatchIfMissing). InvalidArgument when the script does not compile,
// throws (message and line), runs past the time limit or out of memory, or
// leaves `this` something that is not an object; other failures of the host
// (storage errors) come back as they are.
Result<PatchRun> run_patch(const PatchScript& patch, std::string_view document_json, PatchHost& host);

// Runs a conflict resolution script (RavenDB's ScriptResolver): `docs` is the
// array of the conflicting versions (JSON texts; "null" for a deletion) and
// the script returns the resolved document, or null/nothing to delete it.
// The reads of the patch API (load, counter) work; its writes (put, del,
// incrementCounter) are not kept. InvalidArgument as run_patch, and when the
// script returns something that is neither an object nor null/undefined.
Result<std::optional<boost::json::object>> run_conflict_resolver(const std::string& script,
                                                                 const std::vector<std::string>& versions_json,
                                                                 PatchHost& host);

}  // namespace corvus::scripting
