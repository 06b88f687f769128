#pragma once
// ScriptContext: one SpiderMonkey JSContext with its global object and its
// cache of compiled scripts, owned by the thread that created it (SpiderMonkey
// ties a JSContext to one thread): for_this_thread() makes it on first use
// and it dies with its thread. JS_Init runs once per process before the first.
// Not thread-safe, by construction: only its own thread ever sees it.
//
// Limits (script_limits.h): the garbage-collected heap of each context is
// capped with JSGC_MAX_BYTES (past it an allocation throws "out of memory");
// a process-wide watchdog thread bounds the time of a run and what the
// process grows by while it runs (malloc'd array elements and buffers are not
// in the GC heap): it asks the context to interrupt itself
// (JS_RequestInterruptCallback, thread-safe) and the interrupt callback then
// ends the run with an uncatchable error, so the script cannot swallow it.
//
// Internal to server/scripting: the rest of the server uses patch_script.h.

#include <atomic>
#include <functional>
#include <list>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include <jsapi.h>

#include "server/scripting/script_limits.h"
#include "storage/status.h"

namespace corvus::scripting {

class ScriptContext {
 public:
  static ScriptContext& for_this_thread();
  ~ScriptContext();
  ScriptContext(const ScriptContext&) = delete;
  ScriptContext& operator=(const ScriptContext&) = delete;

  JSContext* cx() const { return cx_; }
  JS::HandleObject global() const { return *global_; }

  // The function `function <name>(<params>) { <body> }`, compiled once per
  // distinct (params, body) and kept in the LRU cache. A syntax error is
  // InvalidArgument with the engine's message and line.
  Result<JSFunction*> compile(const char* name, const std::vector<const char*>& params, const std::string& body);

  // Runs `call` (which returns false with an exception pending, or on an
  // interrupt) with the time limit armed. A failure becomes InvalidArgument:
  // the script's exception with its line, "ran longer than ... ms", or "ran
  // out of memory". Afterwards no exception is pending.
  Status run(const std::function<bool(JSContext*)>& call);

  // The pending exception as InvalidArgument (and clears it); used by run()
  // and by compile().
  Status take_error(const char* what);

  // Compiled-script cache figures, for tests.
  size_t cached_scripts() const { return cache_.size(); }
  uint64_t compilations() const { return compilations_; }

 private:
  ScriptContext();
  static bool on_interrupt(JSContext* cx);
  // Defines `_` (array_helpers.h) in the global scope.
  void install_array_helpers();

  JSContext* cx_ = nullptr;
  std::unique_ptr<JS::PersistentRootedObject> global_;
  std::unique_ptr<JSAutoRealm> realm_;
  // Set by the watchdog when the run is to stop; read by on_interrupt.
  enum class StopReason { None, Time, Memory };
  std::atomic<StopReason> stop_reason_{StopReason::None};
  // LRU: most recently used at the front.
  struct Cached {
    std::string key;
    std::unique_ptr<JS::PersistentRootedObject> function;
  };
  std::list<Cached> lru_;
  std::unordered_map<std::string, std::list<Cached>::iterator> cache_;
  uint64_t compilations_ = 0;

  friend class Watchdog;
};

}  // namespace corvus::scripting
