#include "server/scripting/script_engine.h"

#include "server/scripting/array_helpers.h"
#include "server/scripting/json_bridge.h"

#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <deque>
#include <map>
#include <mutex>
#include <thread>

#include <unistd.h>

#include <jsfriendapi.h>
#include <js/CompilationAndEvaluation.h>
#include <js/CompileOptions.h>
#include <js/ErrorReport.h>
#include <js/Exception.h>
#include <js/Initialization.h>
#include <js/SourceText.h>

namespace corvus::scripting {
namespace {

std::mutex g_limits_mu;
ScriptLimits g_limits;

JSClass kGlobalClass = {"global", JSCLASS_GLOBAL_FLAGS, &JS::DefaultGlobalClassOps, nullptr, nullptr, nullptr};

std::atomic<int> g_live_contexts{0};

// JS_Init runs once per process, before any context exists; JS_ShutDown at
// exit, after the threads' contexts are gone (thread_local destructors run
// before static ones): without it the engine's helper threads still hold its
// mutexes when the library's own static destructors run, and exit crashes.
struct EngineLifetime {
  EngineLifetime() {
    if (!JS_Init()) std::abort();  // no engine at all: nothing sensible to go on with
  }
  ~EngineLifetime() {
    if (g_live_contexts.load() == 0) JS_ShutDown();
  }
};

void init_engine_once() { static EngineLifetime engine; }

}  // namespace

void configure(const ScriptLimits& limits) {
  std::lock_guard lock(g_limits_mu);
  g_limits = limits;
}

ScriptLimits current_limits() {
  std::lock_guard lock(g_limits_mu);
  return g_limits;
}

// The process's resident bytes (/proc/self/statm); 0 when unreadable.
size_t resident_bytes() {
  std::FILE* f = std::fopen("/proc/self/statm", "r");
  if (!f) return 0;
  unsigned long size = 0, resident = 0;
  int n = std::fscanf(f, "%lu %lu", &size, &resident);
  std::fclose(f);
  return n == 2 ? resident * static_cast<size_t>(sysconf(_SC_PAGESIZE)) : 0;
}

// One thread for the process that interrupts runs past their deadline, or
// during which the process grew by more than the memory limit: JSGC_MAX_BYTES
// bounds only the garbage-collected heap, while array elements and buffers
// are malloc'd beside it (a loop pushing `new Array(1e6)` grows by gigabytes
// a second without ever reaching it). A run arms it and disarms it when it
// ends. The growth is the process's, so runs at the same moment share the
// budget: a run may be stopped for another's allocation, never let through.
class Watchdog {
 public:
  static Watchdog& instance() {
    static Watchdog w;
    return w;
  }
  // Cheap on purpose (runs of a few microseconds arm it): no system call,
  // and the watchdog thread is woken only when it sleeps with nothing armed.
  // The run's memory baseline is taken at the watchdog's first look at it.
  void arm(ScriptContext* c, std::chrono::steady_clock::time_point deadline, size_t max_growth) {
    std::lock_guard lock(mu_);
    armed_[c] = Armed{deadline, max_growth, 0};
    if (idle_) cv_.notify_one();
  }
  void disarm(ScriptContext* c) {
    std::lock_guard lock(mu_);
    armed_.erase(c);
  }
  ~Watchdog() {
    {
      std::lock_guard lock(mu_);
      stop_ = true;
      cv_.notify_one();
    }
    thread_.join();
  }

 private:
  struct Armed {
    std::chrono::steady_clock::time_point deadline;
    size_t max_growth = 0;
    size_t rss_limit = 0;  // 0: not seen yet (or not measurable here)
  };
  static constexpr auto kMemoryCheckInterval = std::chrono::milliseconds(10);

