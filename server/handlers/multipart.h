#pragma once
// multipart/form-data (RFC 7578) as the clients send batches with attachment
// streams (REST.md §3.2). MultipartParser is incremental: it is fed the body
// chunk by chunk as it arrives and reports each part's header and bytes as it
// goes, holding at most one chunk plus a delimiter's length (and one part's
// header block, <= 16 KiB). One parser per body; not thread-safe.

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "storage/status.h"

namespace corvus::server::handlers {

class MultipartParser {
 public:
  // What the parser reports, in order: begin, data (any number of times), end.
  // An error returned stops the parse and is returned by feed().
  class Events {
   public:
    virtual ~Events() = default;
    virtual Status begin_part(const std::string& name, const std::string& content_type) = 0;
    virtual Status part_data(std::string_view bytes) = 0;
    virtual Status end_part() = 0;
  };

  // The boundary from a Content-Type header; InvalidArgument when it has none.
  static Result<std::string> boundary_of(std::string_view content_type);

  explicit MultipartParser(const std::string& boundary);
  // InvalidArgument says what is malformed (naming the part).
  Status feed(std::string_view chunk, Events& events);
  // The body ended: InvalidArgument unless the closing delimiter was seen.
  Status finish() const;
  size_t parts() const { return parts_; }

 private:
  enum class State { Preamble, AfterDelimiter, Headers, Body, Epilogue };
  std::string delimiter_;       // "--" + boundary
  std::string body_delimiter_;  // "\r\n--" + boundary
  std::string buf_;             // bytes not yet consumed
  State state_ = State::Preamble;
  size_t parts_ = 0;
};

// Whole-body convenience over MultipartParser (tests, small bodies).
struct MultipartPart {
  std::string name;          // Content-Disposition name="..."
  std::string content_type;  // "" when the part has none
  std::string body;
};
Result<std::vector<MultipartPart>> parse_multipart_form(std::string_view content_type, std::string_view body);

}  // namespace corvus::server::handlers
