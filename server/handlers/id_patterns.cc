#include "server/handlers/id_patterns.h"

#include "storage/document.h"

namespace corvus::server::handlers {
namespace {

// Bytes of the UTF-8 character starting at s[i] ('?' stands for a character, not a byte).
size_t char_length(std::string_view s, size_t i) {
  size_t n = 1;
  while (i + n < s.size() && (static_cast<unsigned char>(s[i + n]) & 0xC0) == 0x80) ++n;
  return n;
}

// Iterative wildcard match with one backtracking point per '*' (linear in
// practice, never exponential).
bool wildcard_match(std::string_view pattern, std::string_view text) {
  size_t p = 0, t = 0;
  size_t star = std::string_view::npos, star_t = 0;
  while (t < text.size()) {
    if (p < pattern.size() && pattern[p] == '*') {
      star = p++;
      star_t = t;
    } else if (p < pattern.size() && pattern[p] == '?') {
      ++p;
      t += char_length(text, t);
    } else if (p < pattern.size() && pattern[p] == text[t]) {
      ++p;
      ++t;
    } else if (star != std::string_view::npos) {
      p = star + 1;
      star_t += char_length(text, star_t);
      t = star_t;
    } else {
      return false;
    }
  }
  while (p < pattern.size() && pattern[p] == '*') ++p;
  return p == pattern.size();
}

}  // namespace

IdPatterns IdPatterns::parse(std::string_view text) {
  IdPatterns out;
  while (!text.empty()) {
    const size_t bar = text.find('|');
    std::string_view one = text.substr(0, bar);
    if (!one.empty()) out.patterns_.push_back(storage::lower_id(one));
    if (bar == std::string_view::npos) break;
    text.remove_prefix(bar + 1);
  }
  return out;
}

bool IdPatterns::any_matches(std::string_view rest) const {
  const std::string lowered = storage::lower_id(rest);
  for (const auto& p : patterns_)
    if (wildcard_match(p, lowered)) return true;
  return false;
}

}  // namespace corvus::server::handlers
