#include "server/scripting/json_bridge.h"

#include <js/CharacterEncoding.h>
#include <js/JSON.h>

namespace corvus::scripting {
namespace {

void append_utf8(std::string& out, char32_t c) {
  if (c < 0x80) {
    out.push_back(static_cast<char>(c));
  } else if (c < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (c >> 6)));
    out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
  } else if (c < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (c >> 12)));
    out.push_back(static_cast<char>(0x80 | ((c >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (c >> 18)));
    out.push_back(static_cast<char>(0x80 | ((c >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((c >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
  }
}

struct Utf16Sink {
  std::string* out;
  char16_t pending_high = 0;  // a high surrogate whose low half is in the next chunk
};

// JS_Stringify hands out UTF-16 in chunks; a lone surrogate becomes U+FFFD
// (JSON.stringify escapes those as \uXXXX already, so this is belt and braces).
bool write_utf16(const char16_t* buf, uint32_t len, void* data) {
  auto* sink = static_cast<Utf16Sink*>(data);
  for (uint32_t i = 0; i < len; ++i) {
    char16_t u = buf[i];
    if (sink->pending_high) {
      char16_t high = sink->pending_high;
      sink->pending_high = 0;
      if (u >= 0xDC00 && u <= 0xDFFF) {
        append_utf8(*sink->out, 0x10000 + ((static_cast<char32_t>(high) - 0xD800) << 10) + (u - 0xDC00));
        continue;
      }
      append_utf8(*sink->out, 0xFFFD);
    }
    if (u >= 0xD800 && u <= 0xDBFF) {
      sink->pending_high = u;
    } else if (u >= 0xDC00 && u <= 0xDFFF) {
      append_utf8(*sink->out, 0xFFFD);
    } else {
      append_utf8(*sink->out, u);
    }
  }
  return true;
}

}  // namespace

bool json_to_value(JSContext* cx, std::string_view json, JS::MutableHandleValue out) {
  JS::RootedString text(cx, JS_NewStringCopyUTF8N(cx, JS::UTF8Chars(json.data(), json.size())));
  if (!text) return false;
  return JS_ParseJSON(cx, text, out);
}

bool value_to_json(JSContext* cx, JS::HandleValue v, std::string& out) {
  out.clear();
  Utf16Sink sink{&out};
  JS::RootedValue value(cx, v);
  if (!JS_Stringify(cx, &value, nullptr, JS::NullHandleValue, write_utf16, &sink)) return false;
  if (sink.pending_high) append_utf8(out, 0xFFFD);
  return true;
}

std::u16string utf8_to_utf16(std::string_view text) {
  std::u16string out;
  out.reserve(text.size());
  size_t i = 0;
  auto byte = [&](size_t k) { return static_cast<unsigned char>(text[k]); };
  while (i < text.size()) {
    unsigned char b = byte(i);
    char32_t c = 0xFFFD;
    size_t n = 1;
    if (b < 0x80) {
      c = b;
    } else if ((b >> 5) == 0x6 && i + 1 < text.size() && (byte(i + 1) >> 6) == 0x2) {
      c = ((b & 0x1F) << 6) | (byte(i + 1) & 0x3F);
      n = c >= 0x80 ? 2 : 1;
      if (n == 1) c = 0xFFFD;
    } else if ((b >> 4) == 0xE && i + 2 < text.size() && (byte(i + 1) >> 6) == 0x2 && (byte(i + 2) >> 6) == 0x2) {
      c = ((b & 0x0F) << 12) | ((byte(i + 1) & 0x3F) << 6) | (byte(i + 2) & 0x3F);
      n = 3;
      if (c < 0x800 || (c >= 0xD800 && c <= 0xDFFF)) c = 0xFFFD;
    } else if ((b >> 3) == 0x1E && i + 3 < text.size() && (byte(i + 1) >> 6) == 0x2 && (byte(i + 2) >> 6) == 0x2 &&
               (byte(i + 3) >> 6) == 0x2) {
      c = ((b & 0x07) << 18) | ((byte(i + 1) & 0x3F) << 12) | ((byte(i + 2) & 0x3F) << 6) | (byte(i + 3) & 0x3F);
      n = 4;
      if (c < 0x10000 || c > 0x10FFFF) c = 0xFFFD;
    }
    i += n;
    if (c >= 0x10000) {
      out.push_back(static_cast<char16_t>(0xD800 + ((c - 0x10000) >> 10)));
      out.push_back(static_cast<char16_t>(0xDC00 + ((c - 0x10000) & 0x3FF)));
    } else {
      out.push_back(static_cast<char16_t>(c));
    }
  }
  return out;
}

bool string_to_utf8(JSContext* cx, JS::HandleString s, std::string& out) {
  JS::UniqueChars chars = JS_EncodeStringToUTF8(cx, s);
  if (!chars) return false;
  out = chars.get();
  return true;
}

}  // namespace corvus::scripting
