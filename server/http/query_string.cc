#include "server/http/query_string.h"

namespace corvus::server::http {
namespace {

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

void percent_decode(std::string_view in, std::string& out, bool plus_is_space) {
  out.reserve(out.size() + in.size());
  for (size_t i = 0; i < in.size(); ++i) {
    char c = in[i];
    if (c == '%' && i + 2 < in.size()) {
      int hi = hex_value(in[i + 1]);
      int lo = hex_value(in[i + 2]);
      if (hi >= 0 && lo >= 0) {
        out.push_back(static_cast<char>(hi * 16 + lo));
        i += 2;
        continue;
      }
      out.push_back(c);
    } else if (c == '+' && plus_is_space) {
      out.push_back(' ');
    } else {
      out.push_back(c);
    }
  }
}

QueryString QueryString::parse(std::string_view raw_query) {
  QueryString q;
  q.assign(raw_query);
  return q;
}

void QueryString::assign(std::string_view raw) {
  params_.clear();
  if (!raw.empty() && raw.front() == '?') raw.remove_prefix(1);
  while (!raw.empty()) {
    size_t amp = raw.find('&');
    std::string_view part = raw.substr(0, amp);
    raw = amp == std::string_view::npos ? std::string_view() : raw.substr(amp + 1);
    if (part.empty()) continue;  // "?&id=x" or "a=1&&b=2"
    size_t eq = part.find('=');
    std::string_view key = part.substr(0, eq);
    std::string_view value = eq == std::string_view::npos ? std::string_view() : part.substr(eq + 1);
    auto& [k, v] = params_.emplace_back();
    percent_decode(key, k, true);
    percent_decode(value, v, true);
  }
}

const std::string* QueryString::find(std::string_view key) const {
  for (const auto& [k, v] : params_) {
    if (k == key) return &v;
  }
  return nullptr;
}

std::optional<std::string> QueryString::get(std::string_view key) const {
  if (const std::string* v = find(key)) return *v;
  return std::nullopt;
}

std::vector<std::string> QueryString::get_all(std::string_view key) const {
  std::vector<std::string> out;
  for (const auto& [k, v] : params_) {
    if (k == key) out.push_back(v);
  }
  return out;
}

bool QueryString::has(std::string_view key) const { return find(key) != nullptr; }

}  // namespace corvus::server::http
