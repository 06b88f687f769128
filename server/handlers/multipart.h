#pragma once
// multipart/form-data (RFC 7578) as the clients send batches with attachment
// streams (REST.md §3.2): parsed from a body held in memory into parts that
// view it. Stateless; thread-safe.

#include <string>
#include <string_view>
#include <vector>

#include "storage/status.h"

namespace corvus::server::handlers {

struct MultipartPart {
  std::string name;          // Content-Disposition name="..."
  std::string content_type;  // "" when the part has none
  std::string_view body;     // into the parsed body
};

// `content_type` is the request's Content-Type header (carries the boundary).
// InvalidArgument says what is malformed: no boundary, a missing delimiter, a
// part without the blank line ending its headers, no closing delimiter.
Result<std::vector<MultipartPart>> parse_multipart_form(std::string_view content_type, std::string_view body);

}  // namespace corvus::server::handlers
