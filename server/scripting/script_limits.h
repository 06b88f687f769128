#pragma once
// ScriptLimits: what one script run may use, set once per process from the
// corvusd options (--script-timeout-ms, --script-max-memory-mb) before the
// first script runs. Plain data.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>

namespace corvus::scripting {

struct ScriptLimits {
  // Wall time of one run; past it the run is stopped (RavenDB's default is a
  // step count; a time bound is what an operator can reason about).
  std::chrono::milliseconds timeout{5000};
  // Bytes the garbage-collected heap of one thread's engine may hold
  // (JSGC_MAX_BYTES); a run that needs more fails with "out of memory".
  size_t max_memory_bytes = 256u * 1024 * 1024;
  // Compiled scripts kept per thread, least recently used evicted first.
  size_t compiled_cache_entries = 256;
};

// Sets the limits of the script runs of this process; call before the first
// run (a thread's engine made earlier keeps its heap limit). Thread-safe.
void configure(const ScriptLimits& limits);
ScriptLimits current_limits();

// The calling thread's compiled-script cache: scripts compiled so far, and
// kept now (for tests and metrics).
struct CompileCacheStats {
  uint64_t compilations = 0;
  size_t cached = 0;
};
CompileCacheStats this_thread_compile_cache_stats();

// Runs `work` on one of a few long-lived script threads of the process, whose
// engine contexts (and compiled scripts) are reused: for script work that
// has no request thread to run on, such as a patch run again after its
// document changed (the merger's completion must not run it). False when the
// queue is full (kMaxQueuedScriptWork). Thread-safe.
bool post_script_work(std::function<void()> work);
inline constexpr size_t kMaxQueuedScriptWork = 10000;

}  // namespace corvus::scripting