  Watchdog() : thread_([this] { loop(); }) {}
  void loop() {
    std::unique_lock lock(mu_);
    while (!stop_) {
      auto now = std::chrono::steady_clock::now();
      auto next = now + std::chrono::hours(1);
      size_t rss = armed_.empty() ? 0 : resident_bytes();
      for (auto it = armed_.begin(); it != armed_.end();) {
        if (it->second.rss_limit == 0 && rss != 0) it->second.rss_limit = rss + it->second.max_growth;
        ScriptContext::StopReason reason = ScriptContext::StopReason::None;
        if (it->second.deadline <= now) {
          reason = ScriptContext::StopReason::Time;
        } else if (it->second.rss_limit != 0 && rss > it->second.rss_limit) {
          reason = ScriptContext::StopReason::Memory;
        }
        if (reason != ScriptContext::StopReason::None) {
          // Thread-safe by SpiderMonkey's contract; the run's thread notices
          // at its next interrupt check (loop back-edges, calls).
          it->first->stop_reason_.store(reason);
          JS_RequestInterruptCallback(it->first->cx_);
          it = armed_.erase(it);
        } else {
          next = std::min({next, it->second.deadline, now + kMemoryCheckInterval});
          ++it;
        }
      }
      idle_ = armed_.empty();
      cv_.wait_until(lock, next);
    }
  }
  std::mutex mu_;
  bool idle_ = true;  // asleep with nothing armed: arm() must wake it
  std::condition_variable cv_;
  std::map<ScriptContext*, Armed> armed_;
  bool stop_ = false;
  std::thread thread_;
};

// The threads behind post_script_work: two (the work is short; a patch
// retried is one script run), started on first use, joined at exit before
// the engine shuts down (the engine is initialised first, so destroyed last).
class ScriptWorkers {
 public:
  static ScriptWorkers& instance() {
    init_engine_once();
    static ScriptWorkers w;
    return w;
  }
  bool post(std::function<void()> work) {
    std::lock_guard lock(mu_);
    if (stop_ || queue_.size() >= kMaxQueuedScriptWork) return false;
    queue_.push_back(std::move(work));
    cv_.notify_one();
    return true;
  }
  ~ScriptWorkers() {
    {
      std::lock_guard lock(mu_);
      stop_ = true;
      cv_.notify_all();
    }
    for (auto& t : threads_) t.join();
  }

