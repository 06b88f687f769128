#include "server/handlers/multipart.h"

#include <cctype>

namespace corvus::server::handlers {
namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// The value of `param` (e.g. boundary, name) in a header value "a; param=v; ...",
// quotes removed; "" when absent.
std::string header_param(std::string_view value, std::string_view param) {
  size_t pos = 0;
  while (pos < value.size()) {
    size_t semi = value.find(';', pos);
    std::string_view item = trim(value.substr(pos, semi == std::string_view::npos ? std::string_view::npos : semi - pos));
    size_t eq = item.find('=');
    if (eq != std::string_view::npos && lower(trim(item.substr(0, eq))) == param) {
      std::string_view v = trim(item.substr(eq + 1));
      if (v.size() >= 2 && v.front() == '"' && v.back() == '"') v = v.substr(1, v.size() - 2);
      return std::string(v);
    }
    if (semi == std::string_view::npos) break;
    pos = semi + 1;
  }
  return "";
}

}  // namespace

Result<std::vector<MultipartPart>> parse_multipart_form(std::string_view content_type, std::string_view body) {
  const std::string boundary = header_param(content_type, "boundary");
  if (boundary.empty()) return Status::InvalidArgument("multipart body: the Content-Type has no boundary");
  const std::string delimiter = "--" + boundary;
  size_t pos = body.find(delimiter);
  if (pos == std::string_view::npos) return Status::InvalidArgument("multipart body: no part delimiter found");
  pos += delimiter.size();
  std::vector<MultipartPart> parts;
  while (true) {
    if (body.substr(pos, 2) == "--") return parts;  // closing delimiter
    if (body.substr(pos, 2) != "\r\n") {
      return Status::InvalidArgument("multipart body: part " + std::to_string(parts.size()) +
                                     ": delimiter not followed by CRLF");
    }
    pos += 2;
    size_t header_end = body.find("\r\n\r\n", pos);
    // A part with no headers starts with the blank line directly.
    if (body.substr(pos, 2) == "\r\n") header_end = pos - 2;
    if (header_end == std::string_view::npos) {
      return Status::InvalidArgument("multipart body: part " + std::to_string(parts.size()) +
                                     " has no end of headers");
    }
    MultipartPart part;
    std::string_view headers = header_end + 2 > pos ? body.substr(pos, header_end - pos) : std::string_view();
    while (!headers.empty()) {
      size_t eol = headers.find("\r\n");
      std::string_view line = headers.substr(0, eol);
      headers = eol == std::string_view::npos ? std::string_view() : headers.substr(eol + 2);
      size_t colon = line.find(':');
      if (colon == std::string_view::npos) continue;
      std::string name = lower(trim(line.substr(0, colon)));
      std::string_view value = trim(line.substr(colon + 1));
      if (name == "content-disposition") part.name = header_param(value, "name");
      else if (name == "content-type") part.content_type = std::string(value);
    }
    const size_t data_start = header_end + 4;
    const std::string next = "\r\n" + delimiter;
    size_t data_end = body.find(next, data_start);
    if (data_end == std::string_view::npos) {
      return Status::InvalidArgument("multipart body: part " + std::to_string(parts.size()) +
                                     " is not terminated by a delimiter (body cut off?)");
    }
    part.body = body.substr(data_start, data_end - data_start);
    parts.push_back(std::move(part));
    pos = data_end + next.size();
  }
}

}  // namespace corvus::server::handlers
