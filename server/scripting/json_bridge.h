#pragma once
// JSON text <-> JavaScript values, through the engine's own JSON.parse and
// JSON.stringify (the document as RavenDB's scripts see it is exactly its
// JSON). Internal to server/scripting; functions of the caller's context.

#include <string>
#include <string_view>

#include <jsapi.h>

namespace corvus::scripting {

// Parses UTF-8 JSON text into `out`; false with an exception pending.
bool json_to_value(JSContext* cx, std::string_view json, JS::MutableHandleValue out);

// Serializes `v` as JSON (UTF-8) into `out`; false with an exception pending.
// `undefined` (and functions) serialize to nothing: `out` is then empty.
bool value_to_json(JSContext* cx, JS::HandleValue v, std::string& out);

// UTF-16 of UTF-8 text (invalid sequences become U+FFFD). Script sources go
// to the engine as UTF-16: mozjs 102's CompileFunction reads UTF-8 sources as
// Latin-1.
std::u16string utf8_to_utf16(std::string_view text);

// UTF-8 of a JS string; false with an exception pending.
bool string_to_utf8(JSContext* cx, JS::HandleString s, std::string& out);

}  // namespace corvus::scripting
