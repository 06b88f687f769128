#include "server/handlers/json_array_reader.h"

#include <cstring>

namespace corvus::server::handlers {
namespace {

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

// Inside a string only '"' and '\\' matter: the first of them at or after
// `from` (bytes.size() if none), found with memchr instead of a byte at a
// time, since a document's long string values are most of a bulk insert.
size_t string_end_or_escape(std::string_view bytes, size_t from) {
  const char* begin = bytes.data() + from;
  const size_t n = bytes.size() - from;
  const void* quote = std::memchr(begin, '"', n);
  const size_t limit = quote ? static_cast<size_t>(static_cast<const char*>(quote) - begin) : n;
  const void* backslash = std::memchr(begin, '\\', limit);
  return from + (backslash ? static_cast<size_t>(static_cast<const char*>(backslash) - begin) : limit);
}

}  // namespace

Status JsonArrayReader::malformed(const std::string& what) const {
  return Status::InvalidArgument("malformed bulk insert stream at byte " + std::to_string(offset_) + ": " + what);
}

Status JsonArrayReader::feed(std::string_view bytes, JsonArraySink& sink) {
  size_t i = 0;
  // Where in `bytes` the element being read began (its '{'), if it began in
  // them: it then goes to the sink straight from `bytes`; only an element
  // split across reads is gathered in element_.
  size_t begun_at = std::string_view::npos;
  while (i < bytes.size()) {
    if (state_ == State::Raw) {
      const size_t n = static_cast<size_t>(std::min<uint64_t>(raw_left_, bytes.size() - i));
      raw_left_ -= n;
      offset_ += n;
      if (Status s = sink.raw(bytes.substr(i, n), raw_left_ == 0); !s.ok()) return s;
      i += n;
      if (raw_left_ == 0) state_ = State::AfterElement;
      continue;
    }
    if (state_ == State::InElement) {
      // Scan up to the end of the element (or of the bytes) in one go.
      const size_t start = i;
      for (; i < bytes.size() && depth_ > 0; ++i) {
        if (in_string_ && !escaped_) i = string_end_or_escape(bytes, i);
        if (i == bytes.size()) break;
        const char c = bytes[i];
        if (in_string_) {
          if (escaped_) escaped_ = false;
          else if (c == '\\') escaped_ = true;
          else if (c == '"') in_string_ = false;
        } else if (c == '"') {
          in_string_ = true;
        } else if (c == '{' || c == '[') {
          ++depth_;
        } else if (c == '}' || c == ']') {
          --depth_;
        }
      }
      if (element_.size() + (i - start) > max_element_bytes_) {
        offset_ += i - start;
        return malformed("an element is longer than " + std::to_string(max_element_bytes_) + " bytes");
      }
      offset_ += i - start;
      const bool whole_here = begun_at != std::string_view::npos;
      if (depth_ > 0) {
        element_.append(whole_here ? bytes.substr(begun_at) : bytes.substr(start));
        begun_at = std::string_view::npos;
        continue;
      }
      if (!whole_here) element_.append(bytes.substr(start, i - start));
      auto raw = sink.element(whole_here ? bytes.substr(begun_at, i - begun_at) : std::string_view(element_));
      if (!raw.ok()) return raw.status();
      begun_at = std::string_view::npos;
      element_.clear();
      raw_left_ = raw.value();
      state_ = raw_left_ > 0 ? State::Raw : State::AfterElement;
      continue;
    }
    const char c = bytes[i];
    if (is_space(c)) {
      ++i;
      ++offset_;
      continue;
    }
    switch (state_) {
      case State::BeforeArray:
        if (c != '[') return malformed("expected '[' (the body is a JSON array of commands)");
        state_ = State::BeforeFirst;
        break;
      case State::BeforeFirst:
      case State::BeforeElement:
        if (c == ']' && state_ == State::BeforeFirst) {
          state_ = State::AfterArray;
          break;
        }
        if (c != '{') return malformed(std::string("expected a command object, got '") + c + "'");
        state_ = State::InElement;
        begun_at = i;
        depth_ = 1;
        in_string_ = escaped_ = false;
        break;
      case State::AfterElement:
        if (c == ',') state_ = State::BeforeElement;
        else if (c == ']') state_ = State::AfterArray;
        else return malformed(std::string("expected ',' or ']' after a command, got '") + c + "'");
        break;
      case State::AfterArray:
        return malformed("bytes after the end of the array");
      case State::InElement:
      case State::Raw:
        break;  // handled above
    }
    ++i;
    ++offset_;
  }
  // The bytes ended right after an element's '{'.
  if (begun_at != std::string_view::npos) element_.assign(bytes.substr(begun_at));
  return Status::Ok();
}

Status JsonArrayReader::finish() const {
  if (state_ == State::AfterArray) return Status::Ok();
  if (state_ == State::InElement || state_ == State::Raw) return malformed("the stream ended inside a command");
  return malformed("the stream ended before the array was closed");
}

}  // namespace corvus::server::handlers
