#include "server/handlers/multipart.h"

#include <cctype>

namespace corvus::server::handlers {
namespace {

constexpr size_t kMaxPartHeaderBytes = 16 * 1024;

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

Result<std::string> MultipartParser::boundary_of(std::string_view content_type) {
  std::string b = header_param(content_type, "boundary");
  if (b.empty()) return Status::InvalidArgument("multipart body: the Content-Type has no boundary");
  return b;
}

MultipartParser::MultipartParser(const std::string& boundary)
    : delimiter_("--" + boundary), body_delimiter_("\r\n--" + boundary) {}

Status MultipartParser::feed(std::string_view chunk, Events& events) {
  buf_.append(chunk);
  const std::string where = "multipart body: part " + std::to_string(parts_);
  while (true) {
    switch (state_) {
      case State::Preamble: {
        size_t p = buf_.find(delimiter_);
        if (p == std::string::npos) {
          // Keep only what could be the start of the delimiter.
          if (buf_.size() >= delimiter_.size()) buf_.erase(0, buf_.size() - delimiter_.size() + 1);
          return Status::Ok();
        }
        buf_.erase(0, p + delimiter_.size());
        state_ = State::AfterDelimiter;
        break;
      }
      case State::AfterDelimiter: {
        if (buf_.size() < 2) return Status::Ok();
        if (buf_.compare(0, 2, "--") == 0) {
          state_ = State::Epilogue;
          break;
        }
        if (buf_.compare(0, 2, "\r\n") != 0) {
          return Status::InvalidArgument("multipart body: part " + std::to_string(parts_) +
                                         ": delimiter not followed by CRLF");
        }
        buf_.erase(0, 2);
        state_ = State::Headers;
        break;
      }
      case State::Headers: {
        size_t end;
        size_t skip;
        if (buf_.size() >= 2 && buf_.compare(0, 2, "\r\n") == 0) {
          end = 0;  // a part without headers
          skip = 2;
        } else if ((end = buf_.find("\r\n\r\n")) != std::string::npos) {
          skip = end + 4;
        } else {
          if (buf_.size() > kMaxPartHeaderBytes) {
            return Status::InvalidArgument(where + ": headers longer than " + std::to_string(kMaxPartHeaderBytes) +
                                           " bytes");
          }
          return Status::Ok();
        }
        std::string name, content_type;
        std::string_view headers(buf_.data(), end);
        while (!headers.empty()) {
          size_t eol = headers.find("\r\n");
          std::string_view line = headers.substr(0, eol);
          headers = eol == std::string_view::npos ? std::string_view() : headers.substr(eol + 2);
          size_t colon = line.find(':');
          if (colon == std::string_view::npos) continue;
          std::string h = lower(trim(line.substr(0, colon)));
          std::string_view value = trim(line.substr(colon + 1));
          if (h == "content-disposition") name = header_param(value, "name");
          else if (h == "content-type") content_type = std::string(value);
        }
        buf_.erase(0, skip);
        if (Status s = events.begin_part(name, content_type); !s.ok()) return s;
        state_ = State::Body;
        break;
      }
      case State::Body: {
        size_t p = buf_.find(body_delimiter_);
        if (p == std::string::npos) {
          // All but what could be the start of the delimiter is this part's.
          if (buf_.size() >= body_delimiter_.size()) {
            size_t n = buf_.size() - body_delimiter_.size() + 1;
            if (Status s = events.part_data(std::string_view(buf_.data(), n)); !s.ok()) return s;
            buf_.erase(0, n);
          }
          return Status::Ok();
        }
        if (p > 0) {
          if (Status s = events.part_data(std::string_view(buf_.data(), p)); !s.ok()) return s;
        }
        buf_.erase(0, p + body_delimiter_.size());
        ++parts_;
        if (Status s = events.end_part(); !s.ok()) return s;
        state_ = State::AfterDelimiter;
        break;
      }
      case State::Epilogue:
        buf_.clear();
        return Status::Ok();
    }
  }
}

Status MultipartParser::finish() const {
  const std::string part = "multipart body: part " + std::to_string(parts_);
  switch (state_) {
    case State::Epilogue: return Status::Ok();
    case State::Preamble: return Status::InvalidArgument("multipart body: no part delimiter found");
    case State::AfterDelimiter: return Status::InvalidArgument(part + ": body ends after a delimiter");
    case State::Headers: return Status::InvalidArgument(part + " has no end of headers");
    case State::Body:
      return Status::InvalidArgument(part + " is not terminated by a delimiter (body cut off?)");
  }
  return Status::Internal("multipart parser state");
}

Result<std::vector<MultipartPart>> parse_multipart_form(std::string_view content_type, std::string_view body) {
  auto boundary = MultipartParser::boundary_of(content_type);
  if (!boundary.ok()) return boundary.status();
  struct Collect final : MultipartParser::Events {
    std::vector<MultipartPart> parts;
    Status begin_part(const std::string& name, const std::string& ct) override {
      parts.push_back({name, ct, ""});
      return Status::Ok();
    }
    Status part_data(std::string_view bytes) override {
      parts.back().body.append(bytes);
      return Status::Ok();
    }
    Status end_part() override { return Status::Ok(); }
  } collect;
  MultipartParser parser(*boundary);
  if (Status s = parser.feed(body, collect); !s.ok()) return s;
  if (Status s = parser.finish(); !s.ok()) return s;
  return std::move(collect.parts);
}

}  // namespace corvus::server::handlers
