#include "server/scripting/patch_script.h"

#include <cmath>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <js/PropertyAndElement.h>
#include <js/PropertySpec.h>

#include "server/scripting/json_bridge.h"
#include "server/scripting/script_engine.h"
#include "storage/document.h"

namespace corvus::scripting {
namespace {

// The run under way on this thread: what the native functions add to.
struct RunState {
  PatchHost* host = nullptr;
  PatchRun* run = nullptr;
  Status host_error;  // a storage error met by load()/counter(): ends the run
};
thread_local RunState* g_run = nullptr;

// Ends the script with `s` (not catchable by the script: no exception is set).
bool fail_with_host_error(const Status& s) {
  g_run->host_error = s;
  return false;
}

bool arg_string(JSContext* cx, const JS::CallArgs& args, unsigned i, const char* fn, std::string& out) {
  if (args.length() <= i || !args[i].isString()) {
    JS_ReportErrorUTF8(cx, "%s: argument %u must be a string", fn, i + 1);
    return false;
  }
  JS::RootedString s(cx, args[i].toString());
  return string_to_utf8(cx, s, out);
}

// The @metadata.@id of `v` (an object), or "" when it has none.
bool id_of_object(JSContext* cx, JS::HandleValue v, std::string& out) {
  out.clear();
  if (!v.isObject()) return true;
  JS::RootedObject o(cx, &v.toObject());
  JS::RootedValue meta(cx);
  if (!JS_GetProperty(cx, o, "@metadata", &meta)) return false;
  if (!meta.isObject()) return true;
  JS::RootedObject m(cx, &meta.toObject());
  JS::RootedValue id(cx);
  if (!JS_GetProperty(cx, m, "@id", &id)) return false;
  if (!id.isString()) return true;
  JS::RootedString s(cx, id.toString());
  return string_to_utf8(cx, s, out);
}

// A document given as an object (its @metadata.@id) or as an id.
bool document_id_arg(JSContext* cx, const JS::CallArgs& args, unsigned i, const char* fn, std::string& out) {
  if (args.length() > i && args[i].isObject()) {
    if (!id_of_object(cx, args[i], out)) return false;
    if (out.empty()) {
      JS_ReportErrorUTF8(cx, "%s: the document has no @metadata.@id", fn);
      return false;
    }
    return true;
  }
  return arg_string(cx, args, i, fn, out);
}

// The script's last pending write of `id`, if any.
const ScriptWrite* pending_write(std::string_view id) {
  const ScriptWrite* found = nullptr;
  std::string key = storage::lower_id(id);
  for (const auto& w : g_run->run->writes) {
    if (storage::lower_id(w.id) == key) found = &w;
  }
  return found;
}

bool js_load(JSContext* cx, unsigned argc, JS::Value* vp) {
  JS::CallArgs args = JS::CallArgsFromVp(argc, vp);
  std::string id;
  if (!arg_string(cx, args, 0, "load", id)) return false;
  std::optional<std::string> json;
  if (const ScriptWrite* w = pending_write(id)) {
    if (w->kind == ScriptWrite::Kind::Put) json = boost::json::serialize(w->document);
  } else {
    auto loaded = g_run->host->load(id);
    if (!loaded.ok()) return fail_with_host_error(loaded.status());
    json = std::move(loaded).value();
  }
  if (!json) {
    args.rval().setNull();
    return true;
  }
  return json_to_value(cx, *json, args.rval());
}

bool js_put(JSContext* cx, unsigned argc, JS::Value* vp) {
  JS::CallArgs args = JS::CallArgsFromVp(argc, vp);
  std::string id;
  if (!arg_string(cx, args, 0, "put", id)) return false;
  if (id.empty() || id.back() == '/' || id.back() == '|') {
    JS_ReportErrorUTF8(cx, "put: needs a complete document id, got '%s'", id.c_str());
    return false;
  }
  if (args.length() < 2 || !args[1].isObject()) {
    JS_ReportErrorUTF8(cx, "put: argument 2 must be the document (an object)");
    return false;
  }
  std::string json;
  if (!value_to_json(cx, args[1], json)) return false;
  boost::json::error_code ec;
  boost::json::value doc = boost::json::parse(json, ec);
  if (ec || !doc.is_object()) {
    JS_ReportErrorUTF8(cx, "put: the document is not a JSON object");
    return false;
  }
  g_run->run->writes.push_back(ScriptWrite{ScriptWrite::Kind::Put, id, std::move(doc.as_object())});
  JS::RootedString s(cx, JS_NewStringCopyUTF8N(cx, JS::UTF8Chars(id.data(), id.size())));
  if (!s) return false;
  args.rval().setString(s);
  return true;
}

bool js_del(JSContext* cx, unsigned argc, JS::Value* vp) {
  JS::CallArgs args = JS::CallArgsFromVp(argc, vp);
  std::string id;
  if (!arg_string(cx, args, 0, "del", id)) return false;
  g_run->run->writes.push_back(ScriptWrite{ScriptWrite::Kind::Delete, id, {}});
  args.rval().setUndefined();
  return true;
}

bool js_id(JSContext* cx, unsigned argc, JS::Value* vp) {
  JS::CallArgs args = JS::CallArgsFromVp(argc, vp);
  std::string id;
  if (args.length() < 1 || !args[0].isObject()) {
    JS_ReportErrorUTF8(cx, "id: argument 1 must be a document");
    return false;
  }
  if (!id_of_object(cx, args[0], id)) return false;
  if (id.empty()) {
    args.rval().setNull();
    return true;
  }
  JS::RootedString s(cx, JS_NewStringCopyUTF8N(cx, JS::UTF8Chars(id.data(), id.size())));
  if (!s) return false;
  args.rval().setString(s);
  return true;
}

bool js_get_metadata(JSContext* cx, unsigned argc, JS::Value* vp) {
  JS::CallArgs args = JS::CallArgsFromVp(argc, vp);
  if (args.length() < 1 || !args[0].isObject()) {
    JS_ReportErrorUTF8(cx, "getMetadata: argument 1 must be a document");
    return false;
  }
  JS::RootedObject o(cx, &args[0].toObject());
  return JS_GetProperty(cx, o, "@metadata", args.rval());
}

bool js_increment_counter(JSContext* cx, unsigned argc, JS::Value* vp) {
  JS::CallArgs args = JS::CallArgsFromVp(argc, vp);
  std::string id, name;
  if (!document_id_arg(cx, args, 0, "incrementCounter", id)) return false;
  if (!arg_string(cx, args, 1, "incrementCounter", name)) return false;
  int64_t delta = 1;
  if (args.length() > 2 && !args[2].isUndefined()) {
    double d = 0;
    if (!args[2].isNumber() || !std::isfinite(d = args[2].toNumber()) || d != std::trunc(d) ||
        std::fabs(d) > 9007199254740991.0) {
      JS_ReportErrorUTF8(cx, "incrementCounter: the delta must be an integer");
      return false;
    }
    delta = static_cast<int64_t>(d);
  }
  g_run->run->counter_increments.push_back(ScriptCounterIncrement{id, name, delta});
  args.rval().setUndefined();
  return true;
}

bool js_counter(JSContext* cx, unsigned argc, JS::Value* vp) {
  JS::CallArgs args = JS::CallArgsFromVp(argc, vp);
  std::string id, name;
  if (!document_id_arg(cx, args, 0, "counter", id)) return false;
  if (!arg_string(cx, args, 1, "counter", name)) return false;
  auto stored = g_run->host->counter(id, name);
  if (!stored.ok()) return fail_with_host_error(stored.status());
  std::optional<int64_t> value = stored.value();
  // The script's own increments so far count: it reads its writes.
  for (const auto& inc : g_run->run->counter_increments) {
    if (storage::lower_id(inc.document_id) == storage::lower_id(id) &&
        storage::lower_id(inc.name) == storage::lower_id(name)) {
      value = value.value_or(0) + inc.delta;
    }
  }
  if (!value) {
    args.rval().setNull();
  } else {
    args.rval().setNumber(static_cast<double>(*value));
  }
  return true;
}

bool js_output(JSContext* cx, unsigned argc, JS::Value* vp) {
  JS::CallArgs args = JS::CallArgsFromVp(argc, vp);
  std::string line;
  if (args.length() > 0 && args[0].isString()) {
    JS::RootedString s(cx, args[0].toString());
    if (!string_to_utf8(cx, s, line)) return false;
  } else if (args.length() > 0) {
    if (!value_to_json(cx, args[0], line)) return false;
    if (line.empty()) line = "undefined";
  }
  g_run->run->output.push_back(std::move(line));
  args.rval().setUndefined();
  return true;
}

const JSFunctionSpec kPatchFunctions[] = {
    JS_FN("load", js_load, 1, 0),
    JS_FN("put", js_put, 2, 0),
    JS_FN("del", js_del, 1, 0),
    JS_FN("id", js_id, 1, 0),
    JS_FN("getMetadata", js_get_metadata, 1, 0),
    JS_FN("incrementCounter", js_increment_counter, 3, 0),
    JS_FN("counter", js_counter, 2, 0),
    JS_FN("output", js_output, 1, 0),
    JS_FS_END,
};

// Clears g_run however the run ends.
struct RunScope {
  explicit RunScope(RunState* s) { g_run = s; }
  ~RunScope() { g_run = nullptr; }
};

}  // namespace

Result<PatchRun> run_patch(const PatchScript& patch, std::string_view document_json, PatchHost& host) {
  ScriptContext& context = ScriptContext::for_this_thread();
  JSContext* cx = context.cx();
  thread_local bool api_defined = false;
  if (!api_defined) {
    if (!JS_DefineFunctions(cx, context.global(), kPatchFunctions)) return context.take_error("Defining the script API");
    api_defined = true;
  }
  static const std::vector<const char*> kParams = {"args"};
  auto compiled = context.compile("patch", kParams, patch.script);
  if (!compiled.ok()) return compiled.status();

  PatchRun run;
  RunState state{&host, &run, Status::Ok()};
  RunScope scope(&state);
  std::string result_json;
  std::string args_json = boost::json::serialize(patch.values);
  Status s = context.run([&](JSContext* c) {
    JS::RootedValue self(c);
    if (!json_to_value(c, document_json, &self)) return false;
    if (!self.isObject()) {
      JS_ReportErrorUTF8(c, "the document is not an object");
      return false;
    }
    JS::RootedValue args(c);
    if (!json_to_value(c, args_json, &args)) return false;
    JS::RootedObject self_object(c, &self.toObject());
    JS::RootedFunction fn(c, compiled.value());
    JS::RootedValue ignored(c);
    if (!JS_CallFunction(c, self_object, fn, JS::HandleValueArray(args), &ignored)) return false;
    return value_to_json(c, self, result_json);
  });
  if (!state.host_error.ok()) return state.host_error;
  if (!s.ok()) return s;
  boost::json::error_code ec;
  boost::json::value result = boost::json::parse(result_json, ec);
  if (ec || !result.is_object()) return Status::InvalidArgument("The script left `this` as something that is not a JSON object");
  run.document = std::move(result.as_object());
  return run;
}

Result<std::optional<boost::json::object>> run_conflict_resolver(const std::string& script,
                                                                 const std::vector<std::string>& versions_json,
                                                                 PatchHost& host) {
  ScriptContext& context = ScriptContext::for_this_thread();
  JSContext* cx = context.cx();
  thread_local bool api_defined = false;
  if (!api_defined) {
    if (!JS_DefineFunctions(cx, context.global(), kPatchFunctions)) return context.take_error("Defining the script API");
    api_defined = true;
  }
  static const std::vector<const char*> kParams = {"docs"};
  auto compiled = context.compile("resolve", kParams, script);
  if (!compiled.ok()) return compiled.status();
  std::string docs_json = "[";
  for (size_t i = 0; i < versions_json.size(); ++i) {
    if (i) docs_json += ',';
    docs_json += versions_json[i].empty() ? "null" : versions_json[i];
  }
  docs_json += "]";

  PatchRun ignored_writes;
  RunState state{&host, &ignored_writes, Status::Ok()};
  RunScope scope(&state);
  bool deleted = false;
  std::string result_json;
  Status s = context.run([&](JSContext* c) {
    JS::RootedValue docs(c);
    if (!json_to_value(c, docs_json, &docs)) return false;
    JS::RootedFunction fn(c, compiled.value());
    JS::RootedValue result(c);
    if (!JS_CallFunction(c, context.global(), fn, JS::HandleValueArray(docs), &result)) return false;
    if (result.isNullOrUndefined()) {
      deleted = true;
      return true;
    }
    if (!result.isObject()) {
      JS_ReportErrorUTF8(c, "a conflict resolution script must return the resolved document or null");
      return false;
    }
    return value_to_json(c, result, result_json);
  });
  if (!state.host_error.ok()) return state.host_error;
  if (!s.ok()) return s;
  if (deleted) return std::optional<boost::json::object>();
  boost::json::error_code ec;
  boost::json::value result = boost::json::parse(result_json, ec);
  if (ec || !result.is_object()) return Status::InvalidArgument("The script returned something that is not a JSON object");
  return std::optional<boost::json::object>(std::move(result.as_object()));
}

}  // namespace corvus::scripting