 private:
  ScriptWorkers() {
    for (int i = 0; i < 2; ++i) threads_.emplace_back([this] { loop(); });
  }
  void loop() {
    std::unique_lock lock(mu_);
    for (;;) {
      cv_.wait(lock, [this] { return stop_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping, nothing left
      auto work = std::move(queue_.front());
      queue_.pop_front();
      lock.unlock();
      work();
      lock.lock();
    }
  }
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> queue_;
  bool stop_ = false;
  std::vector<std::thread> threads_;
};

bool post_script_work(std::function<void()> work) { return ScriptWorkers::instance().post(std::move(work)); }

CompileCacheStats this_thread_compile_cache_stats() {
  auto& c = ScriptContext::for_this_thread();
  return CompileCacheStats{c.compilations(), c.cached_scripts()};
}

ScriptContext& ScriptContext::for_this_thread() {
  thread_local std::unique_ptr<ScriptContext> context;
  if (!context) context.reset(new ScriptContext());
  return *context;
}

ScriptContext::ScriptContext() {
  init_engine_once();
  Watchdog::instance();  // constructed before any context: destroyed after them at exit
  ScriptLimits limits = current_limits();
  ++g_live_contexts;
  cx_ = JS_NewContext(static_cast<uint32_t>(std::min<size_t>(limits.max_memory_bytes, UINT32_MAX)));
  if (!cx_) std::abort();
  JS_SetGCParameter(cx_, JSGC_MAX_BYTES, static_cast<uint32_t>(std::min<size_t>(limits.max_memory_bytes, UINT32_MAX)));
  if (!JS::InitSelfHostedCode(cx_)) std::abort();
  JS_SetContextPrivate(cx_, this);
  JS_AddInterruptCallback(cx_, &ScriptContext::on_interrupt);
  JS::RealmOptions options;
  global_ = std::make_unique<JS::PersistentRootedObject>(
      cx_, JS_NewGlobalObject(cx_, &kGlobalClass, nullptr, JS::FireOnNewGlobalHook, options));
  if (!*global_) std::abort();
  realm_ = std::make_unique<JSAutoRealm>(cx_, *global_);
  if (!JS::InitRealmStandardClasses(cx_)) std::abort();
  install_array_helpers();
}

void ScriptContext::install_array_helpers() {
  // Our own source, not a user's: it runs without limits, outside the cache,
  // and a failure is a bug in this build.
  JS::CompileOptions options(cx_);
  options.setFileAndLine("array_helpers", 0);
  std::u16string text = utf8_to_utf16(kArrayHelpersSource);
  JS::SourceText<char16_t> source;
  JS::RootedObjectVector env(cx_);
  if (!source.init(cx_, text.data(), text.size(), JS::SourceOwnership::Borrowed)) std::abort();
  JS::RootedFunction fn(cx_, JS::CompileFunction(cx_, env, options, "array_helpers", 0, nullptr, source));
  JS::RootedValue ignored(cx_);
  if (!fn || !JS_CallFunction(cx_, *global_, fn, JS::HandleValueArray::empty(), &ignored)) {
    std::fprintf(stderr, "corvusd: cannot install the script helpers: %s\n", take_error("The helpers").to_string().c_str());
    std::abort();
  }
}

ScriptContext::~ScriptContext() {
  Watchdog::instance().disarm(this);
  cache_.clear();
  lru_.clear();
  realm_.reset();
  global_.reset();
  JS_DestroyContext(cx_);
  --g_live_contexts;
}

bool ScriptContext::on_interrupt(JSContext* cx) {
  auto* self = static_cast<ScriptContext*>(JS_GetContextPrivate(cx));
  return self->stop_reason_.load() == StopReason::None;
}

Status ScriptContext::take_error(const char* what) {
  if (!JS_IsExceptionPending(cx_)) {
    switch (stop_reason_.load()) {
      case StopReason::Time:
        return Status::InvalidArgument(std::string(what) + " ran longer than " +
                                       std::to_string(current_limits().timeout.count()) +
                                       " ms and was stopped (script time limit)");
      case StopReason::Memory:
        return Status::InvalidArgument(std::string(what) + " allocated more than " +
                                       std::to_string(current_limits().max_memory_bytes / (1024 * 1024)) +
                                       " MB and was stopped (script memory limit)");
      case StopReason::None:
        break;
    }
    return Status::InvalidArgument(std::string(what) + " was stopped by the engine (out of memory)");
  }
  JS::ExceptionStack stack(cx_);
  if (!JS::StealPendingExceptionStack(cx_, &stack)) {
    JS_ClearPendingException(cx_);
    return Status::InvalidArgument(std::string(what) + " failed");
  }
  JS::ErrorReportBuilder report(cx_);
  if (!report.init(cx_, stack, JS::ErrorReportBuilder::NoSideEffects)) {
    JS_ClearPendingException(cx_);
    return Status::InvalidArgument(std::string(what) + " failed (the error could not be read)");
  }
  std::string message = report.toStringResult() ? report.toStringResult().c_str() : "unknown error";
  if (message.find("out of memory") != std::string::npos || message.find("allocation size overflow") != std::string::npos) {
    message += " (script memory limit " + std::to_string(current_limits().max_memory_bytes / (1024 * 1024)) + " MB)";
  }
  std::string at;
  if (const JSErrorReport* r = report.report(); r && r->lineno > 0) {
    at = " at line " + std::to_string(r->lineno) + ", column " + std::to_string(r->column + 1);
  }
  JS_ClearPendingException(cx_);
  return Status::InvalidArgument(std::string(what) + " failed" + at + ": " + message);
}

Result<JSFunction*> ScriptContext::compile(const char* name, const std::vector<const char*>& params,
                                           const std::string& body) {
  std::string key;
  for (const char* p : params) {
    key += p;
    key += ',';
  }
  key += '\n';
  key += body;
  if (auto it = cache_.find(key); it != cache_.end()) {
    lru_.splice(lru_.begin(), lru_, it->second);
    return JS_GetObjectFunction(*it->second->function);
  }
  JS::CompileOptions options(cx_);
  // The engine counts the function header it adds as a line of its own: 0
  // makes the script's first line line 1.
  options.setFileAndLine("script", 0);
  std::u16string text = utf8_to_utf16(body);
  JS::SourceText<char16_t> source;
  if (!source.init(cx_, text.data(), text.size(), JS::SourceOwnership::Borrowed)) return take_error("The script");
  JS::RootedObjectVector env(cx_);
  JS::RootedFunction fn(cx_, JS::CompileFunction(cx_, env, options, name, static_cast<unsigned>(params.size()),
                                                 params.data(), source));
  if (!fn) return take_error("Compiling the script");
  ++compilations_;
  size_t capacity = std::max<size_t>(1, current_limits().compiled_cache_entries);
  while (lru_.size() >= capacity) {
    cache_.erase(lru_.back().key);
    lru_.pop_back();
  }
  lru_.push_front(Cached{key, std::make_unique<JS::PersistentRootedObject>(cx_, JS_GetFunctionObject(fn))});
  cache_.emplace(std::move(key), lru_.begin());
  return fn.get();
}

Status ScriptContext::run(const std::function<bool(JSContext*)>& call) {
  stop_reason_.store(StopReason::None);
  ScriptLimits limits = current_limits();
  Watchdog::instance().arm(this, std::chrono::steady_clock::now() + limits.timeout, limits.max_memory_bytes);
  bool ok = call(cx_);
  Watchdog::instance().disarm(this);
  Status s = ok ? Status::Ok() : take_error("The script");
  if (!ok) {
    // A run stopped for time or memory leaves garbage (and maybe a pending
    // interrupt request) behind: start the next run clean.
    JS_GC(cx_);
  }
  stop_reason_.store(StopReason::None);
  return s;
}

}  // namespace corvus::scripting
