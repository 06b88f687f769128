#pragma once
// JsonArrayReader: the elements of a JSON array of objects that arrives in
// pieces (a bulk insert's body, REST.md §3.5), one element at a time, so the
// whole array is never in memory: feed() takes the bytes as they come and
// hands each complete element's text to the sink. An element may be followed
// by raw bytes that are not JSON (an AttachmentPUT's content): the sink says
// how many when it gets the element, and receives them in pieces before the
// next element. Only the structure is checked here (brackets, strings,
// commas); the sink parses each element. Not thread-safe: one body, one reader.

#include <cstdint>
#include <string>
#include <string_view>

#include "storage/status.h"

namespace corvus::server::handlers {

class JsonArraySink {
 public:
  virtual ~JsonArraySink() = default;
  // One element (an object's text); returns how many raw bytes follow it
  // before the separator (0 for most). An error stops the reader.
  virtual Result<uint64_t> element(std::string_view json) = 0;
  // Raw bytes after an element, in pieces; `last` with the final piece.
  virtual Status raw(std::string_view bytes, bool last) = 0;
};

class JsonArrayReader {
 public:
  // An element longer than `max_element_bytes` is refused (InvalidArgument).
  explicit JsonArrayReader(size_t max_element_bytes) : max_element_bytes_(max_element_bytes) {}

  // InvalidArgument naming the offset when the bytes cannot be such an array;
  // a sink's error as it returned it.
  Status feed(std::string_view bytes, JsonArraySink& sink);
  // The body ended: InvalidArgument unless the array was closed.
  Status finish() const;
  // The array's closing ']' has been read: nothing more belongs to it (the
  // 7.x clients keep the body open after it, waiting for the answer).
  bool closed() const { return state_ == State::AfterArray; }
  // Bytes fed so far.
  uint64_t offset() const { return offset_; }

 private:
  enum class State { BeforeArray, BeforeFirst, BeforeElement, InElement, Raw, AfterElement, AfterArray };
  Status malformed(const std::string& what) const;

  const size_t max_element_bytes_;
  State state_ = State::BeforeArray;
  std::string element_;
  int depth_ = 0;
  bool in_string_ = false;
  bool escaped_ = false;
  uint64_t raw_left_ = 0;
  uint64_t offset_ = 0;
};

}  // namespace corvus::server::handlers
